import { Readable } from 'node:stream';
import type { FetchMessageObject, ImapFlow, MailboxObject } from 'imapflow';
import { encodePath, formatDateTime, formatFlag } from 'imapflow/lib/tools.js';
import { toCrlf } from '../../../converters/message/crlf.js';
import { MailshiftError, throwIfAborted } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { IncomingMessage, MailboxPath, MessageRef } from '../../core/types.js';
import type { ListedMessage, ListOptions, Mailbox, MailboxStatus } from '../store.js';
import { classifyImapError, ImapError } from './errors.js';
import { isSendableKeyword } from './flags.js';
import { toListed, toListedFromRaw } from './listed.js';
import { RawImapSession, type RawSockets } from './raw-session.js';
import { chunkUids, formatUidSet } from './uid-set.js';

/**
 * One IMAP folder as a Mailbox: it holds one pooled connection for its lifetime (a connection has one selected
 * mailbox). Reading lists and downloads over a raw session (RawImapSession) on that connection; writing appends
 * through imapflow.
 *
 * A little over 400 lines: listing, reading and appending share the selected connection's state (the UID window,
 * the raw session, the error budget), so they stay in one class.
 */

/** A pooled connection and the NO/BAD answers it collected (the store replaces it near its error budget). */
export interface PooledClient {
  readonly client: ImapFlow;
  errors: number;
}

/** What a mailbox needs from its store: connections from the pool, and the store's error wording. */
export interface MailboxHost {
  readonly label: string;
  readonly socketTimeoutMs: number;
  acquire(): Promise<PooledClient>;
  release(pooled: PooledClient, isBroken: boolean): void;
  isNearErrorBudget(pooled: PooledClient): boolean;
  wrap(err: unknown, what: string, scope: 'message' | 'mailbox' | 'account'): MailshiftError;
  /** A folder opened for reading reports its UIDNEXT (what waitForNewMail compares with). */
  noteUidNext(path: MailboxPath, uidNext: number | undefined): void;
}

export class ImapMailbox implements Mailbox {
  private pooled: PooledClient | undefined;
  private selected: MailboxObject | undefined;
  /** A mailbox opened for reading lists and downloads over this session: its connection is no longer imapflow's. */
  private raw: RawImapSession | undefined;

  constructor(
    private readonly store: MailboxHost,
    readonly path: MailboxPath,
    private readonly name: string,
    private readonly mode: 'read' | 'write',
  ) {}

  /** Selects the mailbox (EXAMINE for reading); for writing, creates and subscribes it first when it is missing. */
  async open(): Promise<void> {
    this.pooled = await this.store.acquire();
    try {
      this.selected = await this.select();
      if (this.mode === 'read') this.store.noteUidNext(this.path, this.selected.uidNext);
    } catch (err) {
      const wrapped = this.store.wrap(err, `open folder "${this.name}"`, 'mailbox');
      const missing = wrapped instanceof ImapError && (wrapped.failure.kind === 'nonexistent' || wrapped.failure.kind === 'trycreate' || wrapped.failure.kind === 'other');
      if (this.mode !== 'write' || !missing) {
        this.releaseConnection(wrapped.retry === 'later');
        throw wrapped;
      }
      try {
        await this.create();
        this.selected = await this.select();
      } catch (createErr) {
        const wrappedCreate = this.store.wrap(createErr, `create folder "${this.name}"`, 'mailbox');
        this.releaseConnection(wrappedCreate.retry === 'later');
        throw wrappedCreate;
      }
    }
  }

  /**
   * Always EXAMINE (read-only), also for writing: APPEND needs no selection, we never change a message that is already
   * there, and a read-only selection makes an expunge impossible (CLOSE on an EXAMINEd mailbox removes nothing).
   */
  private async select(): Promise<MailboxObject> {
    return this.client().mailboxOpen(this.name, { readOnly: true });
  }

  /** Selects the mailbox again when an append closed it. */
  private async ensureSelected(): Promise<void> {
    const client = this.client();
    if (client.mailbox && client.mailbox.path === this.selected?.path) return;
    this.selected = await this.select();
  }

  private async create(): Promise<void> {
    const client = this.client();
    try {
      await client.mailboxCreate(this.name);
    } catch (err) {
      // Another session created it meanwhile: that is what we wanted.
      if (!/ALREADYEXISTS|already exists/i.test(classifyImapError(err).text)) throw err;
    }
    try {
      await client.mailboxSubscribe(this.name);
    } catch {
      // A folder that cannot be subscribed still holds the mail; clients can subscribe it later.
    }
  }

  private client(): ImapFlow {
    // A folder opened for reading is read over the raw session only; opened for writing, never (see `raw`).
    if (this.raw) throw new Error(`imapflow used for "${this.name}" while its connection is a raw session`);
    if (!this.pooled) {
      // The connection was dropped after a failure: the caller reopens the folder (and re-checks what arrived).
      throw new MailshiftError('MAILSHIFT_IMAP_CLOSED', `${this.store.label}: the connection for "${this.name}" was closed after an error`, {
        scope: 'mailbox',
        retry: 'later',
      });
    }
    return this.pooled.client;
  }

  /**
   * Replaces a connection that has collected nearly the server's error budget of NO/BAD answers (Exchange drops the
   * session at 10) with a fresh one, and selects the mailbox again, before the next command.
   */
  private async ensureFreshConnection(): Promise<void> {
    if (!this.pooled || !this.store.isNearErrorBudget(this.pooled)) return;
    this.store.release(this.pooled, true);
    await this.reconnect();
  }

  /** A new connection with the same mailbox selected; a UIDVALIDITY that changed meanwhile makes the caller start over. */
  private async reconnect(): Promise<void> {
    this.pooled = await this.store.acquire();
    const before = this.selected;
    this.selected = await this.select();
    if (before && this.selected.uidValidity !== before.uidValidity) {
      throw new MailshiftError('MAILSHIFT_SOURCE_CHANGED', `${this.store.label}: "${this.name}" changed its UIDVALIDITY while we worked`, {
        scope: 'mailbox',
        retry: 'now',
        exitCode: ExitCode.sourceChanged,
      });
    }
  }

  /**
   * The raw session of a mailbox opened for reading: its connection, selected, taken over from imapflow (`unbind()`).
   * It keeps its place in the pool (--max-connections) until the session ends.
   */
  private async rawSession(what: string): Promise<RawImapSession> {
    if (this.raw) return this.raw;
    try {
      if (!this.pooled) {
        await this.reconnect(); // the previous session failed and was closed
      } else {
        await this.ensureFreshConnection();
        await this.ensureSelected();
      }
    } catch (err) {
      throw err instanceof MailshiftError ? err : this.fail(err, what, 'mailbox');
    }
    const sockets = this.client().unbind() as unknown as RawSockets;
    this.raw = new RawImapSession(sockets, this.store.socketTimeoutMs);
    return this.raw;
  }

  private async closeRaw(): Promise<void> {
    const raw = this.raw;
    if (!raw) return;
    this.raw = undefined;
    try {
      await raw.close();
    } finally {
      this.releaseConnection(true);
    }
  }

  /** A failure on the raw session: it is closed (a retry starts on a fresh connection) and the error explained. */
  private async failRaw(err: unknown, what: string, scope: 'message' | 'mailbox'): Promise<MailshiftError> {
    const wrapped = err instanceof MailshiftError ? err : this.store.wrap(err, `${what} in "${this.name}"`, scope);
    await this.closeRaw().catch(() => undefined);
    return wrapped;
  }

  private releaseConnection(isBroken: boolean): void {
    if (!this.pooled) return;
    this.store.release(this.pooled, isBroken);
    this.pooled = undefined;
  }

  /** Every NO/BAD counts against the connection's error budget; a transient failure means the connection is suspect. */
  private fail(err: unknown, what: string, scope: 'message' | 'mailbox'): MailshiftError {
    const wrapped = this.store.wrap(err, `${what} in "${this.name}"`, scope);
    if (this.pooled) this.pooled.errors += 1;
    // A refusal (NO [UNAVAILABLE]) leaves a working connection; anything else transient leaves one we cannot trust.
    const isRefused = wrapped instanceof ImapError && wrapped.isRefused;
    if (wrapped.retry === 'later' && !isRefused) this.releaseConnection(true);
    return wrapped;
  }

  async status(): Promise<MailboxStatus> {
    const selected = this.selected;
    if (!selected) return {};
    return { uidValidity: Number(selected.uidValidity), uidNext: selected.uidNext };
  }

  async *list(signal?: AbortSignal, options: ListOptions = {}): AsyncIterable<ListedMessage> {
    if (this.mode === 'read') {
      yield* this.listRaw(signal, options);
      return;
    }
    try {
      await this.ensureSelected();
    } catch (err) {
      throw this.fail(err, 'select the folder', 'mailbox');
    }
    const client = this.client();
    if (!client.mailbox || client.mailbox.exists === 0) return;
    const afterUid = options.afterUid ?? 0;
    const query = {
      uid: true,
      flags: true,
      internalDate: true,
      size: true,
      ...(options.headerFields && options.headerFields.length > 0 ? { headers: [...options.headerFields] } : {}),
    };
    try {
      for await (const message of client.fetch(`${afterUid + 1}:*`, query, { uid: true })) {
        throwIfAborted(signal);
        // "n:*" always includes the highest UID, even when it is below n (RFC 3501 §6.4.8).
        if (message.uid <= afterUid) continue;
        yield toListed(message);
      }
    } catch (err) {
      if (err instanceof MailshiftError) throw err;
      throw this.fail(err, 'list messages', 'mailbox');
    }
  }

  /** The listing of a folder opened for reading, over the raw session. */
  private async *listRaw(signal: AbortSignal | undefined, options: ListOptions): AsyncIterable<ListedMessage> {
    if (this.selected?.exists === 0) return;
    const afterUid = options.afterUid ?? 0;
    const items = ['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE'];
    if (options.headerFields && options.headerFields.length > 0) items.push(`BODY.PEEK[HEADER.FIELDS (${options.headerFields.map((field) => field.toUpperCase()).join(' ')})]`);
    const session = await this.rawSession('list messages');
    try {
      for await (const attributes of session.fetchAttributes(`${afterUid + 1}:*`, items.join(' '), signal)) {
        // "n:*" always includes the highest UID, even when it is below n (RFC 3501 §6.4.8).
        if (attributes.uid <= afterUid) continue;
        yield toListedFromRaw(attributes);
      }
    } catch (err) {
      throw await this.failRaw(err, 'list messages', 'mailbox');
    }
  }

  async read(ref: MessageRef, signal?: AbortSignal): Promise<Readable> {
    const uid = refUid(ref);
    if (this.mode === 'read') {
      const session = await this.rawSession(`read message UID ${uid}`);
      let found: Buffer | undefined;
      try {
        for await (const { content } of session.fetchBodies({ chunks: [[uid]], formatUidSet, ...(signal ? { signal } : {}) })) found = content;
      } catch (err) {
        throw await this.failRaw(err, `read message UID ${uid}`, 'message');
      }
      if (!found) throw messageGone(this.store.label, uid, this.name);
      return Readable.from([found]);
    }
    await this.ensureFreshConnection();
    let message: FetchMessageObject | false;
    try {
      await this.ensureSelected();
      message = await this.client().fetchOne(String(uid), { uid: true, source: true }, { uid: true });
    } catch (err) {
      throw this.fail(err, `read message UID ${uid}`, 'message');
    }
    if (!message || !message.source) throw messageGone(this.store.label, uid, this.name);
    return Readable.from([message.source]);
  }

  /**
   * Bodies in bulk over the raw session: pipelined UID FETCHes of up to 500 UIDs, read without imapflow's tokenizer.
   * A failure ends the session (the engine reopens the folder and goes on). A folder opened for writing reads one
   * message at a time (only identity checks do that).
   */
  async *readMany(refs: readonly MessageRef[], signal?: AbortSignal): AsyncIterable<{ ref: MessageRef; content: Buffer }> {
    const byUid = new Map<number, MessageRef>();
    for (const ref of refs) byUid.set(refUid(ref), ref);
    if (byUid.size === 0) return;
    if (this.mode !== 'read') {
      for (const ref of byUid.values()) {
        const chunks: Buffer[] = [];
        for await (const chunk of await this.read(ref)) chunks.push(chunk as Buffer);
        yield { ref, content: Buffer.concat(chunks) };
      }
      return;
    }
    const session = await this.rawSession('read messages');
    try {
      for await (const { uid, content } of session.fetchBodies({ chunks: chunkUids([...byUid.keys()]), formatUidSet, ...(signal ? { signal } : {}) })) {
        const ref = byUid.get(uid);
        if (ref) yield { ref, content };
      }
    } catch (err) {
      throw await this.failRaw(err, 'read messages', 'mailbox');
    }
  }

  /** Flags and keywords as APPEND can carry them into this folder. */
  private sendableFlags(message: IncomingMessage): { flags: string[]; keywords: string[] } {
    // EXAMINE reports no PERMANENTFLAGS (nothing can be stored in a read-only selection), so an empty set says
    // nothing; a list without \* names the keywords the folder takes.
    const permanent = this.selected?.permanentFlags;
    const acceptsAnyKeyword = !permanent || permanent.size === 0 || permanent.has('\\*');
    const keywords = [...message.keywords].filter((keyword) => isSendableKeyword(keyword) && (acceptsAnyKeyword || permanent.has(keyword)));
    return { flags: [...message.flags, ...keywords], keywords };
  }

  /**
   * Several messages in one MULTIAPPEND (RFC 3502) when the server offers it: one command, one transaction, and
   * Dovecot syncs the folder once per command instead of once per message (which grows with the folder: 10,000
   * single APPENDs into one folder took 4x as long as mbsync's pipelined ones). All or nothing: a refusal stored
   * none of them. imapflow has no MULTIAPPEND, so the command goes through its internal exec(); each message is
   * a literal like in imapflow's own APPEND. Falls back to one APPEND per message where MULTIAPPEND cannot be used.
   */
  async appendMany(messages: readonly IncomingMessage[]): Promise<void> {
    await this.ensureFreshConnection();
    const client = this.client();
    const canBatch = messages.length > 1 && client.capabilities.has('MULTIAPPEND') && messages.every((message) => !message.content.includes(0));
    if (!canBatch) {
      for (const message of messages) await this.append(message);
      return;
    }
    const run = async () => {
      await this.ensureSelected();
      const attributes: unknown[] = [{ type: 'ATOM', value: encodePath(client, this.name) }];
      for (const message of messages) {
        attributes.push(this.sendableFlags(message).flags.map((flag) => ({ type: 'ATOM', value: formatFlag(flag) || flag })));
        const date = message.internalDate ? formatDateTime(message.internalDate) : undefined;
        if (date) attributes.push({ type: 'STRING', value: date });
        attributes.push({ type: 'LITERAL', value: toCrlf(message.content) });
      }
      const exec = (client as unknown as { exec(command: string, attributes: unknown[]): Promise<{ next(): void }> }).exec.bind(client);
      const response = await exec('APPEND', attributes);
      response.next();
    };
    try {
      await run();
    } catch (err) {
      if (classifyImapError(err).kind !== 'trycreate') throw this.fail(err, `append ${messages.length} messages`, 'message');
      try {
        await this.create();
        await run();
      } catch (retryErr) {
        throw this.fail(retryErr, `append ${messages.length} messages`, 'message');
      }
    }
  }

  async append(message: IncomingMessage): Promise<MessageRef> {
    await this.ensureFreshConnection();
    const client = this.client();
    const { flags, keywords } = this.sendableFlags(message);
    const content = toCrlf(message.content);
    let result;
    try {
      // Append with the folder EXAMINEd: measured on Dovecot, an APPEND to a folder that is not selected costs time
      // in proportion to the folder's size (it is opened and synced each time), to the EXAMINEd one it stays flat.
      await this.ensureSelected();
      result = await client.append(this.name, content, flags, message.internalDate);
    } catch (err) {
      const failure = classifyImapError(err);
      if (failure.kind === 'trycreate') {
        // The folder vanished under us (another client deleted it): create it again, once.
        try {
          await this.create();
          result = await client.append(this.name, content, flags, message.internalDate);
        } catch (retryErr) {
          throw this.fail(retryErr, 'append a message', 'message');
        }
      } else {
        throw this.fail(err, 'append a message', 'message');
      }
    }
    if (!result) throw new MailshiftError('MAILSHIFT_IMAP_FAILED', `${this.store.label}: APPEND to "${this.name}" was not sent (connection not authenticated)`, { scope: 'mailbox', retry: 'later' });
    return {
      id: result.uid ? String(result.uid) : '',
      flags: message.flags,
      keywords: new Set(keywords),
      ...(message.internalDate ? { internalDate: message.internalDate } : {}),
      sizeBytes: content.length,
      ...(result.uid ? { uid: result.uid } : {}),
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.raw) {
      await this.closeRaw();
      return;
    }
    this.releaseConnection(false);
  }
}

function refUid(ref: MessageRef): number {
  const uid = ref.uid ?? Number(ref.id);
  if (!Number.isInteger(uid) || uid <= 0) throw new MailshiftError('MAILSHIFT_BAD_REF', `not an IMAP message reference: ${ref.id}`);
  return uid;
}

function messageGone(label: string, uid: number, name: string): MailshiftError {
  return new MailshiftError('MAILSHIFT_MESSAGE_GONE', `${label}: message UID ${uid} in "${name}" was expunged while we worked`, { scope: 'message' });
}
