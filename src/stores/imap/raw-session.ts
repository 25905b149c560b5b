import type { Readable, Writable } from 'node:stream';
import type { DeflateRaw } from 'node:zlib';
import { InterruptedError, MailshiftError } from '../../core/errors.js';
import type { CommandPart } from './append-command.js';
import { ImapProtocolError, parseFetchResponse, parseTaggedStatus, ResponseFramer, type FetchAttributes, type RawResponse } from './response-framer.js';

/**
 * Reads a folder over a connection imapflow logged in, then handed over (`unbind()`): the listing and the bodies of an
 * IMAP copy are almost all of its traffic, and this path reads them without imapflow's per-byte tokenizer (see
 * response-framer.ts for the measurements), and a folder opened for writing appends over it, many APPENDs in flight
 * at once (append-command.ts says why imapflow cannot). Login, TLS and LIST stay with imapflow; EXAMINE, CREATE and
 * COMPRESS=DEFLATE (over a slow link, compression.ts) are sent here.
 *
 * - Pipelined: the next UID FETCH is sent while the server still answers the previous one.
 * - Back-pressure: the socket is paused while the consumer is behind (at most `maxQueuedBytes` waiting).
 * - Nothing lost silently: a UID asked for and not delivered is looked up again (UID SEARCH); if the server still has
 *   it, the download fails (and is retried by the engine) instead of counting the message as expunged.
 * - Failures are thrown as plain objects shaped like imapflow's errors (responseStatus, responseText, code), so the
 *   one classifier in errors.ts decides what they mean.
 *
 * Over 400 lines: the FETCH streams, the command writer (literals, back-pressure), EXAMINE and COMPRESS (which
 * swaps the streams every other part reads and writes) share one connection's tags, response dispatch and failure
 * state, which would otherwise have to be handed between modules.
 */

export interface RawSockets {
  readonly readSocket: Readable;
  readonly writeSocket: Writable;
  /** The transport underneath (timeouts, destroy). */
  readonly socket: Readable & Writable & { setTimeout?(ms: number): unknown; destroy(error?: Error): unknown };
}

export interface FetchedMessage {
  readonly uid: number;
  /** The message exactly as the server sent it (CRLF lines). The caller owns it and may change it in place. */
  readonly content: Buffer;
}

export interface FetchBodiesOptions {
  /** UIDs per command; sequence sets stay short (Exchange refuses commands over 10,240 bytes). */
  readonly chunks: readonly (readonly number[])[];
  readonly formatUidSet: (uids: readonly number[]) => string;
  readonly signal?: AbortSignal;
  readonly maxQueuedBytes?: number;
}

/** An error the classifier understands: a tagged NO/BAD, or a broken connection. */
export interface RawSessionFailure extends Error {
  responseStatus?: string;
  responseText?: string;
  code?: string;
}

const defaultMaxQueuedBytes = 16 * 1024 * 1024;
const pipelineDepth = 2;

/** A command's tagged answer; BYE when the connection failed before it came. */
export interface TaggedAnswer {
  readonly status: string;
  readonly text: string;
}

export interface ExamineResult {
  readonly answer: TaggedAnswer;
  readonly exists?: number;
  readonly uidValidity?: number;
  readonly uidNext?: number;
  readonly permanentFlags?: readonly string[];
  /** HIGHESTMODSEQ (RFC 7162), on a connection with CONDSTORE enabled. */
  readonly highestModseq?: number;
  /** The listing asked for with the EXAMINE, when it was answered OK. */
  readonly listing?: readonly (FetchAttributes & { uid: number })[];
  /** With `timeRoundTrip`: how long a NOOP sent just before the EXAMINE took to be answered, in ms. */
  readonly roundTripMs?: number;
}

export class RawImapSession {
  private readonly framer: ResponseFramer;
  private tagCounter = 0;
  private readonly waiting = new Map<string, (status: TaggedAnswer) => void>();
  /** Commands are written one after another: a command's literals never interleave with the next command. */
  private writing: Promise<void> = Promise.resolve();
  /** The command whose synchronising literal waits for the server's "+" (or for its refusal). */
  private continuation: { readonly tag: string; readonly resolve: (isGranted: boolean) => void } | undefined;
  /** Woken when the connection fails: a write waiting for 'drain' must not wait for ever. */
  private readonly onFailure = new Set<() => void>();
  private untaggedHandler: ((response: RawResponse) => void) | undefined;
  private failure: RawSessionFailure | undefined;
  private byeText: string | undefined;
  private wake: (() => void) | undefined;
  private isClosed = false;
  /** Where the server's bytes are read: the socket, or once COMPRESS is on, the inflater behind it. */
  private input: Readable;
  /** Where commands are written: the socket, or once COMPRESS is on, the deflater in front of it. */
  private output: Writable;
  private deflater: DeflateRaw | undefined;
  private readonly onData = (chunk: Buffer) => {
    if (this.failure) return;
    try {
      this.framer.push(chunk);
    } catch (err) {
      this.fail(err instanceof ImapProtocolError ? toFailure(err.message, 'EPROTOCOL') : toFailure(String(err), 'EPROTOCOL'));
      this.sockets.socket.destroy();
    }
  };

  constructor(
    private readonly sockets: RawSockets,
    private readonly socketTimeoutMs: number,
  ) {
    this.framer = new ResponseFramer((response) => this.dispatch(response));
    const { readSocket, socket } = sockets;
    this.input = readSocket;
    this.output = sockets.writeSocket;
    readSocket.on('data', this.onData);
    const onEnd = () => this.fail(toFailure(this.byeText ? `* BYE ${this.byeText}` : 'connection closed by the server', 'EConnectionClosed'));
    readSocket.on('end', onEnd);
    readSocket.on('close', onEnd);
    readSocket.on('error', (err: Error & { code?: string }) => this.fail(toFailure(err.message, err.code ?? 'ECONNRESET')));
    if (socket !== readSocket) {
      socket.on('error', (err: Error & { code?: string }) => this.fail(toFailure(err.message, err.code ?? 'ECONNRESET')));
      socket.on('close', onEnd);
    }
    // Unpiped from imapflow's parser, the stream is paused: a 'data' listener alone does not start it again.
    readSocket.resume();
    socket.setTimeout?.(socketTimeoutMs);
    socket.on('timeout', () => {
      this.fail(toFailure(`no answer from the server for ${Math.round(this.socketTimeoutMs / 1000)} s`, 'ETIMEDOUT'));
      socket.destroy();
    });
  }

  /** The bodies of the given UIDs, in the server's order. Throws a RawSessionFailure or MailshiftError on trouble. */
  async *fetchBodies(options: FetchBodiesOptions): AsyncIterable<FetchedMessage> {
    const wanted = new Set<number>();
    for (const chunk of options.chunks) for (const uid of chunk) wanted.add(uid);
    const delivered = new Set<number>();
    /** UIDs the server answered with a NIL body: it has the message but cannot produce it. */
    const unreadable = new Set<number>();
    const commands = options.chunks.map((uids) => `UID FETCH ${options.formatUidSet(uids)} (UID BODY.PEEK[])`);
    const messages = this.stream(commands, options.signal, options.maxQueuedBytes, (attributes) => {
      const { uid, body } = attributes;
      if (uid !== undefined && body === null && wanted.has(uid)) unreadable.add(uid);
      // A body we cannot attribute, or did not ask for, is left out; the check at the end finds what is missing.
      if (uid === undefined || !body || !wanted.has(uid) || delivered.has(uid)) return undefined;
      delivered.add(uid);
      return { uid, content: body };
    }, (message) => message.content.length);
    for await (const message of messages) yield message;

    const missing = [...wanted].filter((uid) => !delivered.has(uid) && !unreadable.has(uid));
    const stillThere = missing.length > 0 ? await this.searchUids(missing) : [];
    if (stillThere.length > 0) {
      throw new MailshiftError(
        'MAILSHIFT_IMAP_INCOMPLETE',
        `the server did not send the bodies of ${stillThere.length} message(s) it still has (UID ${listUids(stillThere)})`,
        { scope: 'mailbox', retry: 'later' },
      );
    }
    if (unreadable.size > 0) {
      // Everything else in the folder is copied by now; this one is reported on every run until the server serves it.
      throw new MailshiftError('MAILSHIFT_IMAP_NO_BODY', `the server has ${unreadable.size} message(s) it answers with no content (UID ${listUids([...unreadable])})`, {
        scope: 'mailbox',
        hint: 'the message is probably damaged on the server; ask its administrator, or move it aside and run again',
      });
    }
  }

  /**
   * The answer to `UID FETCH set (items)`, one entry per UID: the listing of a folder. `items` must ask for
   * INTERNALDATE or RFC822.SIZE: a response without either is an unsolicited flag update (another client changed a
   * flag meanwhile), not a listing entry, and a UID is listed once.
   */
  fetchAttributes(set: string, items: string, signal?: AbortSignal, modifiers?: string): AsyncIterable<FetchAttributes & { uid: number }> {
    const listed = new Set<number>();
    return this.stream(
      [`UID FETCH ${set} (${items})${modifiers ? ` (${modifiers})` : ''}`],
      signal,
      undefined,
      (attributes) => {
        if (attributes.uid === undefined || listed.has(attributes.uid)) return undefined;
        if (attributes.internalDate === undefined && attributes.size === undefined) return undefined;
        listed.add(attributes.uid);
        return attributes as FetchAttributes & { uid: number };
      },
      (attributes) => 64 + (attributes.headerFields?.length ?? 0),
    );
  }

  /**
   * Sends the commands (pipelined, `pipelineDepth` at a time) and yields what `pick` makes of each FETCH response,
   * pausing the socket while more than `maxQueuedBytes` wait. Responses split in two (UID first, data later) are
   * joined by sequence number.
   */
  private async *stream<T>(
    commands: readonly string[],
    signal: AbortSignal | undefined,
    maxQueuedBytesOption: number | undefined,
    pick: (attributes: FetchAttributes) => T | undefined,
    sizeOf: (item: T) => number,
  ): AsyncIterable<T> {
    const maxQueuedBytes = maxQueuedBytesOption ?? defaultMaxQueuedBytes;
    const queue: T[] = [];
    let queuedBytes = 0;
    let isPaused = false;
    if (this.untaggedHandler) throw new Error('a raw IMAP session runs one command stream at a time');
    const uidBySequence = new Map<number, number>();
    let outstanding = 0;
    let nextCommand = 0;
    let commandFailure: RawSessionFailure | undefined;

    this.untaggedHandler = (response) => {
      const attributes = parseFetchResponse(response);
      if (!attributes) {
        // An expunge renumbers the messages after it: sequence numbers seen before no longer name the same UIDs.
        if (/^\* \d+ EXPUNGE\b/i.test(response.texts[0] ?? '')) uidBySequence.clear();
        return;
      }
      if (attributes.uid === undefined) {
        const known = uidBySequence.get(attributes.sequence);
        if (known !== undefined) attributes.uid = known;
      } else {
        uidBySequence.set(attributes.sequence, attributes.uid);
      }
      const item = pick(attributes);
      if (item === undefined) return;
      queue.push(item);
      queuedBytes += sizeOf(item);
      if (queuedBytes >= maxQueuedBytes && !isPaused) {
        isPaused = true;
        this.input.pause();
      }
      this.wakeUp();
    };

    const sendNext = () => {
      while (outstanding < pipelineDepth && nextCommand < commands.length && !commandFailure) {
        const command = commands[nextCommand++]!;
        outstanding += 1;
        void this.command(command).then((answer) => {
          outstanding -= 1;
          if (answer.status !== 'OK') commandFailure ??= toFailure(answer.text, undefined, answer.status);
          sendNext();
          this.wakeUp();
        });
      }
    };

    const onAbort = () => this.wakeUp();
    signal?.addEventListener('abort', onAbort);
    try {
      sendNext();
      for (;;) {
        if (signal?.aborted) throw new InterruptedError();
        const item = queue.shift();
        if (item) {
          queuedBytes -= sizeOf(item);
          if (isPaused && queuedBytes < maxQueuedBytes / 2) {
            isPaused = false;
            this.input.resume();
          }
          yield item;
          continue;
        }
        if (this.failure) throw this.failure;
        if (commandFailure && outstanding === 0) throw commandFailure;
        if (outstanding === 0 && nextCommand >= commands.length) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.untaggedHandler = undefined;
      if (isPaused) this.input.resume();
    }
  }

  /** Which of these UIDs the selected mailbox still holds. */
  private async searchUids(uids: readonly number[]): Promise<number[]> {
    const found = new Set<number>();
    const asked = new Set(uids);
    this.untaggedHandler = (response) => {
      const text = response.texts[0] ?? '';
      const match = /^\* SEARCH\b(.*)$/i.exec(text);
      if (!match) return;
      for (const word of match[1]!.trim().split(/\s+/)) {
        const uid = Number(word);
        if (asked.has(uid)) found.add(uid);
      }
    };
    try {
      const sorted = [...uids].sort((a, b) => a - b);
      for (let at = 0; at < sorted.length; at += 500) {
        const set = sorted.slice(at, at + 500).join(',');
        const answer = await this.command(`UID SEARCH UID ${set}`);
        if (this.failure) throw this.failure;
        if (answer.status !== 'OK') throw toFailure(answer.text, undefined, answer.status);
      }
    } finally {
      this.untaggedHandler = undefined;
    }
    return [...found].sort((a, b) => a - b);
  }

  /** Sends one command; resolves with its tagged status (a failed connection resolves it as BYE). */
  private command(text: string): Promise<TaggedAnswer> {
    return this.sendCommand([{ text: `${text}\r\n` }]);
  }

  /**
   * Sends a command made of text and literals and resolves with its tagged answer; never rejects (a failed connection
   * answers BYE). Commands are written in call order, each whole before the next, so several can be in flight: the
   * caller bounds how many. A synchronising literal waits for the server's "+"; if the server answers the command
   * instead (a NO for a message too big), the rest of it is not sent. Writes wait while the socket is full.
   */
  sendCommand(parts: readonly CommandPart[]): Promise<TaggedAnswer> {
    const tag = `M${++this.tagCounter}`;
    return new Promise((resolve) => {
      if (this.failure) {
        resolve({ status: 'BYE', text: this.failure.message });
        return;
      }
      this.waiting.set(tag, resolve);
      const write = async () => {
        let prefix = `${tag} `;
        for (const part of parts) {
          if (this.failure || !this.waiting.has(tag)) return;
          await this.writeBytes(prefix + part.text);
          prefix = '';
          if (!part.literal) continue;
          if (part.literal.isSynchronizing) {
            this.flushOutput();
            if (!(await this.waitForContinuation(tag))) return;
          }
          await this.writeBytes(part.literal.data);
        }
        if (parts.at(-1)?.literal) await this.writeBytes('\r\n');
        this.flushOutput();
      };
      this.writing = this.writing.then(write, write);
    });
  }

  /**
   * Sends the commands together (one round trip for all) and hands every untagged response to `onUntagged` until the
   * last is answered. Resolves with each command's tagged answer, in order; `onAnswer` hears each one as it comes
   * (the first may be worth acting on before the last is in). Never rejects: a failed connection answers BYE.
   */
  async runTogether(commands: readonly string[], onUntagged: (response: RawResponse) => void, onAnswer?: (index: number, answer: TaggedAnswer) => void): Promise<TaggedAnswer[]> {
    if (this.untaggedHandler) throw new Error('a raw IMAP session runs one command stream at a time');
    this.untaggedHandler = onUntagged;
    try {
      return await Promise.all(commands.map((text, index) => this.command(text).then((answer) => {
        onAnswer?.(index, answer);
        return answer;
      })));
    } finally {
      this.untaggedHandler = undefined;
    }
  }

  /** True while the connection works: a session back in the pool is given to the next folder. */
  get isUsable(): boolean {
    return !this.failure && !this.isClosed;
  }

  /**
   * EXAMINE over the session (a connection reused for another folder): what the server said of the folder, read
   * from its untagged answers (RFC 3501 §6.3.2; a failed EXAMINE leaves no folder selected).
   */
  async examine(quotedName: string, thenList?: { readonly set: string; readonly items: string }, options: { readonly timeRoundTrip?: boolean; readonly condstore?: boolean } = {}): Promise<ExamineResult> {
    if (this.untaggedHandler) throw new Error('a raw IMAP session runs one command stream at a time');
    const found: { exists?: number; uidValidity?: number; uidNext?: number; permanentFlags?: string[]; highestModseq?: number } = {};
    const listed = new Map<number, FetchAttributes & { uid: number }>();
    this.untaggedHandler = (response) => {
      const attributes = thenList ? parseFetchResponse(response) : undefined;
      if (attributes) {
        // As in fetchAttributes: a listing entry has its UID and a date or size (not an unsolicited flag update).
        if (attributes.uid !== undefined && (attributes.internalDate !== undefined || attributes.size !== undefined) && !listed.has(attributes.uid)) {
          listed.set(attributes.uid, attributes as FetchAttributes & { uid: number });
        }
        return;
      }
      const text = response.texts[0] ?? '';
      const exists = /^\* (\d+) EXISTS\b/i.exec(text);
      if (exists) found.exists = Number(exists[1]);
      const code = /^\* OK \[(UIDVALIDITY|UIDNEXT|PERMANENTFLAGS|HIGHESTMODSEQ) ([^\]]*)\]/i.exec(text);
      if (!code) return;
      const [, name, value] = code as unknown as [string, string, string];
      const upper = name.toUpperCase();
      if (upper === 'PERMANENTFLAGS') found.permanentFlags = value.replace(/[()]/g, '').split(' ').filter(Boolean);
      else if (upper === 'UIDVALIDITY') found.uidValidity = Number(value);
      else if (upper === 'HIGHESTMODSEQ') found.highestModseq = Number.isSafeInteger(Number(value)) ? Number(value) : undefined;
      else found.uidNext = Number(value);
    };
    try {
      // The listing right behind EXAMINE, in the same round trip: if EXAMINE fails, no folder is selected (RFC 3501
      // §6.3.1) and the FETCH fails too, so it can never list another folder.
      // A NOOP in front, when asked: the server answers it at once, so its answer times the link, in the same trip.
      const sentAt = performance.now();
      const timing = options.timeRoundTrip ? this.command('NOOP').then((noop) => (noop.status === 'OK' ? performance.now() - sentAt : undefined)) : undefined;
      const [answer, listAnswer, roundTripMs] = await Promise.all([
        // (CONDSTORE): HIGHESTMODSEQ, and CONDSTORE on for the session from here (RFC 7162 §3.1.8), without an ENABLE.
        this.sendCommand([{ text: `EXAMINE ${quotedName}${options.condstore ? ' (CONDSTORE)' : ''}\r\n` }]),
        thenList ? this.sendCommand([{ text: `UID FETCH ${thenList.set} (${thenList.items})\r\n` }]) : undefined,
        timing,
      ]);
      return { answer, ...found, ...(listAnswer?.status === 'OK' ? { listing: [...listed.values()] } : {}), ...(roundTripMs !== undefined ? { roundTripMs } : {}) };
    } finally {
      this.untaggedHandler = undefined;
    }
  }

  /**
   * COMPRESS=DEFLATE (RFC 4978) on this connection: after the server's OK every byte both ways is a raw DEFLATE
   * stream. Sent only while nothing else is in flight: the server starts compressing right after its OK, so no
   * command may be on its way then. Our side deflates at level 1: what is sent is mostly message bodies the server
   * already holds compressed on a slow link, and level 6 costs this client several times the CPU for a few per cent.
   * False (and nothing changed) when the server refuses.
   */
  async compress(): Promise<boolean> {
    if (this.deflater) return true;
    if (this.waiting.size > 0 || this.untaggedHandler) throw new Error('COMPRESS needs an idle session');
    const answer = await this.command('COMPRESS DEFLATE');
    if (answer.status !== 'OK' || this.failure) return false;
    // 64 KB out at a time, as a socket reads: the default 16 KB costs four callbacks (and a literal split four ways)
    // where one would do.
    // node:zlib loaded here, not at start: a run that moves nothing never compresses.
    const zlib = process.getBuiltinModule('node:zlib');
    const inflater = zlib.createInflateRaw({ chunkSize: 64 * 1024 });
    const deflater = zlib.createDeflateRaw({ level: 1 });
    const fromSocket = this.input;
    fromSocket.off('data', this.onData);
    fromSocket.pipe(inflater);
    inflater.on('data', this.onData);
    inflater.on('error', (err: Error) => {
      this.fail(toFailure(`the compressed stream from the server is damaged: ${err.message}`, 'EPROTOCOL'));
      this.sockets.socket.destroy();
    });
    deflater.on('error', (err: Error) => this.fail(toFailure(err.message, 'EPROTOCOL')));
    deflater.pipe(this.output);
    this.input = inflater;
    this.output = deflater;
    this.deflater = deflater;
    return true;
  }

  /** No command in flight and no response stream open: COMPRESS may be sent. */
  get isIdle(): boolean {
    return this.waiting.size === 0 && !this.untaggedHandler;
  }

  /** True once COMPRESS=DEFLATE is on. */
  get isCompressed(): boolean {
    return this.deflater !== undefined;
  }

  /** A command written whole goes out at once: the deflater would otherwise hold its last bytes back. */
  private flushOutput(): void {
    this.deflater?.flush(process.getBuiltinModule('node:zlib').constants.Z_SYNC_FLUSH);
  }

  /** Resolves once every command sent so far has its answer (or the connection failed). */
  async whenIdle(): Promise<void> {
    await Promise.all([...this.waiting.keys()].map((tag) => new Promise<void>((resolve) => {
      const resolveAnswer = this.waiting.get(tag);
      if (!resolveAnswer) return resolve();
      this.waiting.set(tag, (answer) => {
        resolveAnswer(answer);
        resolve();
      });
    })));
  }

  /** Commands sent and not answered yet. */
  get outstanding(): number {
    return this.waiting.size;
  }

  private writeBytes(data: string | Buffer): Promise<void> {
    if (this.failure) return Promise.resolve();
    const output = this.output;
    if (output.write(data)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        output.off('drain', done);
        this.onFailure.delete(done);
        resolve();
      };
      output.once('drain', done);
      this.onFailure.add(done);
    });
  }

  /** True on the server's "+"; false when it answered the command instead, or the connection failed. */
  private waitForContinuation(tag: string): Promise<boolean> {
    if (this.failure) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.continuation = { tag, resolve };
    });
  }

  private dispatch(response: RawResponse): void {
    const first = response.texts[0] ?? '';
    if (first.startsWith('* ')) {
      if (/^\* BYE\b/i.test(first)) this.byeText = first.slice(6);
      this.untaggedHandler?.(response);
      return;
    }
    const tagged = parseTaggedStatus(first);
    if (!tagged) {
      // "+ ...": the go-ahead for the synchronising literal being written.
      if (first.startsWith('+')) this.takeContinuation()?.(true);
      return;
    }
    if (this.continuation?.tag === tagged.tag) this.takeContinuation()?.(false);
    const resolve = this.waiting.get(tagged.tag);
    if (!resolve) return;
    this.waiting.delete(tagged.tag);
    resolve({ status: tagged.status, text: tagged.text });
  }

  private takeContinuation(): ((isGranted: boolean) => void) | undefined {
    const continuation = this.continuation;
    this.continuation = undefined;
    return continuation?.resolve;
  }

  private fail(failure: RawSessionFailure): void {
    if (this.failure || this.isClosed) return;
    this.failure = failure;
    this.takeContinuation()?.(false);
    for (const wake of this.onFailure) wake();
    for (const [tag, resolve] of this.waiting) {
      this.waiting.delete(tag);
      resolve({ status: 'BYE', text: failure.message });
    }
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /**
   * Logs out and closes the connection without waiting for the server's answer: LOGOUT is written and flushed, then
   * the connection ends. Waiting for "BYE" and the tagged OK would cost a round trip at the end of every run, and a
   * server that misses the LOGOUT sees a client that closed its connection, which ends the session the same way.
   */
  async close(): Promise<void> {
    if (this.isClosed) return;
    const { socket } = this.sockets;
    const output = this.output;
    if (!this.failure && !output.writableEnded) {
      void this.command('LOGOUT');
      await this.writing;
      // 'finish' says every byte was handed to the connection; when compressing, the deflater's pipe ends it once
      // the last of its output is in.
      const flushed = this.sockets.writeSocket;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        timer.unref();
        const finished = () => {
          clearTimeout(timer);
          resolve();
        };
        if (flushed.writableFinished) return finished();
        flushed.once('finish', finished);
        socket.once('close', finished);
        output.end();
      });
    }
    this.isClosed = true;
    socket.destroy();
    for (const [tag, resolve] of this.waiting) {
      this.waiting.delete(tag);
      resolve({ status: 'BYE', text: 'connection closed' });
    }
  }
}

function listUids(uids: readonly number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  return `${sorted.slice(0, 5).join(', ')}${sorted.length > 5 ? ', ...' : ''}`;
}

/** A tagged answer or a broken connection as the error shape errors.ts classifies. */
export function toFailure(text: string, code: string | undefined, responseStatus?: string): RawSessionFailure {
  const failure: RawSessionFailure = new Error(responseStatus && responseStatus !== 'BYE' ? `${responseStatus} ${text}` : text);
  if (code) failure.code = code;
  if (responseStatus === 'NO' || responseStatus === 'BAD') {
    failure.responseStatus = responseStatus;
    failure.responseText = text;
  } else if (responseStatus === 'BYE') {
    failure.code = 'EConnectionClosed';
  }
  return failure;
}
