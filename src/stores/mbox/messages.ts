import type { MessageEnd, MessageStart } from '../../../converters/mbox/framer.js';
import { decideReceivedDate, type ReceivedDate } from '../../../converters/mbox/from-line.js';
import { readMboxMetadata, splitMboxHeader, type ImapBase, type MboxMessageMetadata } from '../../../converters/mbox/metadata.js';
import { throwIfAborted } from '../../core/errors.js';
import type { MboxMessageSink } from './reader.js';

/** Where a message's stored bytes go while its file is read: a maildir draft, or one that only counts and hashes. */
export interface MessageBytes {
  write(chunk: Buffer): void;
  /** Drops whatever was not used; called once the message is handled (or abandoned after a rewind). */
  close(): void;
}

export interface AssembledMessage<D extends MessageBytes> {
  readonly start: MessageStart;
  readonly meta: MboxMessageMetadata;
  /** Holds the message as stored: bookkeeping headers cut out, mboxrd quoting undone, LF line ends. */
  readonly draft: D;
  readonly end: MessageEnd;
  /** The file's UID base, when its first message carried one. */
  readonly imapBase: ImapBase | undefined;
  /** INTERNALDATE: the From_ line's date, or the Date: header's when the From_ line has none or a placeholder. */
  readonly received: ReceivedDate;
}

export interface MboxMessageHandler<D extends MessageBytes> {
  beginDraft(): D;
  /**
   * One message, complete or (end.truncated) cut off. From here on the handler owns the draft and closes it: at once,
   * or later (convert places a message only once the writer thread has hashed it).
   */
  message(message: AssembledMessage<D>): void;
  /** Bytes that belong to no message (text before the first From_ line). */
  garbage(offset: number, length: number): void;
  /** The file began with UW-IMAP/Dovecot's "FOLDER INTERNAL DATA" pseudo-message: bookkeeping, not mail. */
  pseudoMessage?(start: MessageStart): void;
}

const noHeader = Buffer.alloc(0);

/**
 * Turns one mbox file's framer events into messages as they are stored anywhere else: the bookkeeping headers read
 * out and cut (Status, X-UID, X-Mozilla-*...), the first message's X-IMAPbase kept as the file's UID base, and the
 * "FOLDER INTERNAL DATA" pseudo-message dropped. `mailshift convert` and the mbox store both read files through it,
 * so a message copied over IMAP has the bytes, flags and date the converted maildir file would have.
 */
export class MboxMessageAssembler<D extends MessageBytes> implements MboxMessageSink {
  /** Complete messages handed on so far (truncated ones are not counted). */
  messagesSeen = 0;
  sawPseudoMessage = false;
  /** UIDVALIDITY and last UID from the file's first message (X-IMAPbase, or the pseudo-message's X-IMAP). */
  imapBase: ImapBase | undefined;
  private current: { start: MessageStart; draft: D | undefined; meta: MboxMessageMetadata | undefined; skip: boolean; isFirst: boolean } | undefined;

  constructor(
    private readonly handler: MboxMessageHandler<D>,
    private readonly signal?: AbortSignal,
  ) {}

  messageStart(start: MessageStart): void {
    throwIfAborted(this.signal);
    this.current = { start, draft: undefined, meta: undefined, skip: false, isFirst: this.messagesSeen === 0 && !this.sawPseudoMessage };
  }

  header(header: Buffer): void {
    const current = this.current;
    if (!current) return;
    const { meta, stored } = splitMboxHeader(header);
    current.meta = meta;
    if (current.isFirst && meta.imapBase) this.imapBase = meta.imapBase;
    if (current.isFirst && meta.isPseudoMessage) {
      current.skip = true;
      this.sawPseudoMessage = true;
      this.handler.pseudoMessage?.(current.start);
      return;
    }
    current.draft = this.handler.beginDraft();
    current.draft.write(stored);
  }

  body(chunk: Buffer): void {
    this.current?.draft?.write(chunk);
  }

  messageEnd(end: MessageEnd): void {
    const current = this.current;
    this.current = undefined;
    if (!current || current.skip) return;
    const draft = current.draft ?? this.handler.beginDraft();
    if (!end.truncated) this.messagesSeen += 1;
    const meta = current.meta ?? readMboxMetadata(noHeader, []);
    this.handler.message({ start: current.start, meta, draft, end, imapBase: this.imapBase, received: decideReceivedDate(current.start.fromLine, meta.date) });
  }

  garbage(offset: number, length: number): void {
    this.handler.garbage(offset, length);
  }

  /** Drops the message being read (a rewind, or the run stopping); drafts already handed on are the handler's. */
  abortMessage(): void {
    this.current?.draft?.close();
    this.current = undefined;
  }
}
