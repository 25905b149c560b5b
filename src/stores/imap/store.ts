import { Readable } from 'node:stream';
import type { FetchMessageObject, ImapFlow, MailboxObject } from 'imapflow';
import { encodePath, formatDateTime, formatFlag } from 'imapflow/lib/tools.js';
import { mailboxPathToImapName, type ImapNamespace } from '../../../converters/folders/imap-mapping.js';
import { toCrlf } from '../../../converters/message/crlf.js';
import { decideBackoffMs, retryAfterMs, sleep } from '../../core/async.js';
import { MailshiftError, throwIfAborted } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { IncomingMessage, MailboxPath, MessageRef, SystemFlag } from '../../core/types.js';
import { systemFlags } from '../../core/types.js';
import type { ListedMessage, ListOptions, Mailbox, MailboxInfo, MailboxStatus, MailStore, ServerFacts, SkippedFolderName, StoreCaps } from '../store.js';
import type { ImapSpec } from '../spec.js';
import { RawImapSession, type RawSockets } from './raw-session.js';
import { parseImapDateTime, type FetchAttributes } from './response-framer.js';
import { connectImap, type ImapConnectOptions } from './connection.js';
import { classifyImapError, type ImapFailure } from './errors.js';
import { planListedFolders } from './listed-folders.js';

/**
 * An IMAP account as a MailStore (imapflow underneath; nothing else in mailshift imports it).
 *
 * Connections: a small pool, at most `maxConnections` (`--max-connections`). An open Mailbox holds one connection for
 * its lifetime (a connection has one selected mailbox). A connection that failed, or that collected
 * `errorBudget` NO/BAD answers, is closed and replaced: Exchange drops a session after 10 errors, and a fresh one
 * before that point keeps the account usable.
 *
 * Names: folders are listed in the personal namespace only, translated to mailbox paths ('/'-separated UTF-8,
 * INBOX canonical, prefix stripped); \Noselect and \NonExistent entries are not mailboxes.
 *
 * Errors reach the engine as MailshiftErrors whose `scope` and `retry` say what to do: transient ones (a reset, BYE,
 * [UNAVAILABLE], throttling) are `retry: 'later'`, and carry `retryAfterMs` when the server named a delay.
 */
export interface ImapStoreOptions extends ImapConnectOptions {
  /**
   * Reads the password (or access token) again for each new connection after the first: a token refreshed in place
   * (its file rewritten by the provider's tool) is picked up when a connection is replaced, instead of the run
   * failing at the next login once the first token expires.
   */
  readonly readPassword?: () => Promise<string>;
  readonly maxConnections?: number;
  readonly writable?: boolean;
  /** NO/BAD answers one connection may collect before it is replaced. */
  readonly errorBudget?: number;
  /**
   * The first connection, refused, reset or answered with a temporary NO ([UNAVAILABLE], [THROTTLED]), is tried again
   * this many times with the engine's back-off (`--retries`, `--retry-delay`). Default 6. Later connections are
   * retried by the engine, folder by folder.
   */
  readonly connectRetries?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Ends the waits between connection attempts (Ctrl-C). */
  readonly signal?: AbortSignal;
}

export class ImapError extends MailshiftError {
  readonly failure: ImapFailure;
  readonly retryAfterMs: number | undefined;
  /** The server refused the command (tagged NO/BAD): it had no effect, and sending it again later is safe. */
  readonly isRefused: boolean;
  constructor(code: string, message: string, failure: ImapFailure, options: ConstructorParameters<typeof MailshiftError>[2]) {
    super(code, message, options);
    this.failure = failure;
    this.retryAfterMs = failure.retryAfterMs;
    this.isRefused = failure.isRefused;
  }
}

interface PooledClient {
  readonly client: ImapFlow;
  errors: number;
}

/** ServerFacts with its namespace typed as the folder mapping reads it; credential: "password", "password (AUTH=PLAIN)", "OAuth2 access token". */
export interface ImapServerFacts extends ServerFacts {
  readonly namespace: ImapNamespace;
}

function formatCredential(spec: ImapSpec): string {
  if (spec.auth === 'oauth2') return 'OAuth2 access token';
  return spec.auth ? `password (AUTH=${spec.auth.toUpperCase()})` : 'password';
}

export class ImapStore implements MailStore {
  readonly kind = 'imap' as const;
  /** newMailSignal is known once logged in (the server's IDLE capability). */
  private currentCaps: StoreCaps;
  readonly label: string;
  private readonly maxConnections: number;
  private readonly errorBudget: number;
  private idle: PooledClient[] = [];
  private openCount = 0;
  private waiters: (() => void)[] = [];
  private isClosed = false;
  private facts: ImapServerFacts | undefined;
  /** Set once a connection has logged in: later ones read the secret again (see readPassword). */
  private hasLoggedIn = false;
  /** UIDNEXT of each folder when it was last opened for reading: what waitForNewMail compares with. */
  private readonly uidNextSeen = new Map<MailboxPath, number>();
  /** Folders the last listing found and cannot offer (a name that is not safe as a folder), with the reason. */
  readonly skippedFolders: SkippedFolderName[] = [];
  /** The secret the last connection logged in with (readPassword may have replaced the one read at start). */
  private currentPassword: string;

  private constructor(private readonly options: ImapStoreOptions) {
    this.currentCaps = { readable: true, writable: Boolean(options.writable), crlf: true, sizeComparable: true, parallelAppend: true, newMailSignal: false, flagsBySourceKey: false };
    this.maxConnections = Math.max(1, options.maxConnections ?? 1);
    this.errorBudget = Math.max(1, options.errorBudget ?? 8);
    this.label = `${options.spec.tls ? 'imaps' : 'imap'}://${options.spec.user}@${options.spec.host}:${options.spec.port}`;
    this.currentPassword = options.password;
  }

  /** Connects once (so a wrong password or certificate fails here, before any work) and reads the namespace. */
  static async open(options: ImapStoreOptions): Promise<ImapStore> {
    const store = new ImapStore(options);
    const pooled = await store.acquireFirst();
    try {
      const { client } = pooled;
      const personal = client.namespace;
      store.facts = {
        greeting: client.greeting,
        capabilities: [...client.capabilities.keys()],
        namespace: { prefix: personal?.prefix ?? '', delimiter: personal?.delimiter ?? '/' },
        serverId: client.serverInfo ? { ...client.serverInfo } : undefined,
        credential: formatCredential(options.spec),
      };
      store.currentCaps = { ...store.currentCaps, newMailSignal: store.facts.capabilities.includes('IDLE') };
    } finally {
      store.release(pooled, false);
    }
    return store;
  }

  get caps(): StoreCaps {
    return this.currentCaps;
  }

  get serverFacts(): ImapServerFacts {
    if (!this.facts) throw new Error('ImapStore used before open()');
    return this.facts;
  }

  get namespace(): ImapNamespace {
    return this.serverFacts.namespace;
  }

  /** True when the session speaks UTF-8 mailbox names (IMAP4rev2 or UTF8=ACCEPT): no modified UTF-7 then. */
  private isUtf8(client: ImapFlow): boolean {
    return client.enabled.has('UTF8=ACCEPT') || client.enabled.has('IMAP4rev2');
  }

  async *listMailboxes(signal?: AbortSignal): AsyncIterable<MailboxInfo> {
    const pooled = await this.acquire();
    let entries;
    try {
      // Not listOnly: imapflow asks for SPECIAL-USE only in its full listing, and adds INBOX, which Dovecot leaves
      // out of LIST "" "*" under an "INBOX." prefix.
      entries = await pooled.client.list();
    } catch (err) {
      this.release(pooled, true);
      throw this.wrap(err, 'list the folders', 'account');
    }
    const isUtf8 = this.isUtf8(pooled.client);
    this.release(pooled, false);
    this.skippedFolders.length = 0;
    const planned = planListedFolders(entries, this.namespace, isUtf8, signal);
    this.skippedFolders.push(...planned.skipped);
    yield* planned.found;
  }

  async openMailbox(path: MailboxPath, mode: 'read' | 'write'): Promise<Mailbox> {
    if (mode === 'write' && !this.caps.writable) throw new MailshiftError('MAILSHIFT_READ_ONLY', `${this.label} was opened read-only`);
    let name: string;
    try {
      name = mailboxPathToImapName(path, this.namespace);
    } catch (err) {
      throw new MailshiftError('MAILSHIFT_IMAP_FOLDER_NAME', `${this.label}: cannot name folder "${path}" on the server: ${(err as Error).message}`, { scope: 'mailbox' });
    }
    const mailbox = new ImapMailbox(this, path, name, mode);
    await mailbox.open();
    return mailbox;
  }

  /**
   * Waits, with IMAP IDLE (RFC 2177) on one pooled connection, until the server announces new mail in a folder, at
   * most `timeoutMs`. 'unsupported' at once when the server has no IDLE; 'timeout' also when the wait could not be
   * set up (the caller's next poll finds the mail anyway). Ends at once on `signal`.
   */
  async waitForNewMail(path: MailboxPath, timeoutMs: number, signal: AbortSignal): Promise<'new-mail' | 'timeout' | 'unsupported'> {
    if (!this.serverFacts.capabilities.includes('IDLE')) return 'unsupported';
    const pooled = await this.acquire();
    const { client } = pooled;
    let isBroken = false;
    try {
      const opened = await client.mailboxOpen(mailboxPathToImapName(path, this.namespace), { readOnly: true });
      // Mail that arrived after the last reading of this folder and before this wait began: IDLE would not announce it.
      const seen = this.uidNextSeen.get(path);
      if (seen !== undefined && opened.uidNext > seen) return 'new-mail';
      return await new Promise<'new-mail' | 'timeout'>((resolve) => {
        let isDone = false;
        const finish = (outcome: 'new-mail' | 'timeout') => {
          if (isDone) return;
          isDone = true;
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          client.off('exists', onExists);
          resolve(outcome);
        };
        const onExists = () => finish('new-mail');
        const onAbort = () => finish('timeout');
        const timer = setTimeout(() => finish('timeout'), timeoutMs);
        client.on('exists', onExists);
        signal.addEventListener('abort', onAbort, { once: true });
        if (signal.aborted) onAbort();
        // idle() returns only when IDLE ends: the NOOP below ends it (imapflow sends DONE before any next command).
        client.idle().catch(() => {
          isBroken = true;
          finish('timeout');
        });
      });
    } catch (err) {
      this.options.logger.debug(`${this.label}: waiting for new mail failed: ${err instanceof Error ? err.message : String(err)}`);
      isBroken = true;
      return 'timeout';
    } finally {
      if (!isBroken) {
        try {
          await client.noop();
        } catch {
          isBroken = true;
        }
      }
      this.release(pooled, isBroken);
    }
  }

  /** @internal A folder opened for reading reports its UIDNEXT (see waitForNewMail). */
  noteUidNext(path: MailboxPath, uidNext: number | undefined): void {
    if (uidNext !== undefined) this.uidNextSeen.set(path, uidNext);
  }

  /**
   * The first connection, with the engine's back-off while the failure is temporary: a server that refuses one
   * connection in five, or throttles logins, must not end the run before it began.
   */
  private async acquireFirst(): Promise<PooledClient> {
    const retries = this.options.connectRetries ?? 6;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.acquire();
      } catch (err) {
        if (!(err instanceof MailshiftError) || err.retry !== 'later' || attempt > retries || this.options.signal?.aborted) throw err;
        const delayMs = decideBackoffMs(attempt, this.options.retryBaseMs ?? 2_000, this.options.retryMaxMs ?? 300_000, retryAfterMs(err));
        this.options.logger.warn(`${this.label}: ${err.message}; connecting again in ${(delayMs / 1000).toFixed(1)} s (${attempt}/${retries})`);
        await sleep(delayMs, this.options.signal);
      }
    }
  }

  /** A connection from the pool, opening one if the pool has room, else waiting for one. */
  async acquire(): Promise<PooledClient> {
    for (;;) {
      if (this.isClosed) throw new MailshiftError('MAILSHIFT_IMAP_CLOSED', `${this.label}: store closed`, { scope: 'account' });
      const ready = this.idle.pop();
      if (ready) {
        if (ready.client.usable) return ready;
        this.discard(ready);
        continue;
      }
      if (this.openCount < this.maxConnections) {
        this.openCount += 1;
        try {
          if (this.hasLoggedIn && this.options.readPassword) await this.refreshPassword(this.options.readPassword);
          const client = await connectImap({ ...this.options, password: this.currentPassword });
          this.hasLoggedIn = true;
          return { client, errors: 0 };
        } catch (err) {
          this.openCount -= 1;
          this.wake();
          throw err;
        }
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Reads the secret again; if that fails (the file was moved away), the last one is used and a warning says why. */
  private async refreshPassword(read: () => Promise<string>): Promise<void> {
    try {
      this.currentPassword = await read();
    } catch (err) {
      this.options.logger.warn(`${this.label}: reading the password again failed (${err instanceof Error ? err.message : String(err)}); logging in with the one read before`);
    }
  }

  /** Returns a connection; a broken one (or one near the server's error budget) is closed instead. */
  release(pooled: PooledClient, isBroken: boolean): void {
    if (isBroken || this.isClosed || !pooled.client.usable || pooled.errors >= this.errorBudget) {
      this.discard(pooled);
      return;
    }
    this.idle.push(pooled);
    this.wake();
  }

  private discard(pooled: PooledClient): void {
    this.openCount -= 1;
    closeQuietly(pooled.client);
    this.wake();
  }

  private wake(): void {
    this.waiters.shift()?.();
  }

  /** How long a bulk download may wait for the server before the connection counts as dead (imapflow's default). */
  get socketTimeoutMs(): number {
    return this.options.socketTimeoutMs ?? 5 * 60_000;
  }

  isNearErrorBudget(pooled: PooledClient): boolean {
    return pooled.errors >= this.errorBudget;
  }

  /** Turns an imapflow error into a MailshiftError with a scope and retry advice the engine acts on. */
  wrap(err: unknown, what: string, scope: 'message' | 'mailbox' | 'account'): MailshiftError {
    if (err instanceof MailshiftError) return err;
    const failure = classifyImapError(err);
    const message = `${this.label}: cannot ${what}: ${failure.text}`;
    switch (failure.kind) {
      case 'auth':
        return new ImapError('MAILSHIFT_IMAP_AUTH', message, failure, { scope: 'account', exitCode: ExitCode.config, cause: err });
      case 'tls':
        return new ImapError('MAILSHIFT_IMAP_TLS', message, failure, { scope: 'account', exitCode: ExitCode.config, cause: err });
      case 'overquota':
        return new ImapError('MAILSHIFT_IMAP_OVERQUOTA', message, failure, {
          scope: 'account',
          hint: 'the target mailbox is full: raise its quota and run the same command again (nothing is copied twice)',
          cause: err,
        });
      case 'connection':
      case 'throttled':
      case 'unavailable':
        return new ImapError(`MAILSHIFT_IMAP_${failure.kind.toUpperCase()}`, message, failure, { scope: 'mailbox', retry: 'later', cause: err });
      case 'too-big':
        return new ImapError('MAILSHIFT_IMAP_TOO_BIG', message, failure, { scope: 'message', cause: err });
      case 'message':
        return new ImapError('MAILSHIFT_IMAP_MESSAGE', message, failure, { scope: 'message', cause: err });
      default:
        return new ImapError(failure.kind === 'nonexistent' ? 'MAILSHIFT_IMAP_NONEXISTENT' : 'MAILSHIFT_IMAP_FAILED', message, failure, { scope, cause: err });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.isClosed = true;
    const idle = this.idle;
    this.idle = [];
    await Promise.all(
      idle.map(async ({ client }) => {
        try {
          await Promise.race([client.logout(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
        } catch {
          // logging out of a dead connection is not worth an error
        }
        closeQuietly(client);
      }),
    );
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

function closeQuietly(client: ImapFlow): void {
  try {
    client.close();
  } catch {
    // already closed
  }
}

const systemFlagByLower = new Map(systemFlags.map((flag) => [flag.toLowerCase(), flag]));

/** IMAP flags -> system flags and keywords. \Recent is a session flag (never carried); other \-flags are unknown. */
export function splitImapFlags(flags: Iterable<string>): { flags: Set<SystemFlag>; keywords: Set<string> } {
  const system = new Set<SystemFlag>();
  const keywords = new Set<string>();
  for (const flag of flags) {
    const known = systemFlagByLower.get(flag.toLowerCase());
    if (known) system.add(known);
    else if (!flag.startsWith('\\')) keywords.add(flag);
  }
  return { flags: system, keywords };
}

/** A keyword must be an IMAP atom (RFC 3501 flag-keyword); anything else cannot be sent in APPEND. */
export function isSendableKeyword(keyword: string): boolean {
  return keyword.length > 0 && !/[\u0000-\u0020\u007f-\uffff(){%*"\\\]]/.test(keyword);
}

/** UIDs -> a compact IMAP sequence set ("1:5,9,12:14"). */
export function formatUidSet(uids: readonly number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j += 1;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Splits UIDs into runs whose sequence set stays short: Exchange refuses commands over 10,240 bytes. */
export function chunkUids(uids: readonly number[], maxSetChars = 2_000, maxCount = 500): number[][] {
  const sorted = [...uids].sort((a, b) => a - b);
  const chunks: number[][] = [];
  let current: number[] = [];
  let chars = 0;
  for (const uid of sorted) {
    const cost = String(uid).length + 1;
    if (current.length > 0 && (chars + cost > maxSetChars || current.length >= maxCount)) {
      chunks.push(current);
      current = [];
      chars = 0;
    }
    current.push(uid);
    chars += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

class ImapMailbox implements Mailbox {
  private pooled: PooledClient | undefined;
  private selected: MailboxObject | undefined;
  /** A mailbox opened for reading lists and downloads over this session: its connection is no longer imapflow's. */
  private raw: RawImapSession | undefined;

  constructor(
    private readonly store: ImapStore,
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

function toListedFromRaw(attributes: FetchAttributes & { uid: number }): ListedMessage {
  const { flags, keywords } = splitImapFlags(attributes.flags ?? []);
  const internalDate = attributes.internalDate === undefined ? undefined : parseImapDateTime(attributes.internalDate);
  return {
    id: String(attributes.uid),
    uid: attributes.uid,
    flags,
    keywords,
    ...(internalDate ? { internalDate } : {}),
    ...(attributes.size !== undefined ? { sizeBytes: attributes.size } : {}),
    ...(attributes.headerFields ? { headers: attributes.headerFields } : {}),
  };
}

function toListed(message: FetchMessageObject): ListedMessage {
  const { flags, keywords } = splitImapFlags(message.flags ?? []);
  const internalDate = message.internalDate === undefined ? undefined : new Date(message.internalDate);
  return {
    id: String(message.uid),
    uid: message.uid,
    flags,
    keywords,
    ...(internalDate && !Number.isNaN(internalDate.getTime()) ? { internalDate } : {}),
    ...(message.size !== undefined ? { sizeBytes: message.size } : {}),
    ...(message.headers ? { headers: message.headers } : {}),
  };
}
