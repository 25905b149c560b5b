import { Readable } from 'node:stream';
import { MailshiftError } from '../../src/core/errors.js';
import type { IncomingMessage, MailboxPath, MessageRef, SystemFlag } from '../../src/core/types.js';
import type { ListedMessage, Mailbox, MailboxInfo, MailboxStatus, MailStore, StoreCaps } from '../../src/stores/store.js';

/**
 * A MailStore that keeps its mail in memory: the store contract suite runs against it to show that the contract is
 * about the interface, not about files. It is what the contract asks and nothing more: LF line ends, UIDs in append
 * order under a per-folder UIDVALIDITY, bytes kept as given. Several stores may share one `MemoryMail` (a store opened
 * again sees what an earlier one appended), and a test may plant a message the store cannot serve.
 */

interface StoredMessage {
  readonly uid: number;
  readonly content: Buffer;
  readonly flags: ReadonlySet<SystemFlag>;
  readonly keywords: ReadonlySet<string>;
  readonly internalDate: Date;
  readonly problem?: MailshiftError;
}

interface MemoryFolder {
  readonly uidValidity: number;
  nextUid: number;
  readonly messages: StoredMessage[];
}

/** The mail itself: what outlives one MemoryStore. */
export class MemoryMail {
  readonly folders = new Map<MailboxPath, MemoryFolder>();
  private nextUidValidity = 1_700_000_000;

  folder(path: MailboxPath, create: boolean): MemoryFolder | undefined {
    let folder = this.folders.get(path);
    if (!folder && create) {
      folder = { uidValidity: this.nextUidValidity++, nextUid: 1, messages: [] };
      this.folders.set(path, folder);
    }
    return folder;
  }

  /** Puts a message the store lists but cannot serve (like an mbox message cut off) into a folder. */
  plantProblem(path: MailboxPath, reason: string): void {
    const folder = this.folder(path, true)!;
    // The code a store gives a message it lists and cannot serve (an mbox message cut off): the memory store plays one.
    const problem = new MailshiftError('MAILSHIFT_MBOX_BAD_MESSAGE', `${path}: ${reason}`, { scope: 'message' });
    folder.messages.push({ uid: folder.nextUid++, content: Buffer.alloc(0), flags: new Set(), keywords: new Set(), internalDate: new Date(0), problem });
  }
}

export class MemoryStore implements MailStore {
  readonly kind = 'memory' as const;
  readonly caps: StoreCaps;
  private isDisposed = false;

  constructor(
    readonly mail: MemoryMail = new MemoryMail(),
    options: { writable?: boolean } = {},
  ) {
    this.caps = { readable: true, writable: options.writable ?? true, crlf: false, sizeComparable: false, parallelAppend: false, newMailSignal: false, flagsBySourceKey: false };
  }

  async *listMailboxes(): AsyncIterable<MailboxInfo> {
    this.checkOpen();
    for (const path of [...this.mail.folders.keys()].sort()) yield { path };
  }

  async openMailbox(path: MailboxPath, mode: 'read' | 'write'): Promise<Mailbox> {
    this.checkOpen();
    if (mode === 'write' && !this.caps.writable) throw new MailshiftError('MAILSHIFT_READ_ONLY', `memory store opened read-only`);
    const folder = this.mail.folder(path, mode === 'write');
    if (!folder) throw new MailshiftError('MAILSHIFT_MAILBOX_MISSING', `no mailbox ${path} in the memory store`, { scope: 'mailbox' });
    return new MemoryMailbox(path, folder, mode);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.isDisposed = true;
  }

  private checkOpen(): void {
    if (this.isDisposed) throw new Error('memory store used after dispose');
  }
}

class MemoryMailbox implements Mailbox {
  constructor(
    readonly path: MailboxPath,
    private readonly folder: MemoryFolder,
    private readonly mode: 'read' | 'write',
  ) {}

  async status(): Promise<MailboxStatus> {
    return { uidValidity: this.folder.uidValidity, uidNext: this.folder.nextUid };
  }

  async *list(): AsyncIterable<ListedMessage> {
    for (const message of [...this.folder.messages]) {
      yield {
        id: String(message.uid),
        uid: message.uid,
        flags: message.flags,
        keywords: message.keywords,
        internalDate: message.internalDate,
        sizeBytes: message.content.length,
        ...(message.problem ? { problem: message.problem } : {}),
      };
    }
  }

  async read(ref: MessageRef): Promise<Readable> {
    const message = this.folder.messages.find((each) => String(each.uid) === ref.id);
    if (!message) throw new MailshiftError('MAILSHIFT_MESSAGE_GONE', `${this.path}: message ${ref.id} is gone`, { scope: 'message' });
    if (message.problem) throw message.problem;
    return Readable.from([Buffer.from(message.content)]);
  }

  async append(message: IncomingMessage): Promise<MessageRef> {
    if (this.mode !== 'write') throw new MailshiftError('MAILSHIFT_READ_ONLY', `mailbox ${this.path} was opened for reading`);
    const stored: StoredMessage = {
      uid: this.folder.nextUid++,
      content: Buffer.from(message.content),
      flags: new Set(message.flags),
      keywords: new Set(message.keywords),
      internalDate: message.internalDate ?? new Date(),
    };
    this.folder.messages.push(stored);
    return { id: String(stored.uid), uid: stored.uid, flags: stored.flags, keywords: stored.keywords, internalDate: stored.internalDate };
  }

  /** In order; stops at the first failure (the messages before it are stored), as the contract allows. */
  async appendMany(messages: readonly IncomingMessage[]): Promise<void> {
    for (const message of messages) await this.append(message);
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}
