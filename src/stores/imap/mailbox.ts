import { Readable } from 'node:stream';
import type { ImapFlow } from 'imapflow';
import { encodePath } from 'imapflow/lib/tools.js';
import { toCrlf } from '../../../converters/message/crlf.js';
import { MailshiftError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { IncomingMessage, MailboxPath, MessageRef } from '../../core/types.js';
import type { FlagUpdate, FlagUpdateMode, FlagUpdateOutcome, ListedMessage, ListOptions, Mailbox, MailboxStatus } from '../store.js';
import { buildAppendCommand, decideLiteralMode, formatQuoted, parseAppendUid, type AppendItem } from './append-command.js';
import type { CompressionDecision } from './compression.js';
import { classifyImapError, ImapError } from './errors.js';
import { planFlagStores } from './flag-store.js';
import { formatIdCommand } from './session-setup.js';
import { isSendableKeyword } from './flags.js';
import { toListedFromRaw } from './listed.js';
import { RawImapSession, toFailure, type RawSockets, type TaggedAnswer } from './raw-session.js';
import type { FetchAttributes } from './response-framer.js';
import { chunkUids, formatUidSet } from './uid-set.js';

/**
 * One IMAP folder as a Mailbox: it holds one pooled connection for its lifetime (a connection has one selected
 * mailbox). imapflow logs in (and lists the folders, store.ts); then the connection is handed to a raw session
 * (RawImapSession), over which the folder is EXAMINEd (created first when it is missing), listed, read, appended to
 * (pipelined, append-command.ts) and has its flags updated.
 *
 * Over 400 lines: listing, reading, appending and flag updates share the selected connection's state (the raw
 * session, its capabilities, the error budget), so they stay in one class.
 */

/** APPEND commands in flight on one connection: enough to keep a 40 ms link busy with 1 MB MULTIAPPENDs. */
const appendPipelineDepth = 4;

/**
 * COMPRESS DEFLATE, sent (or being sent) on a session: once per connection, whichever folder uses it, also when the
 * server refused it.
 */
const compressionOf = new WeakMap<RawImapSession, Promise<void>>();

/** What the store's folder listing said of a folder (LIST-STATUS): enough to know, without EXAMINE, that nothing is new. */
export interface ListedStatus {
  readonly uidValidity: number;
  readonly uidNext: number;
  /** Where the server keeps mod-sequences (CONDSTORE): taken at the listing, before anything is read. */
  readonly highestModseq?: number;
}

/**
 * A pooled connection and the NO/BAD answers it collected (the store replaces it near its error budget). Once a
 * folder has used it, imapflow no longer drives it: `raw` does, and serves the next folder (imapflow's `client` is
 * then read only for what it learnt at login: capabilities, enabled extensions).
 */
export interface PooledClient {
  readonly client: ImapFlow;
  errors: number;
  raw?: RawImapSession;
}

/**
 * The connection's raw session, taken over from imapflow (`unbind()`) the first time. `idCommand`: the ID a connection
 * handed over just now still owes the server (imapflow sent none, session-setup.ts), to go out with its next
 * commands; undefined when it was handed over before, or the server has no ID.
 */
export function takeRawSession(pooled: PooledClient, socketTimeoutMs: number, clientVersion: string): { raw: RawImapSession; idCommand?: string } {
  if (pooled.raw) return { raw: pooled.raw };
  const { client } = pooled;
  pooled.raw = new RawImapSession(client.unbind() as unknown as RawSockets, socketTimeoutMs);
  return { raw: pooled.raw, ...(client.capabilities.has('ID') ? { idCommand: formatIdCommand(clientVersion) } : {}) };
}

/** What EXAMINE said of the folder. */
interface Selection {
  readonly uidValidity: number | undefined;
  readonly uidNext: number | undefined;
  readonly exists: number;
  /** Empty or absent on a read-only selection (nothing can be stored there). */
  readonly permanentFlags: ReadonlySet<string> | undefined;
  readonly highestModseq: number | undefined;
}

/** What a mailbox needs from its store: connections from the pool, and the store's error wording. */
export interface MailboxHost {
  readonly label: string;
  readonly socketTimeoutMs: number;
  /** Said in the ID command that goes with a connection's first EXAMINE. */
  readonly clientVersion: string;
  acquire(kind?: 'any' | 'imapflow'): Promise<PooledClient>;
  release(pooled: PooledClient, isBroken: boolean): void;
  isNearErrorBudget(pooled: PooledClient): boolean;
  wrap(err: unknown, what: string, scope: 'message' | 'mailbox' | 'account'): MailshiftError;
  /** A folder opened for reading reports its UIDNEXT (what waitForNewMail compares with). */
  noteUidNext(path: MailboxPath, uidNext: number | undefined): void;
  /** Whether connections run COMPRESS=DEFLATE: undefined until the first round trip was timed (compression.ts). */
  readonly compression: CompressionDecision | undefined;
  /** The first timed round trip decides compression for every connection of the store; later ones are ignored. */
  noteRoundTrip(roundTripMs: number, isOffered: boolean): CompressionDecision;
  /** A connection sent COMPRESS DEFLATE: whether the server took it (logged). */
  noteCompressed(isOn: boolean): void;
}

export class ImapMailbox implements Mailbox {
  private pooled: PooledClient | undefined;
  private selected: Selection | undefined;
  /** Once opened, the folder is used over this session only: its connection is no longer imapflow's. */
  private raw: RawImapSession | undefined;
  /** The raw session being set up (callers in flight at once share it). */
  private rawOpening: Promise<RawImapSession> | undefined;
  /** The listing asked for with EXAMINE (the `listAfterUid` hint), until list() takes it. */
  private prefetched: { readonly afterUid: number; readonly entries: readonly (FetchAttributes & { uid: number })[] } | undefined;
  /** Set by the first append: the folder is no longer as EXAMINE found it (empty, say). */
  private hasAppended = false;
  /** What the server offers, read before the hand-over (imapflow knows it, the raw session does not). */
  private capabilities: ReadonlySet<string> = new Set();
  private appendLimit: number | undefined;
  /** The folder's name as sent on the wire (modified UTF-7 unless UTF8=ACCEPT is on). */
  private wireName = '';
  /**
   * Opened for reading without EXAMINE: the store's listing said no message is above `listAfterUid`. The folder is
   * selected the first time anything else is asked of it.
   */
  private unchanged: ListedStatus | undefined;

  constructor(
    private readonly store: MailboxHost,
    readonly path: MailboxPath,
    private readonly name: string,
    private readonly mode: 'read' | 'write',
    /** OpenHints.listAfterUid: list above this UID in the same round trip as EXAMINE. */
    private readonly listAfterUid?: number,
    /** The store's last listing did not have this folder: opened for writing, it is created in the same round trip. */
    private readonly isKnownMissing = false,
    /** What the store's listing said of this folder, when it was asked (read mode, with `listAfterUid`). */
    listed?: ListedStatus,
  ) {
    // UIDs are below UIDNEXT: at or under listAfterUid + 1, nothing is above the watermark and there is nothing to list.
    if (mode === 'read' && listed && listAfterUid !== undefined && listed.uidNext <= listAfterUid + 1) this.unchanged = listed;
  }

  /**
   * Selects the mailbox (EXAMINE for reading); for writing, creates and subscribes it first when it is missing. A
   * folder the listing showed unchanged is not selected now (no round trip, no connection held): a second run with
   * nothing new costs nothing per folder.
   */
  async open(): Promise<void> {
    if (this.unchanged) {
      this.store.noteUidNext(this.path, this.unchanged.uidNext);
      return;
    }
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
   * Over the raw session: a fresh connection is handed over from imapflow here, one a previous folder handed back is
   * used as it is. With the `listAfterUid` hint (the first time only) the listing goes in the same round trip.
   */
  private async select(): Promise<Selection> {
    const pooled = this.pooled;
    if (!pooled) throw this.closedAfterError();
    const { client } = pooled;
    this.capabilities = new Set(client.capabilities.keys());
    const limit = client.capabilities.get('APPENDLIMIT');
    this.appendLimit = typeof limit === 'number' && limit > 0 ? limit : undefined;
    this.wireName = encodePath(client, this.name);
    const { raw, idCommand } = takeRawSession(pooled, this.store.socketTimeoutMs, this.store.clientVersion);
    this.raw = raw;
    // Who we are (RFC 2971), first on a fresh connection, in the same round trip as its EXAMINE: imapflow sent no ID
    // (session-setup.ts), and some servers select nothing for a client that did not say. The answer is not needed.
    if (idCommand) void raw.sendCommand([{ text: `${idCommand}\r\n` }]);
    const isOffered = this.capabilities.has('COMPRESS=DEFLATE');
    const isFirst = this.selected === undefined && this.prefetched === undefined;
    const afterUid = this.mode === 'read' && isFirst ? this.listAfterUid : undefined;
    const timeRoundTrip = this.store.compression === undefined;
    // A folder the listing did not have: CREATE and SUBSCRIBE go out ahead of the EXAMINE, all in one round trip,
    // instead of an EXAMINE that fails, then each in turn. ALREADYEXISTS (created meanwhile) is what we wanted.
    const creating = this.mode === 'write' && this.isKnownMissing && this.selected === undefined ? this.sendCreate(raw) : undefined;
    const examined = await raw.examine(formatQuoted(this.wireName), afterUid !== undefined ? { set: `${afterUid + 1}:*`, items: listingItems().join(' ') } : undefined, {
      timeRoundTrip,
      // Mod-sequences are read from a source only (resync --flags); a target needs none.
      condstore: this.mode === 'read' && this.capabilities.has('CONDSTORE'),
    });
    const created = await creating;
    if (examined.answer.status === 'BYE') throw toFailure(examined.answer.text, 'EConnectionClosed', 'BYE');
    // The EXAMINE failed because the CREATE did: the CREATE's refusal says why.
    if (examined.answer.status !== 'OK' && created && !isCreated(created)) throw toFailure(created.text, undefined, created.status);
    if (examined.answer.status !== 'OK') throw toFailure(examined.answer.text, undefined, examined.answer.status);
    // The first timed round trip decides compression; it is switched on by the first command that moves messages
    // (rawSession), so a folder with nothing new never waits for COMPRESS.
    if (examined.roundTripMs !== undefined) this.store.noteRoundTrip(examined.roundTripMs, isOffered);
    if (afterUid !== undefined && examined.listing) this.prefetched = { afterUid, entries: examined.listing };
    return {
      uidValidity: examined.uidValidity,
      uidNext: examined.uidNext,
      exists: examined.exists ?? 0,
      permanentFlags: examined.permanentFlags ? new Set(examined.permanentFlags) : undefined,
      highestModseq: examined.highestModseq,
    };
  }

  private async create(): Promise<void> {
    await this.createRaw();
  }

  /** The connection was dropped after a failure: the caller reopens the folder (and re-checks what arrived). */
  private closedAfterError(): MailshiftError {
    return new MailshiftError('MAILSHIFT_IMAP_CLOSED', `${this.store.label}: the connection for "${this.name}" was closed after an error`, { scope: 'mailbox', retry: 'later' });
  }

  /** A new connection with the same mailbox selected; a UIDVALIDITY that changed meanwhile makes the caller start over. */
  private async reconnect(): Promise<void> {
    this.pooled = await this.store.acquire();
    // Not selected before (the listing showed it unchanged): the UIDVALIDITY status() reported is what must still hold.
    const before = this.selected ?? this.unchanged;
    this.unchanged = undefined;
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
   * The folder's raw session: its connection, selected, taken over from imapflow (`unbind()`). It keeps its place in
   * the pool (--max-connections) until the session ends. A session that collected nearly the server's error budget
   * of NO/BAD answers (Exchange drops one at 10) is replaced, once its commands in flight are answered.
   */
  private async rawSession(what: string): Promise<RawImapSession> {
    if (this.raw && this.pooled && this.store.isNearErrorBudget(this.pooled)) {
      const worn = this.raw;
      await worn.whenIdle();
      if (this.raw === worn) await this.closeRaw();
    }
    if (!this.raw) {
      this.rawOpening ??= this.openRaw(what).finally(() => (this.rawOpening = undefined));
      await this.rawOpening;
    }
    const raw = this.raw!;
    await this.compressOnce(raw);
    return raw;
  }

  /**
   * COMPRESS=DEFLATE where the store decided it (a slow link, compression.ts), before the first command that moves
   * messages on this connection: after EXAMINE, not with it, so that a folder with nothing new never waits for it.
   * Every caller waits for the one COMPRESS (a command sent meanwhile would cross the switch to DEFLATE).
   */
  private async compressOnce(raw: RawImapSession): Promise<void> {
    if (raw.isCompressed || !this.store.compression?.use || !this.capabilities.has('COMPRESS=DEFLATE')) return;
    let compressing = compressionOf.get(raw);
    if (!compressing) {
      compressing = (async () => {
        await raw.whenIdle();
        // Still busy (a response stream of this folder is open): this connection stays uncompressed.
        if (raw.isUsable && raw.isIdle) this.store.noteCompressed(await raw.compress());
      })();
      compressionOf.set(raw, compressing);
    }
    await compressing;
  }

  /** The previous session failed and was closed: a new connection, the folder selected on it again. */
  private async openRaw(what: string): Promise<RawImapSession> {
    try {
      if (!this.pooled || !this.raw) await this.reconnect();
    } catch (err) {
      throw err instanceof MailshiftError ? err : this.fail(err, what, 'mailbox');
    }
    return this.raw!;
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
    this.raw = undefined;
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
    if (!this.selected && this.unchanged) {
      const { uidValidity, uidNext, highestModseq } = this.unchanged;
      return { uidValidity, uidNext, ...(highestModseq !== undefined ? { highestModseq } : {}) };
    }
    const selected = this.selected;
    if (!selected) return {};
    return {
      ...(selected.uidValidity !== undefined ? { uidValidity: selected.uidValidity } : {}),
      ...(selected.uidNext !== undefined ? { uidNext: selected.uidNext } : {}),
      ...(selected.highestModseq !== undefined ? { highestModseq: selected.highestModseq } : {}),
    };
  }

  /** The listing, over the raw session. */
  async *list(signal?: AbortSignal, options: ListOptions = {}): AsyncIterable<ListedMessage> {
    // Empty when opened, and still so (a folder opened for writing may have had appends since): no round trip.
    if (this.selected?.exists === 0 && !this.hasAppended) return;
    const afterUid = options.afterUid ?? 0;
    const hasHeaderFields = options.headerFields !== undefined && options.headerFields.length > 0;
    if (this.unchanged) {
      // Nothing above the watermark, as the listing said: nothing to list. Anything else needs the folder selected.
      if (afterUid >= (this.listAfterUid ?? 0) && !hasHeaderFields && options.changedSinceModseq === undefined) return;
      try {
        await this.rawSession('list messages');
      } catch (err) {
        throw err instanceof MailshiftError ? err : this.store.wrap(err, `open folder "${this.name}"`, 'mailbox');
      }
    }
    const prefetched = this.prefetched;
    this.prefetched = undefined;
    // CONDSTORE (RFC 7162): only what changed since, where the server keeps mod-sequences for this folder.
    const changedSince = options.changedSinceModseq !== undefined && this.selected?.highestModseq !== undefined && this.capabilities.has('CONDSTORE') ? options.changedSinceModseq : undefined;
    if (prefetched && prefetched.afterUid === afterUid && !hasHeaderFields && changedSince === undefined) {
      for (const attributes of prefetched.entries) if (attributes.uid > afterUid) yield toListedFromRaw(attributes);
      return;
    }
    const items = listingItems();
    if (hasHeaderFields) items.push(`BODY.PEEK[HEADER.FIELDS (${options.headerFields!.map((field) => field.toUpperCase()).join(' ')})]`);
    const session = await this.rawSession('list messages');
    try {
      for await (const attributes of session.fetchAttributes(`${afterUid + 1}:*`, items.join(' '), signal, changedSince !== undefined ? `CHANGEDSINCE ${changedSince}` : undefined)) {
        // "n:*" always includes the highest UID, even when it is below n (RFC 3501 §6.4.8).
        if (attributes.uid <= afterUid) continue;
        yield toListedFromRaw(attributes);
      }
    } catch (err) {
      // An empty folder answers "1:*" with an error on some servers: nothing to list then.
      if (this.selected?.exists === 0 && isRefusal(err)) return;
      throw await this.failRaw(err, 'list messages', 'mailbox');
    }
  }

  async read(ref: MessageRef, signal?: AbortSignal): Promise<Readable> {
    const uid = refUid(ref);
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

  /**
   * Bodies in bulk over the raw session: pipelined UID FETCHes of up to 500 UIDs, read without imapflow's tokenizer.
   * A failure ends the session (the engine reopens the folder and goes on).
   */
  async *readMany(refs: readonly MessageRef[], signal?: AbortSignal): AsyncIterable<{ ref: MessageRef; content: Buffer }> {
    const byUid = new Map<number, MessageRef>();
    for (const ref of refs) byUid.set(refUid(ref), ref);
    if (byUid.size === 0) return;
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
  private sendableFlags(message: { readonly flags: ReadonlySet<string>; readonly keywords: ReadonlySet<string> }): { flags: string[]; keywords: string[] } {
    // EXAMINE reports no PERMANENTFLAGS (nothing can be stored in a read-only selection), so an empty set says
    // nothing; a list without \* names the keywords the folder takes.
    const permanent = this.selected?.permanentFlags;
    const acceptsAnyKeyword = !permanent || permanent.size === 0 || permanent.has('\\*');
    const keywords = [...message.keywords].filter((keyword) => isSendableKeyword(keyword) && (acceptsAnyKeyword || permanent.has(keyword)));
    return { flags: [...message.flags, ...keywords], keywords };
  }

  /** How many append calls may be in flight at once on this folder's one connection (they are pipelined). */
  get appendSlots(): number {
    return this.mode === 'write' ? appendPipelineDepth : 1;
  }

  /**
   * Several messages in one MULTIAPPEND (RFC 3502) when the server offers it: one command, one transaction, and
   * Dovecot syncs the folder once per command instead of once per message (which grows with the folder: 10,000
   * single APPENDs into one folder took 4x as long as mbsync's pipelined ones). All or nothing: a refusal stored
   * none of them. Falls back to one APPEND per message where MULTIAPPEND cannot be used. Returns the target UIDs
   * (APPENDUID) in order, where the server says them.
   */
  async appendMany(messages: readonly IncomingMessage[]): Promise<readonly (number | undefined)[]> {
    const canBatch = messages.length > 1 && this.capabilities.has('MULTIAPPEND') && (this.capabilities.has('BINARY') || messages.every((message) => !message.content.includes(0)));
    if (!canBatch) {
      const uids: (number | undefined)[] = [];
      for (const message of messages) uids.push((await this.append(message)).uid);
      return uids;
    }
    return this.appendRaw(messages.map((message) => ({ flags: this.sendableFlags(message).flags, ...(message.internalDate ? { internalDate: message.internalDate } : {}), content: toCrlf(message.content) })));
  }

  async append(message: IncomingMessage): Promise<MessageRef> {
    const { flags, keywords } = this.sendableFlags(message);
    const content = toCrlf(message.content);
    const [uid] = await this.appendRaw([{ flags, ...(message.internalDate ? { internalDate: message.internalDate } : {}), content }]);
    return {
      id: uid ? String(uid) : '',
      flags: message.flags,
      keywords: new Set(keywords),
      ...(message.internalDate ? { internalDate: message.internalDate } : {}),
      sizeBytes: content.length,
      ...(uid ? { uid } : {}),
    };
  }

  /**
   * One APPEND (or MULTIAPPEND) over the raw session, pipelined behind any others in flight. Appends go to the folder
   * EXAMINEd: measured on Dovecot, an APPEND to a folder that is not selected costs time in proportion to the folder's
   * size (it is opened and synced each time), to the EXAMINEd one it stays flat. A folder deleted under us
   * ([TRYCREATE]) is created again, once. A broken connection throws a retry-later error whose outcome is unknown:
   * the engine lists the target again before it sends anything again.
   */
  private async appendRaw(items: readonly AppendItem[]): Promise<readonly (number | undefined)[]> {
    const what = items.length > 1 ? `append ${items.length} messages` : 'append a message';
    const tooBig = this.appendLimit !== undefined ? items.find((item) => item.content.length > this.appendLimit!) : undefined;
    if (tooBig) throw this.store.wrap(Object.assign(new Error(`message of ${tooBig.content.length} bytes is over the server's APPENDLIMIT=${this.appendLimit}`), { serverResponseCode: 'APPENDLIMIT' }), `${what} in "${this.name}"`, 'message');
    const command = buildAppendCommand(this.wireName, items, { literalMode: decideLiteralMode(this.capabilities), hasBinary: this.capabilities.has('BINARY') });
    this.hasAppended = true;
    let answer = await (await this.rawSession(what)).sendCommand(command);
    if (answer.status === 'NO' && classifyImapError(toFailure(answer.text, undefined, 'NO')).kind === 'trycreate') {
      await this.createRaw();
      answer = await (await this.rawSession(what)).sendCommand(command);
    }
    await this.throwIfFailed(answer, what, 'message');
    const appended = parseAppendUid(answer.text, items.length);
    // A UID under another UIDVALIDITY than the one we selected names nothing we can find again.
    const isCurrent = appended !== undefined && (this.selected?.uidValidity === undefined || appended.uidValidity === this.selected.uidValidity);
    return items.map((_, i) => (isCurrent ? appended.uids[i] : undefined));
  }

  /** The folder again, over the raw session, after the server said [TRYCREATE]. */
  private async createRaw(): Promise<void> {
    const created = await this.sendCreate(await this.rawSession('create the folder'));
    if (!isCreated(created)) await this.throwIfFailed(created, 'create the folder', 'mailbox');
  }

  /** CREATE and SUBSCRIBE, pipelined; resolves with the CREATE's answer (a subscription refused is not an error). */
  private sendCreate(session: RawImapSession): Promise<TaggedAnswer> {
    const folder = formatQuoted(this.wireName);
    const created = session.sendCommand([{ text: `CREATE ${folder}\r\n` }]);
    const subscribed = session.sendCommand([{ text: `SUBSCRIBE ${folder}\r\n` }]);
    return Promise.all([created, subscribed]).then(([answer]) => answer);
  }

  /**
   * A tagged answer that is not OK, as the error the engine acts on: a NO or BAD counts against the connection's error
   * budget; BYE (the connection failed) ends the raw session.
   */
  private async throwIfFailed(answer: TaggedAnswer, what: string, scope: 'message' | 'mailbox'): Promise<void> {
    if (answer.status === 'OK') return;
    if (answer.status === 'BYE') throw await this.failRaw(toFailure(answer.text, 'EConnectionClosed', 'BYE'), what, 'mailbox');
    if (this.pooled) this.pooled.errors += 1;
    const wrapped = this.store.wrap(toFailure(answer.text, undefined, answer.status), `${what} in "${this.name}"`, scope);
    if (wrapped.retry === 'later' && !(wrapped instanceof ImapError && wrapped.isRefused)) await this.closeRaw().catch(() => undefined);
    throw wrapped;
  }

  /**
   * `resync --flags source|merge` on an IMAP target: the messages are named by their UID here (the engine keeps the
   * map from the source's identity to it, from APPENDUID or found by identity once). Reads their flags (one pipelined
   * UID FETCH), then stores what differs with UID STORE, messages that need the same change in one command. Updates
   * without `targetUid`, or whose UID is gone, are counted as not found. With `dryRun` it only counts.
   */
  async updateFlags(updates: readonly FlagUpdate[], mode: FlagUpdateMode, options: { dryRun?: boolean } = {}): Promise<FlagUpdateOutcome> {
    const byUid = new Map<number, FlagUpdate>();
    let notFound = 0;
    for (const update of updates) {
      if (update.targetUid === undefined) notFound += 1;
      else byUid.set(update.targetUid, update);
    }
    if (byUid.size === 0) return { differences: 0, applied: 0, notFound, changedMeanwhile: 0 };
    const current = new Map<number, ListedMessage>();
    const session = await this.rawSession('read flags');
    try {
      for (const chunk of chunkUids([...byUid.keys()])) {
        for await (const attributes of session.fetchAttributes(formatUidSet(chunk), 'UID FLAGS RFC822.SIZE')) {
          if (byUid.has(attributes.uid)) current.set(attributes.uid, toListedFromRaw(attributes));
        }
      }
    } catch (err) {
      throw await this.failRaw(err, 'read flags', 'mailbox');
    }
    notFound += byUid.size - current.size;
    const changes = planFlagStores(byUid, current, mode, (flags) => this.sendableFlags(flags).flags);
    const differences = changes.reduce((sum, change) => sum + change.uids.length, 0);
    if (options.dryRun || this.mode !== 'write' || differences === 0) return { differences, applied: 0, notFound, changedMeanwhile: 0 };
    // STORE needs a read-write selection: SELECT for the stores, EXAMINE again after them (the folder is otherwise
    // only ever read-only, where nothing can be expunged). All pipelined: one round trip for the lot.
    const folder = formatQuoted(this.wireName);
    const selecting = session.sendCommand([{ text: `SELECT ${folder}\r\n` }]);
    const stores = changes.flatMap((change) =>
      chunkUids(change.uids).map(async (uids) => ({ uids, answer: await session.sendCommand([{ text: `UID STORE ${formatUidSet(uids)} ${change.item} (${change.flags.join(' ')})\r\n` }]) })),
    );
    const examining = session.sendCommand([{ text: `EXAMINE ${folder}\r\n` }]);
    await this.throwIfFailed(await selecting, 'select the folder for writing flags', 'mailbox');
    let applied = 0;
    for (const { uids, answer } of await Promise.all(stores)) {
      await this.throwIfFailed(answer, 'store flags', 'mailbox');
      applied += uids.length;
    }
    await this.throwIfFailed(await examining, 'select the folder read-only again', 'mailbox');
    return { differences, applied, notFound, changedMeanwhile: 0 };
  }

  /** Hands the connection back to the pool for the next folder; one that failed was closed already. */
  async [Symbol.asyncDispose](): Promise<void> {
    const raw = this.raw;
    if (raw && raw.outstanding > 0) await raw.whenIdle();
    this.releaseConnection(false);
  }
}

function refUid(ref: MessageRef): number {
  const uid = ref.uid ?? Number(ref.id);
  if (!Number.isInteger(uid) || uid <= 0) throw new MailshiftError('MAILSHIFT_BAD_REF', `not an IMAP message reference: ${ref.id}`);
  return uid;
}

/** What a listing asks for: a listing entry has a date and a size, an unsolicited flag update has neither. */
function listingItems(): string[] {
  return ['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE'];
}

/** Created, or there already (another session created it meanwhile, which is what we wanted). */
function isCreated(answer: TaggedAnswer): boolean {
  return answer.status === 'OK' || /ALREADYEXISTS|already exists/i.test(answer.text);
}

function isRefusal(err: unknown): boolean {
  const status = (err as { responseStatus?: unknown }).responseStatus;
  return status === 'NO' || status === 'BAD';
}

function messageGone(label: string, uid: number, name: string): MailshiftError {
  return new MailshiftError('MAILSHIFT_MESSAGE_GONE', `${label}: message UID ${uid} in "${name}" was expunged while we worked`, { scope: 'message' });
}
