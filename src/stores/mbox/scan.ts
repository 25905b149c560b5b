import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { isValidKeyword } from '../../../converters/maildir/keywords.js';
import { ConvertedNameSequence, passedKeyword } from '../../../converters/maildir/filename.js';
import type { MboxVariant, UnescapeMode } from '../../../converters/mbox/framer.js';
import type { GmailLabelMode } from '../../../converters/mbox/gmail-folders.js';
import { decideMboxPlacement } from '../../../converters/mbox/placement.js';
import { mboxFileToMailboxPath } from '../../../converters/mbox/folder-path.js';
import { isMailshiftError, MailshiftError, systemErrorCode, throwIfAborted } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { MailboxPath, SystemFlag } from '../../core/types.js';
import { MessageDraft } from '../maildir/index.js';
import { MboxMessageAssembler, type AssembledMessage, type MboxMessageHandler } from './messages.js';
import { readMboxFile, readMboxFraming } from './reader.js';
import { readMboxSourceTree, type IgnoredSourceEntry, type MboxSourceFile } from './tree.js';

/** One mbox file of the source, with what reading its messages again needs. */
export interface ScannedFile {
  readonly file: string;
  /** Path inside the source tree (the file name for a single-file source): how reports name it. */
  readonly displayName: string;
  readonly isGzip: boolean;
  readonly unescape: UnescapeMode;
  /** The file's line ending as the framer found it (framing one message again alone needs it). */
  isCrlf: boolean;
  /** Device and inode when scanned: a file replaced since is never read as if it were the same. */
  readonly dev: number;
  readonly ino: number;
}

/** A message, located by its byte range in its file (decompressed bytes for .gz), with its metadata. */
export interface ScannedMessage {
  readonly file: ScannedFile;
  /** Offset of the From_ line, and just past the message (the next From_ line or the end of the file). */
  readonly offset: number;
  readonly end: number;
  readonly framedByContentLength: boolean;
  /** INTERNALDATE: the From_ line's date, as convert sets the file's mtime. */
  readonly receivedMs: number;
  /** Bytes as stored (bookkeeping headers cut, quoting undone, LF line ends). */
  readonly sizeBytes: number;
  /** The maildir base name convert gives this message: content hash, date, sizes, twin ordinal. */
  readonly key: string;
  readonly flags: ReadonlySet<SystemFlag>;
  readonly keywords: ReadonlySet<string>;
  /** X-UID, kept only when the file has an X-IMAPbase and the UIDs rise in file order (as Dovecot requires). */
  readonly sourceUid?: number;
}

/** Something in the source that should have been a message and cannot be served: reported, never dropped. */
export interface ScannedProblem {
  readonly displayName: string;
  readonly offset: number;
  readonly reason: string;
}

export type ScannedItem = ScannedMessage | ScannedProblem;

export function isProblem(item: ScannedItem): item is ScannedProblem {
  return 'reason' in item;
}

export interface ScannedFolder {
  readonly path: MailboxPath;
  /** In source order: files in tree order, messages in file order. */
  readonly items: ScannedItem[];
  /** Set when every message comes from one file that carries X-IMAPbase: its UIDs are then a real UID space. */
  uids?: { readonly uidValidity: number; readonly uidNext: number };
}

export interface MboxSourceScan {
  readonly root: string;
  readonly isSingleFile: boolean;
  readonly folders: ReadonlyMap<MailboxPath, ScannedFolder>;
  readonly ignored: readonly IgnoredSourceEntry[];
  readonly totals: { readonly messages: number; readonly problems: number; readonly pseudoMessages: number; readonly bytes: number };
}

export interface ScanMboxOptions {
  readonly variant?: MboxVariant;
  readonly gmailLabels?: GmailLabelMode | 'ignore';
  /** Folder of a single-file source (default INBOX). */
  readonly singleFileFolder?: MailboxPath;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

/**
 * Reads an mbox source once, as `mailshift convert` reads it (the same tree walk, framing, bookkeeping headers,
 * Gmail label routing and twin names), and keeps per folder only what an IMAP copy lists: each message's byte range
 * and metadata, about 200 bytes a message. Bodies are read again on request by their byte range.
 *
 * Tolerance as in convert: a cut-off message, bytes before the first From_ line, or a file that stops being readable
 * half-way is kept as a problem at its file and offset, so the copy reports it as skipped; the rest is served.
 */
export async function scanMboxSource(source: string, options: ScanMboxOptions): Promise<MboxSourceScan> {
  const { logger } = options;
  const tree = await readMboxSourceTree(source, options.singleFileFolder ? { singleFileFolder: options.singleFileFolder } : {});
  const ignored = [...tree.ignored];
  for (const entry of tree.ignored) {
    const line = `${entry.path}: not read as mbox: ${entry.reason}`;
    if (entry.isBookkeeping) logger.debug(line);
    else logger.warn(line);
  }
  const scan = new SourceScan(options);
  // Files that may hold mail and cannot be read (a name that is not UTF-8, a directory that cannot be listed): each
  // is a problem of the folder it would have been, so a copy reports it as skipped.
  for (const entry of tree.unreadable) scan.addProblem(mboxFileToMailboxPath(entry.path), { displayName: entry.path, offset: 0, reason: entry.reason });
  for (const file of tree.files) {
    throwIfAborted(options.signal);
    const outcome = await scan.readFile(file, tree.isSingleFile);
    if (outcome) {
      ignored.push(outcome);
      logger.warn(`${outcome.path}: ${outcome.reason}; not copied`);
    }
  }
  return { root: tree.root, isSingleFile: tree.isSingleFile, folders: scan.finish(), ignored, totals: scan.totals };
}

class SourceScan {
  readonly folders = new Map<MailboxPath, ScannedFolder & { sources: Set<ScannedFile>; isRouted: boolean; keys: Set<string> }>();
  readonly totals = { messages: 0, problems: 0, pseudoMessages: 0, bytes: 0 };
  private readonly uidBases = new Map<ScannedFile, { uidValidity: number; lastUid: number }>();
  private readonly droppedKeywords = new Map<string, number>();
  private readonly flagSets = new Map<string, ReadonlySet<SystemFlag>>();
  private readonly keywordSets = new Map<string, ReadonlySet<string>>();

  constructor(readonly options: ScanMboxOptions) {}

  folder(mailbox: MailboxPath) {
    let folder = this.folders.get(mailbox);
    if (!folder) {
      folder = { path: mailbox, items: [], sources: new Set(), isRouted: false, keys: new Set() };
      this.folders.set(mailbox, folder);
    }
    return folder;
  }

  addProblem(mailbox: MailboxPath, problem: ScannedProblem): void {
    this.folder(mailbox).items.push(problem);
    this.totals.problems += 1;
    // Debug only: a copy reports each one as a skipped message, verify as a missing one.
    this.options.logger.debug(`${problem.displayName} at byte ${problem.offset}: ${problem.reason}`);
  }

  /** Reads one file; returns why it is not an mbox when it is not one (in a tree; a single file is refused). */
  async readFile(source: MboxSourceFile, isSingleFile: boolean): Promise<IgnoredSourceEntry | undefined> {
    const { options } = this;
    const displayName = source.relativePath || path.basename(source.file);
    const signal = options.signal ? { signal: options.signal } : {};
    let identity: { dev: number; ino: number };
    let framing;
    try {
      const stat = await lstat(source.file);
      identity = { dev: stat.dev, ino: stat.ino };
      framing = await readMboxFraming(source.file, { isGzip: source.isGzip, variant: options.variant ?? 'auto', ...signal });
    } catch (err) {
      if (!isReadError(err)) throw err;
      this.addProblem(source.folder, { displayName, offset: 0, reason: `cannot read the file: ${describeReadError(err)}` });
      return undefined;
    }
    if (framing.kind === 'empty') {
      this.folder(source.folder); // an empty mbox is an empty folder
      return undefined;
    }
    if (framing.kind === 'not-mbox') {
      if (isSingleFile) {
        throw new MailshiftError('MAILSHIFT_SOURCE_NOT_MBOX', `${source.file} is not an mbox: no "From " separator line in its first 64 KB`, {
          hint: 'give an mbox file (messages separated by "From sender date" lines), a .gz of one, or a directory of them',
        });
      }
      if (source.hasThunderbirdIndex || framing.mailEvidence) {
        this.addProblem(source.folder, { displayName, offset: 0, reason: 'no message could be read: no "From " separator line in its first 64 KB, though it is evidently mail' });
        return undefined;
      }
      return { path: displayName, reason: 'not an mbox (no "From " separator line in its first 64 KB)' };
    }
    const file: ScannedFile = { file: source.file, displayName, isGzip: source.isGzip, unescape: framing.unescape, isCrlf: false, ...identity };
    const handler = new FileHandler(this, file, source.folder);
    const assembler = new MboxMessageAssembler(handler, options.signal);
    try {
      const result = await readMboxFile(source.file, { isGzip: source.isGzip, unescape: framing.unescape, honorContentLength: framing.honorContentLength, ...signal }, assembler);
      file.isCrlf = result.isCrlf;
    } catch (err) {
      if (!isReadError(err)) throw err;
      // What was read before the failure is served; the rest of the file is one reported problem.
      this.addProblem(source.folder, { displayName, offset: handler.readUpTo, reason: `cannot read the file from here on: ${describeReadError(err)}` });
    } finally {
      assembler.abortMessage();
    }
    this.totals.pseudoMessages += assembler.sawPseudoMessage ? 1 : 0;
    if (assembler.imapBase) this.uidBases.set(file, { uidValidity: assembler.imapBase.uidValidity, lastUid: assembler.imapBase.lastUid });
    if (handler.placed === 0) this.folder(source.folder); // only a pseudo-message, or only problems: still a folder
    return undefined;
  }

  add(message: ScannedMessage, folders: readonly MailboxPath[], isRouted: boolean): void {
    this.totals.messages += 1;
    this.totals.bytes += message.sizeBytes;
    for (const mailbox of folders) {
      const folder = this.folder(mailbox);
      // The same bytes under the same date and twin number twice in one folder (two files mapping to one folder):
      // convert stores it once, and so do we.
      if (folder.keys.has(message.key)) continue;
      folder.keys.add(message.key);
      folder.items.push(message);
      folder.sources.add(message.file);
      if (isRouted) folder.isRouted = true;
    }
  }

  sharedFlags(flags: Set<SystemFlag>): ReadonlySet<SystemFlag> {
    return intern(this.flagSets, flags);
  }

  sharedKeywords(keywords: Set<string>): ReadonlySet<string> {
    for (const keyword of keywords) {
      if (isValidKeyword(keyword)) continue;
      keywords.delete(keyword);
      this.droppedKeywords.set(keyword, (this.droppedKeywords.get(keyword) ?? 0) + 1);
    }
    return intern(this.keywordSets, keywords);
  }

  finish(): Map<MailboxPath, ScannedFolder> {
    for (const [keyword, count] of this.droppedKeywords) {
      this.options.logger.warn(`keyword ${JSON.stringify(keyword)} (${count} message(s)) is not a valid IMAP keyword; those messages are copied without it`);
    }
    const out = new Map<MailboxPath, ScannedFolder>();
    const sorted = [...this.folders.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const { path: mailbox, items, sources, isRouted } of sorted) {
      const folder: ScannedFolder = { path: mailbox, items };
      const only = sources.size === 1 && !isRouted ? [...sources][0]! : undefined;
      const base = only ? this.uidBases.get(only) : undefined;
      if (base) {
        let highest = base.lastUid;
        for (const item of items) if (!isProblem(item) && item.sourceUid !== undefined && item.sourceUid > highest) highest = item.sourceUid;
        folder.uids = { uidValidity: base.uidValidity, uidNext: highest + 1 };
      }
      out.set(mailbox, folder);
    }
    return out;
  }
}

/** One file's messages, from the shared assembler: hashed and counted, never kept. */
class FileHandler implements MboxMessageHandler<MessageDraft> {
  placed = 0;
  /** Offset just past the last whole message: where a read failure is reported. */
  readUpTo = 0;
  private readonly names = new ConvertedNameSequence();
  private lastUid = 0;

  constructor(
    private readonly scan: SourceScan,
    private readonly file: ScannedFile,
    private readonly folder: MailboxPath,
  ) {}

  beginDraft(): MessageDraft {
    // Without an output a draft only counts and hashes, in 256 KB pieces: memory stays flat for any message size.
    return new MessageDraft(undefined);
  }

  message(message: AssembledMessage<MessageDraft>): void {
    try {
      this.take(message);
    } finally {
      message.draft.close();
    }
  }

  private take({ start, meta, draft, end, imapBase, received }: AssembledMessage<MessageDraft>): void {
    this.readUpTo = end.offset;
    if (end.note && !end.truncated) this.scan.options.logger.warn(`${this.file.displayName} at byte ${start.offset}: ${end.note}`);
    if (end.truncated) {
      this.scan.addProblem(this.folder, { displayName: this.file.displayName, offset: start.offset, reason: `truncated message: ${end.truncated}` });
      return;
    }
    const placement = decideMboxPlacement(meta, this.folder, this.scan.options.gmailLabels ?? 'folders');
    const keywords = new Set(placement.keywords);
    if (placement.passed) keywords.add(passedKeyword);
    let sourceUid: number | undefined;
    if (imapBase && meta.uid !== undefined && meta.uid > this.lastUid) {
      sourceUid = meta.uid;
      this.lastUid = meta.uid;
    }
    const receivedMs = received.date.getTime();
    const message: ScannedMessage = {
      file: this.file,
      offset: start.offset,
      end: end.offset,
      framedByContentLength: end.framedByContentLength === true,
      receivedMs,
      sizeBytes: draft.size,
      key: this.names.next({ receivedSecs: receivedMs / 1000, contentHashHex: draft.contentHashHex(), sizeBytes: draft.size, virtualSizeBytes: draft.virtualSize }),
      flags: this.scan.sharedFlags(placement.flags),
      keywords: this.scan.sharedKeywords(keywords),
      ...(sourceUid !== undefined ? { sourceUid } : {}),
    };
    this.placed += 1;
    this.scan.add(message, placement.folders, placement.isRouted);
  }

  garbage(offset: number, length: number): void {
    this.scan.addProblem(this.folder, { displayName: this.file.displayName, offset, reason: `${length} bytes before the first "From " line belong to no message` });
  }
}

/** One shared set per distinct content: thousands of messages carry the same few flag combinations. */
function intern<T extends string>(table: Map<string, ReadonlySet<T>>, values: Set<T>): ReadonlySet<T> {
  const key = [...values].sort().join('\u0000');
  let shared = table.get(key);
  if (!shared) {
    shared = values;
    table.set(key, shared);
  }
  return shared;
}

/** A file that cannot be opened or read (a vanished file, EACCES, a damaged .gz): one folder's problem, not the run's. */
function isReadError(err: unknown): boolean {
  if (isMailshiftError(err)) return err.code === 'MAILSHIFT_SOURCE_READ' || err.code === 'MAILSHIFT_SOURCE_OPEN';
  return systemErrorCode(err) !== undefined;
}

function describeReadError(err: unknown): string {
  return isMailshiftError(err) ? err.message : `${systemErrorCode(err)}: ${(err as Error).message}`;
}
