import type { Readable } from 'node:stream';
import { isMailshiftError } from '../core/errors.js';
import type { IncomingMessage, MailboxPath, MessageRef } from '../core/types.js';
import type { FlagUpdate, FlagUpdateMode, FlagUpdateOutcome, ListedMessage, ListOptions, Mailbox, MailboxInfo, MailboxStatus, MailStore, StoreCaps } from './store.js';

/**
 * `--dry-run` as a store, the way isync's proxy driver wraps any driver: the wrapped store is listed and read as it is,
 * and everything that would write is counted instead. A mailbox opened for writing is the existing one, opened for
 * reading, or, when there is none, an empty one that "would be created". The wrapped store may be opened read only
 * (a dry run's target need not even exist): nothing here ever asks it to write.
 */

/** What a dry run would have written. */
export interface DryRunCounts {
  mailboxesCreated: number;
  messagesAppended: number;
  bytesAppended: number;
  /** Messages whose flags would change (what the wrapped store's updateFlags counts with dryRun). */
  flagsChanged: number;
  uidsAdopted: number;
}

export interface DryRunStore extends MailStore {
  readonly counts: DryRunCounts;
}

export function withDryRun(store: MailStore): DryRunStore {
  return new DryRunProxy(store);
}

class DryRunProxy implements DryRunStore {
  readonly counts: DryRunCounts = { mailboxesCreated: 0, messagesAppended: 0, bytesAppended: 0, flagsChanged: 0, uidsAdopted: 0 };

  constructor(private readonly inner: MailStore) {}

  get kind() {
    return this.inner.kind;
  }

  /** What the wrapped store says, but writable: writes are what this proxy takes over. */
  get caps(): StoreCaps {
    return { ...this.inner.caps, writable: true };
  }

  get skippedFolders() {
    return this.inner.skippedFolders;
  }

  get otherNamespaceFolders() {
    return this.inner.otherNamespaceFolders;
  }

  get serverFacts() {
    return this.inner.serverFacts;
  }

  listMailboxes(signal?: AbortSignal): AsyncIterable<MailboxInfo> {
    return this.inner.listMailboxes(signal);
  }

  async openMailbox(path: MailboxPath, mode: 'read' | 'write'): Promise<Mailbox> {
    if (mode === 'read') return this.inner.openMailbox(path, 'read');
    try {
      return new DryRunMailbox(await this.inner.openMailbox(path, 'read'), this.counts);
    } catch (err) {
      // No such mailbox (or a name the store refuses): it would be created, and holds nothing yet. Account-level and
      // transient failures are the caller's, as they would be without a dry run.
      if (!isMailshiftError(err) || err.scope === 'account' || err.scope === 'run' || err.retry === 'later') throw err;
      this.counts.mailboxesCreated += 1;
      return new DryRunMailbox(new WouldBeCreated(path), this.counts);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.inner[Symbol.asyncDispose]();
  }
}

class DryRunMailbox implements Mailbox {
  private nextId = 0;
  readonly updateFlags?: Mailbox['updateFlags'];

  constructor(
    private readonly inner: Mailbox,
    private readonly counts: DryRunCounts,
  ) {
    // Offered only where the wrapped mailbox offers it: a mailbox that would be created has no flags to change.
    if (inner.updateFlags) this.updateFlags = (updates, mode) => this.countFlagUpdates(updates, mode);
  }

  get path(): MailboxPath {
    return this.inner.path;
  }

  status(): Promise<MailboxStatus> {
    return this.inner.status();
  }

  list(signal?: AbortSignal, options?: ListOptions): AsyncIterable<ListedMessage> {
    return this.inner.list(signal, options);
  }

  read(ref: MessageRef, signal?: AbortSignal): Promise<Readable> {
    return this.inner.read(ref, signal);
  }

  get sourceKeyFingerprint(): Mailbox['sourceKeyFingerprint'] {
    return this.inner.sourceKeyFingerprint?.bind(this.inner);
  }

  async append(message: IncomingMessage): Promise<MessageRef> {
    this.counts.messagesAppended += 1;
    this.counts.bytesAppended += message.content.length;
    this.nextId += 1;
    return { id: `dry-run-${this.nextId}`, flags: message.flags, keywords: message.keywords, ...(message.internalDate ? { internalDate: message.internalDate } : {}) };
  }

  async appendMany(messages: readonly IncomingMessage[]): Promise<void> {
    for (const message of messages) await this.append(message);
  }

  adoptSourceUid(): void {
    this.counts.uidsAdopted += 1;
  }

  async checkpoint(): Promise<void> {}

  private async countFlagUpdates(updates: readonly FlagUpdate[], mode: FlagUpdateMode): Promise<FlagUpdateOutcome> {
    const outcome = await this.inner.updateFlags!(updates, mode, { dryRun: true });
    this.counts.flagsChanged += outcome.differences;
    return outcome;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.inner[Symbol.asyncDispose]();
  }
}

/** A mailbox a dry run would create: empty, with nothing to dispose. */
class WouldBeCreated implements Mailbox {
  constructor(readonly path: MailboxPath) {}

  async status(): Promise<MailboxStatus> {
    return {};
  }

  async *list(): AsyncIterable<ListedMessage> {}

  async read(ref: MessageRef): Promise<Readable> {
    throw new Error(`dry run: ${this.path} holds no message ${ref.id}`);
  }

  async append(): Promise<MessageRef> {
    throw new Error('dry run: appends are counted by DryRunMailbox');
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}
