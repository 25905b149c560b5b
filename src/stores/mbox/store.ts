import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { isInbox, validateFolderLevel } from '../../../converters/folders/maildirpp.js';
import { MboxFramer, type MboxVariant, type MessageEnd } from '../../../converters/mbox/framer.js';
import { decideReceivedDate, type FromLine } from '../../../converters/mbox/from-line.js';
import type { GmailLabelMode } from '../../../converters/mbox/gmail-folders.js';
import { splitMboxHeader } from '../../../converters/mbox/metadata.js';
import { MailshiftError, throwIfAborted } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { MailboxPath, MessageRef } from '../../core/types.js';
import { guessSpecialUse } from '../special-use.js';
import type { ListedMessage, ListOptions, Mailbox, MailboxInfo, MailboxStatus, MailStore, StoreCaps } from '../store.js';
import { openRegionReader, sourceChanged, type RegionReader } from './regions.js';
import { isProblem, scanMboxSource, type MboxSourceScan, type ScannedFile, type ScannedFolder, type ScannedItem, type ScannedMessage } from './scan.js';

export interface MboxStoreOptions {
  readonly logger: Logger;
  readonly variant?: MboxVariant;
  /** Gmail Takeout labels: one folder per label (default, as convert), one folder, or ignored. */
  readonly gmailLabels?: GmailLabelMode | 'ignore';
}

/**
 * An mbox source (a file, a .gz of one, or a tree: cPanel legacy layout, Thunderbird .sbd, UW-IMAP/Dovecot spools,
 * Gmail Takeout) as a read-only MailStore, so it can be copied to IMAP message by message.
 *
 * The folders, the messages in them, their bytes, flags, keywords and INTERNALDATE are exactly what
 * `mailshift convert` would write into a maildir: both read through the same framer, header handling and placement.
 * The source is read once when first asked (scanMboxSource), keeping per message its byte range and metadata;
 * bodies are framed again from their byte range on request and checked against that scan (same date, size and
 * content hash), so an mbox rewritten meanwhile is reported, never half-served.
 *
 * A message the scan could not take (cut off, bytes before the first From_ line, a file unreadable half-way) is
 * listed with `problem` set, so a copy reports it as skipped with its file and offset.
 */
export class MboxStore implements MailStore {
  readonly kind = 'mbox' as const;
  readonly caps: StoreCaps = { files: { location: 'local', layout: 'mbox' }, readable: true, writable: false, crlf: false, sizeComparable: false, parallelAppend: false, newMailSignal: false, flagsBySourceKey: false };
  private scan: Promise<MboxSourceScan> | undefined;

  constructor(
    readonly source: string,
    private readonly options: MboxStoreOptions,
  ) {}

  private scanned(signal?: AbortSignal): Promise<MboxSourceScan> {
    this.scan ??= (async () => {
      const started = Date.now();
      const scan = await scanMboxSource(this.source, {
        logger: this.options.logger,
        ...(this.options.variant ? { variant: this.options.variant } : {}),
        ...(this.options.gmailLabels ? { gmailLabels: this.options.gmailLabels } : {}),
        ...(signal ? { signal } : {}),
      });
      const { totals } = scan;
      this.options.logger.info(
        `read ${scan.root}: ${totals.messages} message(s) in ${scan.folders.size} folder(s)` +
          `${totals.problems ? `, ${totals.problems} that cannot be copied` : ''}${totals.pseudoMessages ? `, ${totals.pseudoMessages} "FOLDER INTERNAL DATA" pseudo-message(s) left out` : ''}` +
          ` in ${Date.now() - started} ms`,
      );
      return scan;
    })();
    return this.scan;
  }

  async *listMailboxes(signal?: AbortSignal): AsyncIterable<MailboxInfo> {
    const scan = await this.scanned(signal);
    for (const folder of scan.folders.values()) {
      const problem = folder.path.split('/').map(validateFolderLevel).find((each) => each !== undefined);
      if (problem) this.options.logger.warn(`folder ${JSON.stringify(folder.path)} cannot be created as it is (${problem}); name it with --map`);
      const specialUse = guessSpecialUse(folder.path);
      yield specialUse ? { path: folder.path, specialUse } : { path: folder.path };
    }
  }

  async openMailbox(path: MailboxPath, mode: 'read' | 'write'): Promise<Mailbox> {
    if (mode === 'write') {
      throw new MailshiftError('MAILSHIFT_READ_ONLY', `${this.source} is mbox: an mbox store is read only`, {
        hint: 'copy into a maildir or an IMAP account; `mailshift convert` turns mbox into a maildir',
      });
    }
    const scan = await this.scanned();
    const folder = scan.folders.get(isInbox(path) ? 'INBOX' : path);
    if (!folder) throw new MailshiftError('MAILSHIFT_MAILBOX_MISSING', `no folder ${path} in ${scan.root}`, { scope: 'mailbox' });
    return new MboxMailbox(folder);
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}

/** How many bytes a header read asks for at a time: most header blocks fit in one. */
const headerChunkBytes = 16 * 1024;

class MboxMailbox implements Mailbox {
  readonly path: MailboxPath;
  private readonly readers = new Map<ScannedFile, RegionReader>();
  private byId: Map<string, ScannedItem> | undefined;
  /** Reads run one at a time: a .gz reader keeps one place in its file, and a plain one opens its file once. */
  private lastRead: Promise<unknown> = Promise.resolve();

  constructor(private readonly folder: ScannedFolder) {
    this.path = folder.path;
  }

  async status(): Promise<MailboxStatus> {
    return this.folder.uids ? { uidValidity: this.folder.uids.uidValidity, uidNext: this.folder.uids.uidNext } : {};
  }

  async *list(signal?: AbortSignal, options: ListOptions = {}): AsyncIterable<ListedMessage> {
    const hasUids = this.folder.uids !== undefined;
    for (const item of this.folder.items) {
      throwIfAborted(signal);
      if (isProblem(item)) {
        yield {
          id: itemId(item),
          flags: new Set(),
          keywords: new Set(),
          problem: new MailshiftError('MAILSHIFT_MBOX_BAD_MESSAGE', `${item.displayName} at byte ${item.offset}: ${item.reason}`, {
            scope: 'message',
            hint: 'the rest of the mbox is copied; repair or re-export the file if you need this message',
          }),
          ...(options.headerFields ? { headers: Buffer.alloc(0) } : {}),
        };
        continue;
      }
      const uid = hasUids ? item.sourceUid : undefined;
      if (uid !== undefined && options.afterUid !== undefined && uid <= options.afterUid) continue;
      const ref: ListedMessage = {
        id: itemId(item),
        key: item.key,
        flags: item.flags,
        keywords: item.keywords,
        internalDate: new Date(item.receivedMs),
        sizeBytes: item.sizeBytes,
        ...(uid !== undefined ? { uid } : {}),
      };
      yield options.headerFields ? { ...ref, headers: await this.readStored(item, { headerOnly: true, signal }) } : ref;
    }
  }

  async read(ref: MessageRef, signal?: AbortSignal): Promise<Readable> {
    return Readable.from([await this.readStored(this.message(ref), { headerOnly: false, signal })]);
  }

  /** In file order, whatever order the refs come in: a .gz is then inflated once, not once per message. */
  async *readMany(refs: readonly MessageRef[], signal?: AbortSignal): AsyncIterable<{ readonly ref: MessageRef; readonly content: Buffer }> {
    const wanted = refs.map((ref) => ({ ref, message: this.message(ref) }));
    wanted.sort((a, b) => (a.message.file === b.message.file ? a.message.offset - b.message.offset : a.message.file.file < b.message.file.file ? -1 : 1));
    for (const { ref, message } of wanted) {
      throwIfAborted(signal);
      yield { ref, content: await this.readStored(message, { headerOnly: false, signal }) };
    }
  }

  append(): Promise<MessageRef> {
    return Promise.reject(new MailshiftError('MAILSHIFT_READ_ONLY', `mbox folder ${this.path} is read only`));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.lastRead;
    for (const reader of this.readers.values()) await reader.close();
    this.readers.clear();
  }

  /** The scanned message a ref names; a problem ref throws its problem (never served, never silently dropped). */
  private message(ref: MessageRef): ScannedMessage {
    if ((ref as ListedMessage).problem) throw (ref as ListedMessage).problem;
    if (!this.byId) {
      this.byId = new Map();
      for (const item of this.folder.items) this.byId.set(itemId(item), item);
    }
    const item = this.byId.get(ref.id);
    if (!item) throw new MailshiftError('MAILSHIFT_BAD_REF', `not a message of mbox folder ${this.path}: ${ref.id}`);
    if (isProblem(item)) throw new MailshiftError('MAILSHIFT_MBOX_BAD_MESSAGE', `${item.displayName} at byte ${item.offset}: ${item.reason}`, { scope: 'message' });
    return item;
  }

  private reader(file: ScannedFile): RegionReader {
    let reader = this.readers.get(file);
    if (!reader) {
      reader = openRegionReader(file);
      this.readers.set(file, reader);
    }
    return reader;
  }

  /**
   * Frames the message's byte range again, alone, the way the scan framed it (same unescaping, line ending and
   * Content-Length choice), and returns what convert stores: the header without bookkeeping fields, then the body.
   * With `headerOnly` only the header block is read and returned.
   */
  private readStored(message: ScannedMessage, options: { headerOnly: boolean; signal?: AbortSignal | undefined }): Promise<Buffer> {
    const result = this.lastRead.then(() => this.frameAgain(message, options));
    this.lastRead = result.catch(() => undefined);
    return result;
  }

  private async frameAgain(message: ScannedMessage, options: { headerOnly: boolean; signal?: AbortSignal | undefined }): Promise<Buffer> {
    const { file } = message;
    const parts: Buffer[] = [];
    let starts = 0;
    let header: Buffer | undefined;
    let end: MessageEnd | undefined;
    let isOther = false;
    let fromLine: FromLine | undefined;
    const framer = new MboxFramer(
      {
        messageStart: (start) => {
          starts += 1;
          fromLine = start.fromLine;
          if (start.offset !== message.offset) isOther = true;
        },
        header: (bytes) => {
          if (starts !== 1 || header !== undefined) return;
          const split = splitMboxHeader(bytes);
          if (!fromLine || decideReceivedDate(fromLine, split.meta.date).date.getTime() !== message.receivedMs) isOther = true;
          header = split.stored;
          parts.push(header);
        },
        body: (bytes) => {
          if (!options.headerOnly && starts === 1) parts.push(bytes);
        },
        messageEnd: (messageEnd) => {
          end ??= messageEnd;
        },
        garbage: () => {
          isOther = true;
        },
      },
      { unescape: file.unescape, honorContentLength: message.framedByContentLength, crlf: file.isCrlf, startOffset: message.offset },
    );
    const readOptions = { ...(options.headerOnly ? { chunkBytes: headerChunkBytes } : {}), ...(options.signal ? { signal: options.signal } : {}) };
    let isRewound = false;
    for await (const chunk of this.reader(file).read(message.offset, message.end, readOptions)) {
      if (framer.push(chunk)) isRewound = true;
      if (isRewound || isOther || starts > 1 || (options.headerOnly && header !== undefined)) break;
    }
    if (options.headerOnly) {
      // A message with nothing after its headers has them emitted only at the end of its bytes.
      if (header === undefined && !isRewound && !isOther && starts === 1 && framer.end()) isRewound = true;
      if (header !== undefined && !isRewound && !isOther && starts === 1) return header;
      throw sourceChanged(file, message.offset, 'no longer the message that was read there');
    }
    if (!isRewound && !isOther && starts <= 1 && framer.end()) isRewound = true;
    if (isRewound || isOther || starts !== 1 || !end || end.offset !== message.end || end.truncated) {
      throw sourceChanged(file, message.offset, 'no longer the message that was read there');
    }
    const content = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const hashHex = createHash('sha256').update(content).digest('hex');
    if (content.length !== message.sizeBytes || !message.key.includes(`.M${hashHex.slice(0, 24)}`)) {
      throw sourceChanged(file, message.offset, 'the message bytes differ from when it was read');
    }
    return content;
  }
}

/** "Work/Projects@1234": the file inside the source and the byte offset of the message's From_ line. */
function itemId(item: ScannedItem): string {
  return `${isProblem(item) ? item.displayName : item.file.displayName}@${item.offset}`;
}
