import type { ImapFlow } from 'imapflow';
import { mailboxPathToImapName, type ImapNamespace } from '../../../converters/folders/imap-mapping.js';
import { decideBackoffMs, retryAfterMs, sleep } from '../../core/async.js';
import { MailshiftError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { MailboxPath } from '../../core/types.js';
import type { Mailbox, MailboxInfo, MailStore, OpenHints, ServerFacts, SkippedFolderName, StoreCaps } from '../store.js';
import type { ImapSpec } from '../spec.js';
import { connectImap, toConnectError, type ImapConnectOptions } from './connection.js';
import { decideCompression, type CompressionDecision } from './compression.js';
import { classifyImapError, ImapError } from './errors.js';
import { isInForeignNamespace, planListedFolders, type ListedFolderEntry } from './listed-folders.js';
import { readNamespaceAndFolders, type NamespaceRead } from './folder-list.js';
import { identifyOnce } from './session-setup.js';
import { ImapMailbox, takeRawSession, type ListedStatus, type MailboxHost, type PooledClient } from './mailbox.js';

/**
 * An IMAP account as a MailStore (imapflow underneath; nothing else in mailshift imports it). Its folders are
 * ImapMailbox (mailbox.ts); error classes errors.ts; flag and UID-set helpers flags.ts and uid-set.ts.
 *
 * Connections: a small pool, at most `maxConnections` (`--max-connections`). An open Mailbox holds one connection for
 * its lifetime (a connection has one selected mailbox); handed back, the connection (by then a raw session, see
 * mailbox.ts) serves the next folder, which saves the login's round trips per folder. A connection that failed, or that collected
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

/** ServerFacts with its namespace typed as the folder mapping reads it; credential: "password", "password (AUTH=PLAIN)", "OAuth2 access token". */
export interface ImapServerFacts extends ServerFacts {
  readonly namespace: ImapNamespace;
}

/** A folder listing (entries shaped as imapflow gave them), or why it failed. */
type FolderListing = { readonly entries: ListedFolderEntry[]; readonly isUtf8: boolean } | { readonly error: unknown };

function formatCredential(spec: ImapSpec): string {
  if (spec.auth === 'oauth2') return 'OAuth2 access token';
  return spec.auth ? `password (AUTH=${spec.auth.toUpperCase()})` : 'password';
}

export class ImapStore implements MailStore, MailboxHost {
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
  /** Folders the last listing left out as another namespace's (listMailboxes), as the server names them. */
  otherNamespaceFolders: readonly string[] = [];
  /** The secret the last connection logged in with (readPassword may have replaced the one read at start). */
  private currentPassword: string;
  /** The folders the last listing found: one opened for writing that is not among them is created on the way. */
  private listedPaths: ReadonlySet<MailboxPath> | undefined;
  /**
   * UIDVALIDITY and UIDNEXT of each folder, from the last listing (LIST-STATUS, on a store opened for reading). Each
   * is used once, by the next opening of its folder: a retry, or a later run of a watch, asks the server again.
   */
  private listedStatuses = new Map<MailboxPath, ListedStatus>();
  /**
   * The folder listing, asked for on the first connection as soon as it logged in (open()), taken by the first
   * listMailboxes(): the LIST is on the wire while the engine sets up, instead of after it.
   */
  private firstListing: Promise<FolderListing> | undefined;
  /** COMPRESS=DEFLATE or not, for every connection, once the first round trip was timed (compression.ts). */
  compression: CompressionDecision | undefined;
  /** The first connection's NAMESPACE, timed (sent with LIST, answered first): a sample of the link's round trip (noteRoundTrip). */
  private namespaceRoundTripMs: number | undefined;
  /** The prefixes of the other users' and shared namespaces: their folders are listed and left out. */
  private foreignPrefixes: readonly string[] = [];

  private constructor(private readonly options: ImapStoreOptions) {
    this.currentCaps = { readable: true, writable: Boolean(options.writable), crlf: true, sizeComparable: true, parallelAppend: true, parallelRead: true, newMailSignal: false, flagsBySourceKey: false, flagsByTargetUid: true };
    this.maxConnections = Math.max(1, options.maxConnections ?? 1);
    this.errorBudget = Math.max(1, options.errorBudget ?? 8);
    this.label = `${options.spec.tls ? 'imaps' : 'imap'}://${options.spec.user}@${options.spec.host}:${options.spec.port}`;
    this.currentPassword = options.password;
  }

  /**
   * Connects once (so a wrong password or certificate fails here, before any work) and reads the namespace. The
   * folders are asked for in the same round trip (folder-list.ts), and taken by the first listMailboxes(): the LIST
   * is answered while the engine sets up.
   */
  static async open(options: ImapStoreOptions): Promise<ImapStore> {
    const store = new ImapStore(options);
    const { pooled, namespace, listing } = await store.acquireFirst();
    const { client } = pooled;
    store.facts = {
      greeting: client.greeting,
      capabilities: [...client.capabilities.keys()],
      namespace: namespace.namespace,
      serverId: client.serverInfo ? { ...client.serverInfo } : undefined,
      credential: formatCredential(options.spec),
    };
    store.currentCaps = { ...store.currentCaps, newMailSignal: store.facts.capabilities.includes('IDLE') };
    store.namespaceRoundTripMs = namespace.roundTripMs;
    store.foreignPrefixes = namespace.foreignPrefixes;
    const others = namespace.foreignPrefixes.length > 0 ? `; other namespaces: ${namespace.foreignPrefixes.map((each) => JSON.stringify(each)).join(', ')}` : '';
    options.logger.debug(`${store.label}: personal namespace prefix ${JSON.stringify(namespace.namespace.prefix)}, delimiter ${JSON.stringify(namespace.namespace.delimiter)}${others}`);
    store.firstListing = listing;
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
    const prefetched = this.firstListing;
    this.firstListing = undefined;
    const listing = prefetched ? await prefetched : await this.readListing(await this.acquire('raw-first'));
    if ('error' in listing) throw this.wrap(listing.error, 'list the folders', 'account');
    const { entries, isUtf8 } = listing;
    this.skippedFolders.length = 0;
    const planned = planListedFolders(entries, this.namespace, isUtf8, signal, this.foreignPrefixes);
    this.otherNamespaceFolders = planned.outside;
    if (planned.outside.length > 0) {
      const examples = planned.outside.slice(0, 3).map((name) => `"${name}"`).join(', ');
      this.options.logger.info(`${this.label}: ${planned.outside.length} folder(s) of other namespaces left out (${examples}${planned.outside.length > 3 ? ', ...' : ''}): other users' or shared mail, not this account's`);
    }
    this.skippedFolders.push(...planned.skipped);
    this.listedPaths = new Set(planned.found.map((folder) => folder.path));
    this.listedStatuses = planned.statuses;
    yield* planned.found;
  }

  /**
   * The namespace and the folders over the connection's raw session, in one round trip (folder-list.ts); the
   * connection goes back to the pool once the LIST is answered (closed if it failed). `listing` never rejects.
   */
  private startListing(pooled: PooledClient): { namespace: Promise<NamespaceRead>; listing: Promise<FolderListing> } {
    const { client } = pooled;
    const { raw, idCommand } = takeRawSession(pooled, this.socketTimeoutMs, this.clientVersion);
    const isUtf8 = this.isUtf8(client);
    const read = readNamespaceAndFolders(raw, {
      capabilities: new Set([...client.capabilities.keys()].map((each) => each.toUpperCase())),
      // A source's folders with their UIDNEXT, in the same round trip (LIST-STATUS, RFC 5819): a folder with nothing
      // above the saved watermark is then never opened (mailbox.ts). HIGHESTMODSEQ too where CONDSTORE is offered:
      // `resync --flags` reads it from status().
      withStatus: !this.caps.writable,
      isUtf8,
      ...(idCommand ? { idCommand } : {}),
    });
    const listing = read.listing.then((result): FolderListing => {
      this.release(pooled, 'error' in result);
      return 'error' in result ? { error: result.error } : { entries: result.entries, isUtf8 };
    });
    return { namespace: read.namespace, listing };
  }

  /** The folders over a connection from the pool (the namespace is known by now). Never rejects. */
  private async readListing(pooled: PooledClient): Promise<FolderListing> {
    const { listing, namespace } = this.startListing(pooled);
    namespace.catch(() => undefined);
    return listing;
  }

  async openMailbox(path: MailboxPath, mode: 'read' | 'write', hints: OpenHints = {}): Promise<Mailbox> {
    if (mode === 'write' && !this.caps.writable) throw new MailshiftError('MAILSHIFT_READ_ONLY', `${this.label} was opened read-only`);
    let name: string;
    try {
      name = mailboxPathToImapName(path, this.namespace);
    } catch (err) {
      throw new MailshiftError('MAILSHIFT_IMAP_FOLDER_NAME', `${this.label}: cannot name folder "${path}" on the server: ${(err as Error).message}`, { scope: 'mailbox' });
    }
    // A folder written under a shared or another user's namespace ("Public/..." where the account's own prefix is
    // empty) would put this account's mail where others read it: refused, by name.
    if (mode === 'write' && isInForeignNamespace(name, this.namespace.prefix, this.foreignPrefixes)) {
      throw new MailshiftError('MAILSHIFT_IMAP_FOLDER_NAME', `${this.label}: folder "${path}" would be "${name}", in the server's namespace of other users' or shared folders; not written there`, {
        scope: 'mailbox',
        hint: 'copy it under another name: --map "^SOURCE-FOLDER$=>NEW-NAME" (or leave it out with --exclude)',
      });
    }
    const isKnownMissing = mode === 'write' && this.listedPaths !== undefined && !this.listedPaths.has(path);
    const listed = this.listedStatuses.get(path);
    this.listedStatuses.delete(path);
    const mailbox = new ImapMailbox(this, path, name, mode, hints.listAfterUid, isKnownMissing, listed);
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
    const pooled = await this.acquire('imapflow');
    const { client } = pooled;
    let isBroken = false;
    try {
      // A connection imapflow drives into a folder has not said who we are yet (session-setup.ts).
      await identifyOnce(client, this.clientVersion);
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

  /** @internal The first timed round trip decides compression for the store's connections (compression.ts). */
  noteRoundTrip(roundTripMs: number, isOffered: boolean): CompressionDecision {
    if (this.compression) return this.compression;
    const samples = this.namespaceRoundTripMs === undefined ? [roundTripMs] : [roundTripMs, this.namespaceRoundTripMs];
    this.compression = decideCompression({ isOffered, roundTripsMs: samples });
    this.options.logger.debug(`${this.label}: ${this.compression.reason}`);
    return this.compression;
  }

  /** @internal */
  noteCompressed(isOn: boolean): void {
    this.options.logger.debug(`${this.label}: ${isOn ? 'connection compressed (COMPRESS DEFLATE)' : 'the server refused COMPRESS DEFLATE: this connection is not compressed'}`);
  }

  /** @internal A folder opened for reading reports its UIDNEXT (see waitForNewMail). */
  noteUidNext(path: MailboxPath, uidNext: number | undefined): void {
    if (uidNext !== undefined) this.uidNextSeen.set(path, uidNext);
  }

  /**
   * The first connection, with the engine's back-off while the failure is temporary: a server that refuses one
   * connection in five, or throttles logins, must not end the run before it began.
   */
  private async acquireFirst(): Promise<{ pooled: PooledClient; namespace: NamespaceRead; listing: Promise<FolderListing> }> {
    const retries = this.options.connectRetries ?? 6;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const pooled = await this.acquire();
        const { namespace, listing } = this.startListing(pooled);
        try {
          return { pooled, namespace: await namespace, listing };
        } catch (err) {
          // The login did not take after all (Exchange), or the connection failed before NAMESPACE's answer.
          await listing;
          throw classifyImapError(err).kind === 'auth' ? toConnectError(err, this.options) : this.wrap(err, 'read the namespace', 'account');
        }
      } catch (err) {
        if (!(err instanceof MailshiftError) || err.retry !== 'later' || attempt > retries || this.options.signal?.aborted) throw err;
        const delayMs = decideBackoffMs(attempt, this.options.retryBaseMs ?? 2_000, this.options.retryMaxMs ?? 300_000, retryAfterMs(err));
        this.options.logger.warn(`${this.label}: ${err.message}; connecting again in ${(delayMs / 1000).toFixed(1)} s (${attempt}/${retries})`);
        await sleep(delayMs, this.options.signal);
      }
    }
  }

  /**
   * A connection from the pool, opening one if the pool has room, else waiting for one. 'imapflow': one imapflow
   * still drives (IDLE), not a raw session; a raw one is closed to make room when the pool is full. 'raw-first': a
   * raw session if one is idle, else any (a listing, which hands an imapflow one over).
   */
  async acquire(kind: 'any' | 'imapflow' | 'raw-first' = 'any'): Promise<PooledClient> {
    for (;;) {
      if (this.isClosed) throw new MailshiftError('MAILSHIFT_IMAP_CLOSED', `${this.label}: store closed`, { scope: 'account' });
      const at = kind === 'imapflow' ? this.idle.findLastIndex((each) => !each.raw) : kind === 'raw-first' ? findRawFirst(this.idle) : this.idle.length - 1;
      if (at >= 0) {
        const ready = this.idle.splice(at, 1)[0]!;
        if (isUsable(ready)) return ready;
        this.discard(ready);
        continue;
      }
      if (this.idle.length > 0 && this.openCount >= this.maxConnections) {
        this.discard(this.idle.shift()!);
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
    if (isBroken || this.isClosed || !isUsable(pooled) || pooled.errors >= this.errorBudget) {
      this.discard(pooled);
      return;
    }
    this.idle.push(pooled);
    this.wake();
  }

  private discard(pooled: PooledClient): void {
    this.openCount -= 1;
    if (pooled.raw) void pooled.raw.close().catch(() => undefined);
    else closeQuietly(pooled.client);
    this.wake();
  }

  private wake(): void {
    this.waiters.shift()?.();
  }

  get clientVersion(): string {
    return this.options.clientVersion ?? '0';
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
        return new ImapError(`MAILSHIFT_IMAP_${failure.kind.toUpperCase() as Uppercase<typeof failure.kind>}`, message, failure, { scope: 'mailbox', retry: 'later', cause: err });
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
      idle.map(async ({ client, raw }) => {
        if (raw) {
          await raw.close().catch(() => undefined);
          return;
        }
        // LOGOUT goes out, its answer is not waited for (a round trip at the end of every run); the connection is
        // closed when it comes, or after 2 s. Logging out of a dead connection is not worth an error.
        const timer = setTimeout(() => closeQuietly(client), 2_000);
        timer.unref();
        void client
          .logout()
          .catch(() => undefined)
          .finally(() => {
            clearTimeout(timer);
            closeQuietly(client);
          });
      }),
    );
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/**
 * The idle connection a listing takes: a raw session where there is one, so the one imapflow still drives stays for
 * the IDLE that needs it (a watch lists, then waits, every cycle); else the last.
 */
function findRawFirst(idle: readonly PooledClient[]): number {
  const raw = idle.findLastIndex((each) => each.raw !== undefined);
  return raw >= 0 ? raw : idle.length - 1;
}

/** A pooled connection that still works: its raw session's, or imapflow's, say. */
function isUsable(pooled: PooledClient): boolean {
  return pooled.raw ? pooled.raw.isUsable : pooled.client.usable;
}

function closeQuietly(client: ImapFlow): void {
  try {
    client.close();
  } catch {
    // already closed
  }
}
