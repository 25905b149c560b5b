import { createHash, type Hash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  constants as fsConstants,
  futimesSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { formatInfo, formatMaildirName, maildirBaseName } from '../../../converters/maildir/filename.js';
import { formatDovecotKeywords, isValidKeyword, KeywordAllocator, parseDovecotKeywords } from '../../../converters/maildir/keywords.js';
import { formatUidlist, parseUidlist, type Uidlist, type UidlistRecord } from '../../../converters/maildir/uidlist.js';
import { formatSubscriptionsV2, parseSubscriptions } from '../../../converters/folders/subscriptions.js';
import { mailboxPathToMaildirpp, maildirppToMailboxPath } from '../../../converters/folders/maildirpp.js';
import { MailshiftError, systemErrorCode } from '../../core/errors.js';
import type { MailboxPath, SystemFlag } from '../../core/types.js';
import { flushFilesystem } from '../../transport/flush.js';

/**
 * Writes messages into a Maildir++ tree, safely:
 * - every message is written under tmp/ and renamed into new/ or cur/ only when complete, so a crash never leaves a
 *   half message where a client would see it;
 * - base names are derived from the content by the caller (deterministic), and a message whose base name is already
 *   in new/ or cur/ (with any flags) is not placed again: a re-run or a run resumed after kill -9 adds nothing twice;
 * - nothing that exists is overwritten: dovecot-uidlist, dovecot-keywords and subscriptions are merged;
 * - no fsync per message: finishing a folder flushes the filesystem once (syncfs) before it is reported done;
 * - a directory in the target that is a symlink is refused, never written through.
 * With `dryRun` nothing is created or written; drafts only count and hash.
 *
 * The API is synchronous on purpose: the mbox framer calls back synchronously, and for many small files sync
 * syscalls are faster than round trips through libuv's thread pool.
 */

const tmpPrefix = 'mailshift-tmp.';
const fileMode = 0o600;
const dirMode = 0o700;

export interface UidSource {
  readonly uidValidity: number;
  /** The source's next UID (X-IMAPbase last UID + 1). */
  readonly nextUid: number;
}

export interface PlaceRequest {
  readonly base: string;
  readonly flags: ReadonlySet<SystemFlag>;
  readonly keywords: ReadonlySet<string>;
  readonly passed: boolean;
  /** new/ (never seen by a client) or cur/. */
  readonly isNew: boolean;
  readonly mtime: Date;
  readonly uid?: number;
  readonly uidSource?: UidSource;
}

export type PlaceResult =
  | { readonly status: 'written'; readonly path: string; readonly droppedKeywords: string[] }
  | { readonly status: 'exists' };

/**
 * What happened to UIDs in a folder this run: 'kept' (the source's UIDs and UIDVALIDITY were kept), 'new' (the
 * source had none; added messages got UIDs in source order), 'renumbered' (some source UIDs could not be kept, see the
 * note), 'unchanged' (nothing added).
 */
export type UidOutcome = 'kept' | 'new' | 'renumbered' | 'unchanged';

export interface FolderDone {
  readonly mailbox: MailboxPath;
  readonly directory: string;
  readonly uidValidity: number | undefined;
  readonly uids: UidOutcome;
  readonly note?: string;
}

export class MaildirTarget {
  private readonly folders = new Map<MailboxPath, MaildirFolder>();
  private draftCounter = 0;

  private constructor(
    readonly root: string,
    readonly isDryRun: boolean,
  ) {}

  static open(root: string, options: { dryRun: boolean }): MaildirTarget {
    const target = new MaildirTarget(path.resolve(root), options.dryRun);
    if (!options.dryRun) {
      mkdirSync(path.dirname(target.root), { recursive: true });
      for (const sub of ['', 'cur', 'new', 'tmp']) ensureRealDirectory(path.join(target.root, sub));
      removeStaleTmpFiles(path.join(target.root, 'tmp'));
    }
    return target;
  }

  /** Opens (creating when missing) a folder; cached for the life of the target. */
  folder(mailbox: MailboxPath): MaildirFolder {
    let folder = this.folders.get(mailbox);
    if (!folder) {
      folder = MaildirFolder.open(this.root, mailbox, this.isDryRun);
      this.folders.set(mailbox, folder);
    }
    return folder;
  }

  /** Starts a message under the root's tmp/. Write its bytes, then place it into folders, then `close` it. */
  beginDraft(): MessageDraft {
    this.draftCounter += 1;
    return new MessageDraft(this.isDryRun ? undefined : path.join(this.root, 'tmp', `${tmpPrefix}${process.pid}.${this.draftCounter}`));
  }

  async finishFolder(mailbox: MailboxPath): Promise<FolderDone | undefined> {
    const folder = this.folders.get(mailbox);
    if (!folder) return undefined;
    this.folders.delete(mailbox);
    return folder.finish();
  }

  openFolders(): MailboxPath[] {
    return [...this.folders.keys()];
  }

  /** Adds names to the root's `subscriptions` (never removes any). Returns how many were new. */
  subscribe(paths: Iterable<MailboxPath>): number {
    const file = path.join(this.root, 'subscriptions');
    const existing = readOptional(file);
    const current = new Set(parseSubscriptions(existing));
    const before = current.size;
    // Subscribe the name the server will show, which is what the folder's directory decodes to.
    for (const name of paths) if (name !== 'INBOX') current.add(maildirppToMailboxPath(mailboxPathToMaildirpp(name)));
    const added = current.size - before;
    if (added > 0 && !this.isDryRun) writeAtomically(file, formatSubscriptionsV2(current));
    return added;
  }
}

export class MaildirFolder {
  private readonly existingBases = new Set<string>();
  private readonly keywords: KeywordAllocator;
  private uidlist: { uidValidity: number; nextUid: number; headerFields: Map<string, string>; records: Map<string, UidlistRecord> } | undefined;
  /** UIDs at or above this may come from the source; below it, the folder may already have been served to clients. */
  private readonly sourceUidFloor: number;
  private readonly usedUids = new Set<number>();
  private uidlistChanged = false;
  private readonly uidCounts = { kept: 0, new: 0, renumbered: 0 };
  private uidNote: string | undefined;
  private wroteAnything = false;

  private constructor(
    readonly mailbox: MailboxPath,
    readonly dir: string,
    private readonly isDryRun: boolean,
    keywordTable: Map<number, string>,
    uidlist: Uidlist | undefined,
  ) {
    this.keywords = new KeywordAllocator(keywordTable);
    if (uidlist) {
      this.uidlist = {
        uidValidity: uidlist.uidValidity,
        nextUid: uidlist.nextUid,
        headerFields: new Map(uidlist.headerFields),
        records: new Map(uidlist.records.map((record) => [maildirBaseName(record.fileName), record])),
      };
      for (const record of uidlist.records) this.usedUids.add(record.uid);
    }
    this.sourceUidFloor = uidlist?.nextUid ?? 1;
  }

  static open(root: string, mailbox: MailboxPath, isDryRun: boolean): MaildirFolder {
    const dirName = mailboxPathToMaildirpp(mailbox);
    const dir = dirName === '' ? root : path.join(root, dirName);
    // mailboxPathToMaildirpp never yields '/' or '..'; this guards the invariant where it matters.
    if (dir !== root && path.dirname(dir) !== root) {
      throw new MailshiftError('MAILSHIFT_UNSAFE_FOLDER', `folder ${mailbox} would be written outside the target`, { scope: 'mailbox' });
    }
    if (!isDryRun) {
      for (const sub of ['', 'cur', 'new', 'tmp']) ensureRealDirectory(path.join(dir, sub));
      if (dir !== root) {
        // Maildir++ marks every subfolder with an empty maildirfolder file.
        writeFileSync(path.join(dir, 'maildirfolder'), '', { flag: 'a', mode: fileMode });
        removeStaleTmpFiles(path.join(dir, 'tmp'));
      }
    }
    let uidlist: Uidlist | undefined;
    const uidlistText = readOptional(path.join(dir, 'dovecot-uidlist'));
    if (uidlistText.trim() !== '') {
      try {
        uidlist = parseUidlist(uidlistText);
      } catch (err) {
        throw new MailshiftError('MAILSHIFT_TARGET_UIDLIST', `${path.join(dir, 'dovecot-uidlist')}: ${(err as Error).message}`, {
          scope: 'mailbox',
          hint: 'the target folder has a dovecot-uidlist we cannot read, and we never overwrite one; move it aside or convert into an empty target',
        });
      }
    }
    const folder = new MaildirFolder(mailbox, dir, isDryRun, parseDovecotKeywords(readOptional(path.join(dir, 'dovecot-keywords'))), uidlist);
    for (const sub of ['new', 'cur']) {
      for (const name of readdirOptional(path.join(dir, sub))) if (!name.startsWith('.')) folder.existingBases.add(maildirBaseName(name));
    }
    return folder;
  }

  has(base: string): boolean {
    return this.existingBases.has(base);
  }

  /**
   * Places a finished draft here (renaming it out of tmp/), or, when `linkFrom` is given, a hard link to (or copy of)
   * a file already placed in another folder of the same tree. Never overwrites: a present base name is 'exists'.
   */
  place(request: PlaceRequest, source: { draft: MessageDraft } | { linkFrom: string }): PlaceResult {
    if (this.existingBases.has(request.base)) {
      this.recordUid(request.base, undefined, request);
      return { status: 'exists' };
    }
    const droppedKeywords: string[] = [];
    const keywordIndexes: number[] = [];
    for (const keyword of request.keywords) {
      const index = isValidKeyword(keyword) ? this.keywords.indexOf(keyword) : undefined;
      if (index === undefined) droppedKeywords.push(keyword);
      else keywordIndexes.push(index);
    }
    const hasInfo = !request.isNew || request.flags.size > 0 || keywordIndexes.length > 0 || request.passed;
    const fileName = formatMaildirName(request.base, hasInfo ? formatInfo(request.flags, keywordIndexes, { passed: request.passed }) : undefined);
    const finalPath = path.join(this.dir, hasInfo ? 'cur' : 'new', fileName);
    if (!this.isDryRun) {
      if ('draft' in source) source.draft.moveTo(finalPath, request.mtime);
      else placeLink(source.linkFrom, path.join(this.dir, 'tmp', `${tmpPrefix}${process.pid}.link`), finalPath, request.mtime);
    }
    this.existingBases.add(request.base);
    this.wroteAnything = true;
    this.recordUid(request.base, fileName, request);
    return { status: 'written', path: finalPath, droppedKeywords };
  }

  private recordUid(base: string, fileName: string | undefined, request: PlaceRequest): void {
    if (!this.uidlist) {
      // A fresh folder adopts the source's UIDVALIDITY when it has one, else a new one (as Dovecot would: the time).
      const source = request.uidSource;
      this.uidlist = {
        uidValidity: source?.uidValidity ?? Math.floor(Date.now() / 1000),
        nextUid: source?.nextUid ?? 1,
        headerFields: new Map(),
        records: new Map(),
      };
      this.uidlistChanged = true;
    }
    const list = this.uidlist;
    if (list.records.has(base)) return;
    const sourceUid = request.uid;
    const canUseSourceUid =
      sourceUid !== undefined &&
      request.uidSource?.uidValidity === list.uidValidity &&
      sourceUid >= this.sourceUidFloor &&
      !this.usedUids.has(sourceUid);
    let uid: number;
    if (canUseSourceUid) {
      uid = sourceUid;
      this.uidCounts.kept += 1;
    } else {
      // A message without a source UID (delivered after the last IMAP session) gets the next one, as Dovecot
      // would give it: every UID a client may have cached stays valid. Anything else is a UID we could not keep.
      if (sourceUid === undefined && (!request.uidSource || request.uidSource.uidValidity === list.uidValidity)) {
        this.uidCounts.new += 1;
      } else {
        this.uidCounts.renumbered += 1;
        this.uidNote ??=
          request.uidSource && request.uidSource.uidValidity !== list.uidValidity
            ? `the target folder already has UIDVALIDITY ${list.uidValidity}; added messages got new UIDs`
            : "some source UIDs were duplicated or below the folder's next UID; those messages got new UIDs";
      }
      while (this.usedUids.has(list.nextUid)) list.nextUid += 1;
      uid = list.nextUid;
    }
    this.usedUids.add(uid);
    if (uid >= list.nextUid) list.nextUid = uid + 1;
    list.records.set(base, { uid, fields: new Map(), fileName: fileName ?? base });
    this.uidlistChanged = true;
  }

  /** Writes dovecot-uidlist and dovecot-keywords atomically, then flushes everything written to disk. */
  async finish(): Promise<FolderDone> {
    if (!this.isDryRun) {
      if (this.keywords.hasChanged) writeAtomically(path.join(this.dir, 'dovecot-keywords'), formatDovecotKeywords(this.keywords.table()));
      if (this.uidlist && this.uidlistChanged) {
        writeAtomically(
          path.join(this.dir, 'dovecot-uidlist'),
          formatUidlist({
            uidValidity: this.uidlist.uidValidity,
            nextUid: this.uidlist.nextUid,
            headerFields: this.uidlist.headerFields,
            records: [...this.uidlist.records.values()],
          }),
        );
      }
      if (this.wroteAnything || this.uidlistChanged) await flushFilesystem(this.dir);
    }
    const counts = this.uidCounts;
    const uids: UidOutcome = counts.renumbered > 0 ? 'renumbered' : counts.kept > 0 ? 'kept' : counts.new > 0 ? 'new' : 'unchanged';
    return {
      mailbox: this.mailbox,
      directory: this.dir,
      uidValidity: this.uidlist?.uidValidity,
      uids,
      ...(this.uidNote ? { note: this.uidNote } : {}),
    };
  }
}

/** One message being written under tmp/. Bytes go straight to disk: memory does not grow with message size. */
export class MessageDraft {
  private fd: number | undefined;
  private readonly hash: Hash = createHash('sha256');
  private sizeBytes = 0;
  private lineFeeds = 0;
  private crlfs = 0;
  private lastByte = -1;

  constructor(private readonly tmpPath: string | undefined) {
    if (tmpPath) this.fd = openSync(tmpPath, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, fileMode);
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.fd !== undefined) {
      let offset = 0;
      while (offset < chunk.length) offset += writeSync(this.fd, chunk, offset);
    }
    this.hash.update(chunk);
    this.sizeBytes += chunk.length;
    let at = chunk.indexOf(0x0a);
    while (at >= 0) {
      this.lineFeeds += 1;
      if ((at > 0 ? chunk[at - 1] : this.lastByte) === 0x0d) this.crlfs += 1;
      at = chunk.indexOf(0x0a, at + 1);
    }
    this.lastByte = chunk[chunk.length - 1]!;
  }

  get size(): number {
    return this.sizeBytes;
  }

  /** RFC822.SIZE: the size with every bare LF counted as CRLF (Dovecot's W= field). */
  get virtualSize(): number {
    return this.sizeBytes + this.lineFeeds - this.crlfs;
  }

  contentHashHex(): string {
    return this.hash.copy().digest('hex');
  }

  /** @internal Sets the received time and renames the file to its final place. */
  moveTo(finalPath: string, mtime: Date): void {
    if (this.fd === undefined || !this.tmpPath) throw new Error('message draft is not open');
    futimesSync(this.fd, mtime, mtime);
    closeSync(this.fd);
    this.fd = undefined;
    renameSync(this.tmpPath, finalPath);
  }

  /** Closes and removes whatever was not placed. Safe to call twice. */
  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
      try {
        unlinkSync(this.tmpPath!);
      } catch {
        // already gone
      }
    }
  }
}

function placeLink(existing: string, tmpPath: string, finalPath: string, mtime: Date): void {
  try {
    linkSync(existing, tmpPath);
  } catch (err) {
    // Other filesystem, or hard links not allowed: a copy, through tmp/ like any other write.
    if (!['EXDEV', 'EPERM', 'EMLINK'].includes(systemErrorCode(err) ?? '')) throw err;
    copyFileSync(existing, tmpPath, fsConstants.COPYFILE_EXCL);
    utimesSync(tmpPath, mtime, mtime);
  }
  renameSync(tmpPath, finalPath);
}

/** Creates a directory if missing and refuses one that is a symlink: a planted link must not redirect our writes. */
function ensureRealDirectory(dir: string): void {
  try {
    const stat = lstatSync(dir);
    if (stat.isDirectory()) return;
    throw new MailshiftError('MAILSHIFT_UNSAFE_TARGET', `${dir} exists and is not a directory${stat.isSymbolicLink() ? ' (it is a symbolic link)' : ''}`, {
      scope: 'mailbox',
      hint: 'mailshift never writes through links in the target; remove or rename it and run again',
    });
  } catch (err) {
    if (systemErrorCode(err) !== 'ENOENT') throw err;
  }
  mkdirSync(dir, { mode: dirMode });
}

function readOptional(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT' || systemErrorCode(err) === 'ENOTDIR') return '';
    throw err;
  }
}

function readdirOptional(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${tmpPrefix}${process.pid}`;
  writeFileSync(tmp, text, { mode: fileMode });
  renameSync(tmp, file);
}

/** Removes tmp files left by an earlier mailshift run that died (their process is gone). */
function removeStaleTmpFiles(tmpDir: string): void {
  for (const name of readdirOptional(tmpDir)) {
    if (!name.startsWith(tmpPrefix)) continue;
    const pid = Number(name.slice(tmpPrefix.length).split('.')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && isProcessAlive(pid)) continue;
    try {
      unlinkSync(path.join(tmpDir, name));
    } catch {
      // raced with another cleaner
    }
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return systemErrorCode(err) === 'EPERM';
  }
}
