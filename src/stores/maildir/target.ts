import { createHash, hash as cryptoHash, type Hash } from 'node:crypto'; // hash(): one-shot, cheaper per small message
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { decodeInfo, formatInfo, formatMaildirName, maildirBaseName, parseMaildirName, passedKeyword } from '../../../converters/maildir/filename.js';
import { formatDovecotKeywords, isValidKeyword, KeywordAllocator, parseDovecotKeywords } from '../../../converters/maildir/keywords.js';
import { formatUidlistHeader, formatUidlistRecord, parseUidlist, type Uidlist, type UidlistRecord } from '../../../converters/maildir/uidlist.js';
import { formatSubscriptionsV2, parseSubscriptions } from '../../../converters/folders/subscriptions.js';
import { mailboxPathToMaildirpp, maildirppToMailboxPath } from '../../../converters/folders/maildirpp.js';
import { MailshiftError, systemErrorCode } from '../../core/errors.js';
import type { MailboxPath, SystemFlag } from '../../core/types.js';
import { flushFilesystem } from '../../transport/flush.js';
import { WriteQueue } from './write-queue.js';

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
  /** Files or bookkeeping were written to disk (what a flush has to cover; never in a dry run). */
  readonly wroteAnything: boolean;
  readonly uidValidity: number | undefined;
  readonly uids: UidOutcome;
  readonly note?: string;
}

export class MaildirTarget {
  private readonly folders = new Map<MailboxPath, MaildirFolder>();
  /** Folders whose finish (finishFolder) has started and not yet ended. */
  private readonly finishing = new Map<MailboxPath, MaildirFolder>();
  /** Directories of folders finished with `flush: 'later'`, not yet flushed. */
  private readonly unflushed = new Set<string>();
  private draftCounter = 0;
  private draftPathPrefix: string | undefined;
  /** Creates message files off the main thread; absent in a dry run. */
  private readonly queue: WriteQueue | undefined;

  private constructor(
    readonly root: string,
    readonly isDryRun: boolean,
  ) {
    this.queue = isDryRun ? undefined : new WriteQueue();
  }

  static open(root: string, options: { dryRun: boolean }): MaildirTarget {
    // The root the user named is trusted, like the source's (~/Maildir may well be a link to another disk): it is
    // resolved once. Links inside the tree are what is never written through.
    const target = new MaildirTarget(resolveExisting(path.resolve(root)), options.dryRun);
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
      // A folder still finishing is taken back as it is, not opened a second time: a second instance would read
      // the uidlist before the first wrote it and hand out its UIDs again. Its pending finish then does nothing.
      folder = this.finishing.get(mailbox);
      if (folder) {
        this.finishing.delete(mailbox);
        folder.reopen();
      } else {
        folder = MaildirFolder.open(this.root, mailbox, this.isDryRun, this.queue);
      }
      this.folders.set(mailbox, folder);
    }
    return folder;
  }

  /** Waits for every queued file and stops the writer thread. Call once, after the last folder is finished. */
  async close(): Promise<void> {
    await this.queue?.close();
  }

  /**
   * Starts a message under the root's tmp/. Write its bytes, then place it into folders, then `close` it.
   * `isHashed: false` when the caller names the message from something other than its content (a source's UID):
   * then no hash is computed at all. `hashOnWriter`: the writer thread hashes the message (see MessageDraft.seal).
   */
  beginDraft(options: { isHashed?: boolean; hashOnWriter?: boolean } = {}): MessageDraft {
    this.draftCounter += 1;
    // Concatenated, not path.join'ed: this runs per message, and join's normalising was a tenth of convert's garbage.
    this.draftPathPrefix ??= `${path.join(this.root, 'tmp', tmpPrefix)}${process.pid}.`;
    const tmpPath = `${this.draftPathPrefix}${this.draftCounter}`;
    const isHashed = options.isHashed ?? true;
    return new MessageDraft(this.queue ? { queue: this.queue, tmpPath } : undefined, isHashed, isHashed && options.hashOnWriter === true && this.queue !== undefined);
  }

  /**
   * Writes a folder's bookkeeping and flushes it to disk. Other folders may be written meanwhile; undefined when the
   * folder was not open, or was taken back (folder()) before its finish was done: the later finish reports it.
   */
  async finishFolder(mailbox: MailboxPath, options: { flush?: 'now' | 'later' } = {}): Promise<FolderDone | undefined> {
    const folder = this.folders.get(mailbox);
    if (!folder) return undefined;
    this.folders.delete(mailbox);
    this.finishing.set(mailbox, folder);
    try {
      const done = await folder.finish({ flush: options.flush !== 'later' });
      if (done?.wroteAnything && options.flush === 'later') this.unflushed.add(done.directory);
      return done;
    } finally {
      if (this.finishing.get(mailbox) === folder) this.finishing.delete(mailbox);
    }
  }

  /**
   * Flushes the folders finished with `flush: 'later'`: one syncfs per filesystem instead of one per folder (a
   * process start each; for a caller that keeps no state, only what it reports has to be on disk).
   */
  async flushFinishedFolders(): Promise<void> {
    const dirByDevice = new Map<number, string>();
    for (const dir of this.unflushed) dirByDevice.set(statSync(dir).dev, dir);
    this.unflushed.clear();
    await Promise.all([...dirByDevice.values()].map((dir) => flushFilesystem(dir)));
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
  /**
   * Base names of the messages in new/ and cur/ ("already there"), each with its UID (0 while it has none).
   * Per-message state is the largest thing a conversion keeps, so it is one Map entry and one string per message.
   */
  private readonly onDisk = new Map<string, number>();
  /** Base names the existing uidlist lists although no file has them (expunged): they keep their UID. */
  private readonly listedOnly = new Map<string, number>();
  private readonly usedUids = new UidSet();
  /** Records added this run, as parallel arrays (a record object each would cost more than the message's base). */
  private readonly addedBases: string[] = [];
  private readonly addedUids: number[] = [];
  private readonly keywords: KeywordAllocator;
  private readonly existing: Uidlist | undefined;
  private uidValidity: number | undefined;
  private nextUid = 1;
  /** UIDs at or above this may come from the source; below it, the folder may already have been served to clients. */
  private readonly sourceUidFloor: number;
  private readonly uidCounts = { kept: 0, new: 0, renumbered: 0 };
  private uidNote: string | undefined;
  private wroteAnything = false;
  /** Records (of addedBases) already in dovecot-uidlist by a checkpoint. */
  private recordedUpTo = 0;
  private linkCounter = 0;
  /** Counts reopen(): a finish that sees it change was overtaken. */
  private openings = 0;
  /** Keyword letters already in dovecot-keywords on disk. */
  private keywordsOnDisk: number;
  /** `DIR/cur/` and `DIR/new/`: file names are appended per message, without path.join. */
  private readonly curPrefix: string;
  private readonly newPrefix: string;

  private constructor(
    readonly mailbox: MailboxPath,
    readonly dir: string,
    private readonly queue: WriteQueue | undefined,
    keywordTable: Map<number, string>,
    uidlist: Uidlist | undefined,
    namesOnDisk: Iterable<string>,
  ) {
    this.keywords = new KeywordAllocator(keywordTable);
    this.keywordsOnDisk = keywordTable.size;
    this.curPrefix = path.join(dir, 'cur') + path.sep;
    this.newPrefix = path.join(dir, 'new') + path.sep;
    this.existing = uidlist;
    for (const name of namesOnDisk) this.onDisk.set(maildirBaseName(name), 0);
    if (uidlist) {
      this.uidValidity = uidlist.uidValidity;
      this.nextUid = uidlist.nextUid;
      for (const record of uidlist.records) {
        const base = maildirBaseName(record.fileName);
        if (this.onDisk.has(base)) this.onDisk.set(base, record.uid);
        else this.listedOnly.set(base, record.uid);
        this.usedUids.add(record.uid);
      }
    }
    this.sourceUidFloor = uidlist?.nextUid ?? 1;
  }

  static open(root: string, mailbox: MailboxPath, isDryRun: boolean, queue: WriteQueue | undefined): MaildirFolder {
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
    const names: string[] = [];
    for (const sub of ['new', 'cur']) for (const name of readdirOptional(path.join(dir, sub))) if (!name.startsWith('.')) names.push(name);
    return new MaildirFolder(mailbox, dir, queue, parseDovecotKeywords(readOptional(path.join(dir, 'dovecot-keywords'))), uidlist, names);
  }

  has(base: string): boolean {
    return this.onDisk.has(base);
  }

  /**
   * Places a finished draft here (renaming it out of tmp/), or, when `linkFrom` is given, a hard link to (or copy of)
   * a file already placed in another folder of the same tree. Never overwrites: a present base name is 'exists'.
   */
  place(request: PlaceRequest, source: { draft: MessageDraft } | { linkFrom: string }): PlaceResult {
    if (this.onDisk.has(request.base)) {
      if (this.onDisk.get(request.base) === 0 && !this.listedOnly.has(request.base)) this.onDisk.set(request.base, this.assignUid(request));
      return { status: 'exists' };
    }
    const { keywordIndexes, droppedKeywords } = this.allocateKeywords(request.keywords);
    const hasInfo = !request.isNew || request.flags.size > 0 || keywordIndexes.length > 0 || request.passed;
    const fileName = formatMaildirName(request.base, hasInfo ? formatInfo(request.flags, keywordIndexes, { passed: request.passed }) : undefined);
    const finalPath = `${hasInfo ? this.curPrefix : this.newPrefix}${fileName}`;
    if (this.queue) {
      if ('draft' in source) {
        source.draft.moveTo(finalPath, request.mtime);
      } else {
        this.linkCounter += 1;
        const tmpPath = path.join(this.dir, 'tmp', `${tmpPrefix}${process.pid}.link${this.linkCounter}`);
        this.queue.enqueue({ kind: 'link', existingPath: source.linkFrom, tmpPath, finalPath, mtimeMs: request.mtime.getTime() });
      }
    }
    // A base the uidlist still lists (expunged, now back) keeps its old record; Dovecot treats it as an unexpunge.
    this.onDisk.set(request.base, this.listedOnly.get(request.base) ?? this.assignUid(request));
    this.listedOnly.delete(request.base);
    this.wroteAnything = true;
    return { status: 'written', path: finalPath, droppedKeywords };
  }

  /**
   * A message already in this folder (by base name) that has no UID yet, neither in dovecot-uidlist nor from this
   * run, gets one as place() would give it: the source's when it can be kept. For a file an earlier run wrote and
   * was killed before recording (the uidlist is written when a folder is finished). False when the base is not here
   * or already has a UID.
   */
  adoptUid(base: string, uid: number, uidSource: UidSource): boolean {
    if (this.onDisk.get(base) !== 0 || this.listedOnly.has(base)) return false;
    this.onDisk.set(base, this.assignUid({ base, uid, uidSource }));
    return true;
  }

  /**
   * Keyword letters for these names (allocating free ones), written to dovecot-keywords before any file is named with
   * a new letter: a run killed before the folder is finished must not leave names whose letters the next run would
   * give to other keywords. Names that are no valid keyword, or fit no free letter, are returned as dropped.
   */
  private allocateKeywords(keywords: Iterable<string>): { keywordIndexes: number[]; droppedKeywords: string[] } {
    const droppedKeywords: string[] = [];
    const keywordIndexes: number[] = [];
    for (const keyword of keywords) {
      const index = isValidKeyword(keyword) ? this.keywords.indexOf(keyword) : undefined;
      if (index === undefined) droppedKeywords.push(keyword);
      else keywordIndexes.push(index);
    }
    if (this.queue && this.keywords.table().size > this.keywordsOnDisk) {
      writeAtomically(path.join(this.dir, 'dovecot-keywords'), formatDovecotKeywords(this.keywords.table()));
      this.keywordsOnDisk = this.keywords.table().size;
    }
    return { keywordIndexes, droppedKeywords };
  }

  /** The keyword names the letters of a file name in this folder stand for (dovecot-keywords as this run sees it). */
  keywordTable(): ReadonlyMap<number, string> {
    return this.keywords.table();
  }

  /**
   * Renames a message file of this folder so its name carries these flags and keywords (one atomic rename: never a
   * copy, never over an existing file). Letters we do not know and fields after a further ',' are kept. A file in
   * new/ that is to carry no flags stays there. 'gone' when the file was renamed or removed meanwhile (a client read
   * it), 'exists' when the new name is taken; both leave everything as it is.
   */
  renameForFlags(sub: 'new' | 'cur', fileName: string, flags: ReadonlySet<SystemFlag>, keywords: ReadonlySet<string>): 'renamed' | 'unchanged' | 'gone' | 'exists' {
    if (!this.queue) throw new Error('renameForFlags needs a folder opened for writing');
    const { base, info: oldInfo } = parseMaildirName(fileName);
    if (oldInfo === undefined && fileName.includes(':')) return 'unchanged'; // not ':2,' (experimental ':1,'): not ours to rewrite
    const fields = (oldInfo ?? '').split(',');
    const unknownLetters = decodeInfo(fields[0]).unknown;
    // $Forwarded both ways, as place() writes it: the P letter and a keyword letter.
    const { keywordIndexes } = this.allocateKeywords(keywords);
    const letters = [...`${formatInfo(flags, keywordIndexes, { passed: keywords.has(passedKeyword) })}${unknownLetters}`].sort().join('');
    const info = [letters, ...fields.slice(1)].join(',');
    if (sub === 'new' && info === '') return 'unchanged';
    const newName = formatMaildirName(base, info);
    if (sub === 'cur' && newName === fileName) return 'unchanged';
    const from = `${sub === 'cur' ? this.curPrefix : this.newPrefix}${fileName}`;
    const to = `${this.curPrefix}${newName}`;
    try {
      lstatSync(to);
      return 'exists';
    } catch (err) {
      if (systemErrorCode(err) !== 'ENOENT') throw err;
    }
    try {
      renameSync(from, to);
    } catch (err) {
      if (systemErrorCode(err) === 'ENOENT') return 'gone';
      throw err;
    }
    this.wroteAnything = true;
    return 'renamed';
  }

  /** Gives a message its UID (the source's when it can be kept) and records it for the uidlist. */
  private assignUid(request: Pick<PlaceRequest, 'base' | 'uid' | 'uidSource'>): number {
    if (this.uidValidity === undefined) {
      // A fresh folder adopts the source's UIDVALIDITY when it has one, else a new one (as Dovecot would: the time).
      this.uidValidity = request.uidSource?.uidValidity ?? Math.floor(Date.now() / 1000);
      this.nextUid = request.uidSource?.nextUid ?? 1;
    }
    const sourceUid = request.uid;
    const canUseSourceUid =
      sourceUid !== undefined &&
      request.uidSource?.uidValidity === this.uidValidity &&
      sourceUid >= this.sourceUidFloor &&
      !this.usedUids.has(sourceUid);
    let uid: number;
    if (canUseSourceUid) {
      uid = sourceUid;
      this.uidCounts.kept += 1;
    } else {
      // A message without a source UID (delivered after the last IMAP session) gets the next one, as Dovecot
      // would give it: every UID a client may have cached stays valid. Anything else is a UID we could not keep.
      if (sourceUid === undefined && (!request.uidSource || request.uidSource.uidValidity === this.uidValidity)) {
        this.uidCounts.new += 1;
      } else {
        this.uidCounts.renumbered += 1;
        this.uidNote ??=
          request.uidSource && request.uidSource.uidValidity !== this.uidValidity
            ? `the target folder already has UIDVALIDITY ${this.uidValidity}; added messages got new UIDs`
            : "some source UIDs were duplicated or below the folder's next UID; those messages got new UIDs";
      }
      while (this.usedUids.has(this.nextUid)) this.nextUid += 1;
      uid = this.nextUid;
    }
    this.usedUids.add(uid);
    if (uid >= this.nextUid) this.nextUid = uid + 1;
    this.addedBases.push(request.base);
    this.addedUids.push(uid);
    return uid;
  }

  /**
   * Everything placed so far is in new/ or cur/ and in dovecot-uidlist (with its UID), so a caller may record it as
   * done: a kill -9 after this loses none of it, nor its UIDs. Not flushed to the disk (finish does that once); the
   * page cache outlives a killed process. Records queued while this waits are left to the next call or to finish.
   */
  async checkpoint(): Promise<void> {
    if (!this.queue) return;
    const upTo = this.addedBases.length;
    // Files are created in queue order: once the queue has drained past the last one named, all are in place.
    await this.queue.drain();
    if (upTo <= this.recordedUpTo || this.uidValidity === undefined) return;
    writeUidlistStreaming(
      path.join(this.dir, 'dovecot-uidlist'),
      { uidValidity: this.uidValidity, nextUid: this.nextUid, headerFields: this.existing?.headerFields ?? new Map() },
      this.existing?.records ?? [],
      this.addedBases.slice(0, upTo),
      this.addedUids.slice(0, upTo),
    );
    this.recordedUpTo = Math.max(this.recordedUpTo, upTo);
    this.wroteAnything = true;
  }

  /** Marks the folder as in use again after its finish started: that finish leaves the bookkeeping to the next. */
  reopen(): void {
    this.openings += 1;
  }

  /**
   * Writes dovecot-uidlist atomically (dovecot-keywords is kept up to date by place), then flushes to disk.
   * Undefined when the folder was reopened meanwhile (the next finish writes everything, this one's records too).
   */
  async finish(options: { flush: boolean }): Promise<FolderDone | undefined> {
    const opening = this.openings;
    if (this.queue) {
      // Every message file must be in place before the uidlist names it and the folder is reported done.
      await this.queue.drain();
      if (this.openings !== opening) return undefined;
      if (this.addedBases.length > 0 && this.uidValidity !== undefined) {
        writeUidlistStreaming(
          path.join(this.dir, 'dovecot-uidlist'),
          { uidValidity: this.uidValidity, nextUid: this.nextUid, headerFields: this.existing?.headerFields ?? new Map() },
          this.existing?.records ?? [],
          this.addedBases,
          this.addedUids,
        );
      }
    }
    const wroteAnything = this.queue !== undefined && (this.wroteAnything || this.addedBases.length > 0);
    if (options.flush && wroteAnything) await flushFilesystem(this.dir);
    const counts = this.uidCounts;
    const uids: UidOutcome = counts.renumbered > 0 ? 'renumbered' : counts.kept > 0 ? 'kept' : counts.new > 0 ? 'new' : 'unchanged';
    return {
      mailbox: this.mailbox,
      directory: this.dir,
      wroteAnything,
      uidValidity: this.uidValidity,
      uids,
      ...(this.uidNote ? { note: this.uidNote } : {}),
    };
  }
}

/**
 * One message on its way into the tree. Bytes are gathered and handed to the writer thread: a small message as one
 * write, a large one in 256 KB pieces through a file opened under tmp/, so memory does not grow with message size.
 * Without a queue (dry run) it only counts and hashes.
 */
export class MessageDraft {
  /** Incremental hash, only for messages too large to gather (most are hashed in one call). */
  private hash: Hash | undefined;
  private sizeBytes = 0;
  private lineFeeds = 0;
  private crlfs = 0;
  private lastByte = -1;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private isOpened = false;
  private isDone = false;
  private digest: string | undefined;
  private knownVirtualSize: number | undefined;

  /** Set once the message went to the writer thread to be written and hashed there (seal). */
  private digestSeq: number | undefined;
  private isSealed = false;

  constructor(
    private readonly output: { queue: WriteQueue; tmpPath: string } | undefined,
    private readonly isHashed = true,
    /** The writer thread computes the hash (the draft must be sealed before its hash is read). */
    private readonly hashOnWriter = false,
  ) {}

  /**
   * Hands the finished message to the writer thread, which writes it under tmp/ and hashes it there, so the caller
   * can frame the next messages meanwhile. Afterwards `contentHashHex()` waits for that digest, `isHashReady()` says
   * whether it has come, and `moveTo`/`close` place or drop the file as usual.
   */
  seal(mtime: Date): void {
    const output = this.output;
    if (!output || !this.hashOnWriter || this.isSealed || this.isDone) throw new Error('this draft cannot be sealed');
    this.isSealed = true;
    this.digestSeq = output.queue.claimDigestSeq();
    if (this.isOpened) {
      if (this.pendingBytes > 0) output.queue.enqueue({ kind: 'append', tmpPath: output.tmpPath, data: output.queue.pack(this.pending, this.pendingBytes) });
      output.queue.enqueue({ kind: 'finish-hashed', tmpPath: output.tmpPath, mtimeMs: mtime.getTime(), digestSeq: this.digestSeq });
    } else {
      const data = output.queue.pack(this.pending, this.pendingBytes);
      output.queue.enqueue({ kind: 'write-hashed', tmpPath: output.tmpPath, mtimeMs: mtime.getTime(), data, digestSeq: this.digestSeq });
    }
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** False in a dry run (no writer thread): the hash is then computed on the spot. */
  get canSeal(): boolean {
    return this.hashOnWriter;
  }

  /**
   * True when sealing is the faster choice: the message is already streaming to the writer (a large one), or the
   * writer keeps up. When the writer is behind, the caller hashes it here instead (hashHere): the two threads share
   * the work rather than one waiting for the other.
   */
  shouldSeal(): boolean {
    return this.hashOnWriter && (this.isOpened || !this.output!.queue.isBehind());
  }

  /** Computes the hash on the calling thread, instead of sealing: the message is then written when it is placed. */
  hashHere(): void {
    if (!this.isHashed || this.isOpened || this.isSealed || this.isDone) throw new Error('this draft cannot be hashed here');
    // Hashed from the read buffers, not packed: a packed slab may be handed to the writer before this message is
    // placed, so the bytes are packed only in moveTo, right before the op that carries them.
    if (this.pending.length === 1) {
      this.digest = cryptoHash('sha256', this.pending[0]!, 'hex');
    } else {
      const hash = createHash('sha256');
      for (const chunk of this.pending) hash.update(chunk);
      this.digest = hash.digest('hex');
    }
  }

  /** After `seal`: true once the writer has published this message's digest (reading it will not wait). */
  isHashReady(): boolean {
    return this.digestSeq === undefined || this.output!.queue.isDigestReady(this.digestSeq);
  }

  /**
   * The whole message in one piece, when the caller already knows its RFC822.SIZE (an IMAP source counted it): no
   * pass over the lines to count them.
   */
  writeWhole(content: Buffer, virtualSizeBytes: number): void {
    if (this.sizeBytes > 0) throw new Error('writeWhole must be the only write of a draft');
    this.pending.push(content);
    this.pendingBytes = content.length;
    this.sizeBytes = content.length;
    this.knownVirtualSize = virtualSizeBytes;
    if (this.pendingBytes >= maxPendingBytes) this.streamPending();
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Holding the slices is safe: stream chunks are fresh buffers that nothing writes to again.
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= maxPendingBytes) this.streamPending();
    this.sizeBytes += chunk.length;
    let at = chunk.indexOf(0x0a);
    while (at >= 0) {
      this.lineFeeds += 1;
      if ((at > 0 ? chunk[at - 1] : this.lastByte) === 0x0d) this.crlfs += 1;
      at = chunk.indexOf(0x0a, at + 1);
    }
    this.lastByte = chunk[chunk.length - 1]!;
  }

  /** A large message: hash incrementally, open its tmp file and send what has been gathered so far. */
  private streamPending(): void {
    if (this.isHashed && !this.hashOnWriter) {
      this.hash ??= createHash('sha256');
      for (const chunk of this.pending) this.hash.update(chunk);
    }
    const output = this.output;
    if (output) {
      if (!this.isOpened) output.queue.enqueue({ kind: 'open', tmpPath: output.tmpPath, ...(this.hashOnWriter ? { isHashed: true } : {}) });
      this.isOpened = true;
      output.queue.enqueue({ kind: 'append', tmpPath: output.tmpPath, data: output.queue.pack(this.pending, this.pendingBytes) });
    }
    this.pending = [];
    this.pendingBytes = 0;
  }

  get size(): number {
    return this.sizeBytes;
  }

  /** RFC822.SIZE: the size with every bare LF counted as CRLF (Dovecot's W= field). */
  get virtualSize(): number {
    return this.knownVirtualSize ?? this.sizeBytes + this.lineFeeds - this.crlfs;
  }

  /** SHA-256 of the message bytes. Call once all bytes are written. */
  contentHashHex(): string {
    if (this.digest) return this.digest;
    if (!this.isHashed) throw new Error('this draft was started without a content hash');
    if (this.hashOnWriter) {
      if (this.digestSeq === undefined) throw new Error('seal the draft before reading a hash computed by the writer');
      this.digest = this.output!.queue.readDigestHex(this.digestSeq);
      return this.digest;
    }
    if (this.hash) {
      for (const chunk of this.pending) this.hash.update(chunk);
      this.digest = this.hash.digest('hex');
    } else {
      this.hashHere();
    }
    return this.digest!;
  }

  /** @internal Queues the file: written under tmp/, given its received time, renamed to finalPath. */
  moveTo(finalPath: string, mtime: Date): void {
    const output = this.output;
    if (!output || this.isDone) throw new Error('message draft is not open');
    if (this.isSealed) {
      this.isDone = true;
      output.queue.enqueue({ kind: 'rename', tmpPath: output.tmpPath, finalPath });
      return;
    }
    if (this.isHashed) this.contentHashHex();
    this.isDone = true;
    if (this.isOpened) {
      if (this.pendingBytes > 0) output.queue.enqueue({ kind: 'append', tmpPath: output.tmpPath, data: output.queue.pack(this.pending, this.pendingBytes) });
      output.queue.enqueue({ kind: 'finish', tmpPath: output.tmpPath, finalPath, mtimeMs: mtime.getTime() });
    } else {
      output.queue.enqueue({ kind: 'write', tmpPath: output.tmpPath, finalPath, mtimeMs: mtime.getTime(), data: output.queue.pack(this.pending, this.pendingBytes) });
    }
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Drops whatever was not placed (a truncated or duplicate message). Safe to call twice. */
  close(): void {
    this.pending = [];
    this.pendingBytes = 0;
    if (this.output && (this.isOpened || this.isSealed) && !this.isDone) this.output.queue.enqueue({ kind: 'discard', tmpPath: this.output.tmpPath });
    this.isDone = true;
  }
}

const maxPendingBytes = 256 * 1024;

/** A set of UIDs as a growable bitmap: UIDs are dense small integers, a Set<number> costs ~20 bytes each. */
class UidSet {
  private bits = new Uint8Array(1024);
  private readonly sparse = new Set<number>();

  has(uid: number): boolean {
    if (uid < 0x1000000) return uid >>> 3 < this.bits.length && (this.bits[uid >>> 3]! & (1 << (uid & 7))) !== 0;
    return this.sparse.has(uid);
  }

  add(uid: number): void {
    if (uid >= 0x1000000) {
      this.sparse.add(uid); // far-apart UIDs (up to 2^32) stay out of the bitmap
      return;
    }
    const byte = uid >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, byte + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[byte]! |= 1 << (uid & 7);
  }
}

/**
 * Writes dovecot-uidlist line by line in 64 KB pieces (tmp file, then rename), records sorted by UID. Building it as
 * one string with an object per record made the end of a 100,000-message folder the peak of the whole run's memory.
 * Added records name the base name only: Dovecot matches records by base name, and the flags part of a recorded name
 * may be stale (maildir-format.md §2).
 */
function writeUidlistStreaming(
  file: string,
  header: { uidValidity: number; nextUid: number; headerFields: ReadonlyMap<string, string> },
  existing: readonly UidlistRecord[],
  addedBases: readonly string[],
  addedUids: readonly number[],
): void {
  const order = Uint32Array.from(addedUids.keys()).sort((a, b) => addedUids[a]! - addedUids[b]!);
  const existingSorted = [...existing].sort((a, b) => a.uid - b.uid);
  const tmp = `${file}.${tmpPrefix}${process.pid}`;
  const fd = openSync(tmp, 'w', fileMode);
  try {
    let pending = formatUidlistHeader(header);
    const flush = (force: boolean) => {
      if (pending.length < 65536 && !force) return;
      writeSync(fd, pending);
      pending = '';
    };
    let e = 0;
    for (let a = 0; a < order.length || e < existingSorted.length; ) {
      const added = a < order.length ? order[a]! : -1;
      if (added >= 0 && (e >= existingSorted.length || addedUids[added]! < existingSorted[e]!.uid)) {
        pending += `${addedUids[added]} :${addedBases[added]}\n`;
        a += 1;
      } else {
        pending += formatUidlistRecord(existingSorted[e]!);
        e += 1;
      }
      flush(false);
    }
    flush(true);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
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

function resolveExisting(dir: string): string {
  try {
    return realpathSync(dir);
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return dir;
    throw err;
  }
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
