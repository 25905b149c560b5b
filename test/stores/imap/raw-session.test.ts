import { PassThrough, Writable } from 'node:stream';
import { constants as zlibConstants, createDeflateRaw, createInflateRaw } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InterruptedError, MailshiftError } from '../../../src/core/errors.js';
import { classifyImapError } from '../../../src/stores/imap/errors.js';
import { RawImapSession, type RawSockets } from '../../../src/stores/imap/raw-session.js';
import { formatUidSet } from '../../../src/stores/imap/uid-set.js';
import { fakeServer } from './fake-server.js';

const messages = new Map<number, string>([
  [1, 'Subject: one\r\n\r\nfirst\r\n'],
  [2, 'Subject: two\r\n\r\nsecond\r\n'],
  [5, 'Subject: five\r\n\r\nfifth\r\n'],
]);

function fetchAnswer(tag: string, command: string, send: (text: string) => void, stillThere: ReadonlySet<number> = new Set()) {
  const fetch = /^UID FETCH (\S+) \(UID BODY\.PEEK\[\]\)$/.exec(command);
  if (fetch) {
    for (const part of fetch[1]!.split(',')) {
      const [low, high] = part.split(':').map(Number);
      for (let uid = low!; uid <= (high ?? low!); uid += 1) {
        const body = messages.get(uid);
        if (body) send(`* ${uid} FETCH (UID ${uid} BODY[] {${body.length}}\r\n${body})\r\n`);
      }
    }
    send(`${tag} OK Fetch completed\r\n`);
    return;
  }
  const search = /^UID SEARCH UID (\S+)$/.exec(command);
  if (search) {
    const found = search[1]!.split(',').map(Number).filter((uid) => stillThere.has(uid));
    send(`* SEARCH${found.map((uid) => ` ${uid}`).join('')}\r\n${tag} OK Search completed\r\n`);
    return;
  }
  if (command === 'LOGOUT') send(`* BYE bye\r\n${tag} OK Logout completed\r\n`);
}

async function collect(session: RawImapSession, chunks: number[][]) {
  const got: { uid: number; text: string }[] = [];
  for await (const { uid, content } of session.fetchBodies({ chunks, formatUidSet })) got.push({ uid, text: content.toString('latin1') });
  return got;
}

describe('RawImapSession.fetchBodies', () => {
  it('yields every body asked for, exactly as sent, pipelining one command per chunk', async () => {
    const { sockets, commands } = fakeServer((tag, command, send) => fetchAnswer(tag, command, send));
    const session = new RawImapSession(sockets, 60_000);
    const got = await collect(session, [[1], [2, 5]]);
    expect(got).toEqual([
      { uid: 1, text: messages.get(1) },
      { uid: 2, text: messages.get(2) },
      { uid: 5, text: messages.get(5) },
    ]);
    expect(commands).toEqual(['M1 UID FETCH 1 (UID BODY.PEEK[])', 'M2 UID FETCH 2,5 (UID BODY.PEEK[])']);
    await session.close();
  });

  it('accepts a UID missing from the answer when the server no longer has it (expunged meanwhile)', async () => {
    const { sockets, commands } = fakeServer((tag, command, send) => fetchAnswer(tag, command, send));
    const session = new RawImapSession(sockets, 60_000);
    const got = await collect(session, [[1, 3]]);
    expect(got.map((each) => each.uid)).toEqual([1]);
    expect(commands.at(-1)).toBe('M2 UID SEARCH UID 3');
  });

  it('fails, and never counts the message as gone, when the server left out a body it still has', async () => {
    const { sockets } = fakeServer((tag, command, send) => fetchAnswer(tag, command, send, new Set([3])));
    const session = new RawImapSession(sockets, 60_000);
    const error = await collect(session, [[1, 3]]).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MailshiftError);
    expect((error as MailshiftError).retry).toBe('later');
    expect((error as MailshiftError).message).toMatch(/UID 3/);
  });

  it('reports a message the server answers with a NIL body, after delivering the others, without retrying forever', async () => {
    const { sockets } = fakeServer((tag, _command, send) => send(`* 1 FETCH (UID 1 BODY[] NIL)\r\n* 2 FETCH (UID 2 BODY[] {2}\r\nok)\r\n${tag} OK done\r\n`));
    const session = new RawImapSession(sockets, 60_000);
    const got: number[] = [];
    const error = await (async () => {
      for await (const { uid } of session.fetchBodies({ chunks: [[1, 2]], formatUidSet })) got.push(uid);
    })().catch((err: unknown) => err);
    expect(got).toEqual([2]);
    expect(error).toMatchObject({ code: 'MAILSHIFT_IMAP_NO_BODY', scope: 'mailbox', retry: 'no' });
    expect((error as Error).message).toMatch(/UID 1\b/);
  });

  it('turns a tagged NO into a refusal the classifier knows, after delivering what came before it', async () => {
    const { sockets } = fakeServer((tag, _command, send) => send(`* 1 FETCH (UID 1 BODY[] {2}\r\nok)\r\n${tag} NO [UNAVAILABLE] Try again later\r\n`));
    const session = new RawImapSession(sockets, 60_000);
    const got: number[] = [];
    const error = await (async () => {
      for await (const { uid } of session.fetchBodies({ chunks: [[1, 2]], formatUidSet })) got.push(uid);
    })().catch((err: unknown) => err);
    expect(got).toEqual([1]);
    expect(classifyImapError(error)).toMatchObject({ kind: 'unavailable', isRefused: true, isTransient: true });
  });

  it('reports a connection cut in the middle of a body as a connection failure (retried by the engine)', async () => {
    const { sockets } = fakeServer((_tag, _command, send, end) => {
      send('* 1 FETCH (UID 1 BODY[] {100}\r\nonly part of it');
      end();
    });
    const session = new RawImapSession(sockets, 60_000);
    const error = await collect(session, [[1]]).catch((err: unknown) => err);
    expect(classifyImapError(error)).toMatchObject({ kind: 'connection', isTransient: true, isRefused: false });
  });

  it('passes on what the server said in its BYE when it hangs up', async () => {
    const { sockets } = fakeServer((_tag, _command, send, end) => {
      send('* BYE [UNAVAILABLE] Server shutting down\r\n');
      end();
    });
    const session = new RawImapSession(sockets, 60_000);
    const error = await collect(session, [[1]]).catch((err: unknown) => err);
    expect((error as Error).message).toMatch(/Server shutting down/);
    expect(classifyImapError(error).isTransient).toBe(true);
  });

  it('gives up on a server that stops answering (the socket timeout) with a connection failure the engine retries', async () => {
    const { sockets } = fakeServer(() => undefined); // never answers
    const session = new RawImapSession(sockets, 60_000);
    const pending = collect(session, [[1]]).catch((err: unknown) => err);
    await new Promise((resolve) => setImmediate(resolve));
    sockets.socket.emit('timeout');
    const error = await pending;
    expect((error as { code?: string }).code).toBe('ETIMEDOUT');
    expect(classifyImapError(error)).toMatchObject({ kind: 'connection', isTransient: true });
  });

  it('stops at once when the run is interrupted while it waits for the server', async () => {
    const { sockets } = fakeServer(() => undefined); // never answers
    const session = new RawImapSession(sockets, 60_000);
    const controller = new AbortController();
    const pending = (async () => {
      for await (const _message of session.fetchBodies({ chunks: [[1]], formatUidSet, signal: controller.signal })) {
        // nothing arrives
      }
    })().catch((err: unknown) => err);
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    expect(await pending).toBeInstanceOf(InterruptedError);
  });

  it('pauses reading while the consumer is behind, and resumes when it catches up', async () => {
    const big = 'x'.repeat(4096);
    const { sockets } = fakeServer((tag, _command, send) => {
      for (let uid = 1; uid <= 20; uid += 1) send(`* ${uid} FETCH (UID ${uid} BODY[] {${big.length}}\r\n${big})\r\n`);
      send(`${tag} OK done\r\n`);
    });
    const session = new RawImapSession(sockets, 60_000);
    let sawPaused = false;
    let count = 0;
    for await (const _message of session.fetchBodies({ chunks: [Array.from({ length: 20 }, (_, i) => i + 1)], formatUidSet, maxQueuedBytes: 8192 })) {
      await new Promise((resolve) => setImmediate(resolve));
      if (sockets.readSocket.isPaused()) sawPaused = true;
      count += 1;
    }
    expect(count).toBe(20);
    expect(sawPaused).toBe(true);
    expect(sockets.readSocket.isPaused()).toBe(false);
  });
});

describe('RawImapSession.fetchAttributes', () => {
  it('lists UID, flags, date, size and header fields', async () => {
    const { sockets, commands } = fakeServer((tag, _command, send) => {
      send('* 1 FETCH (UID 4 FLAGS (\\Seen) INTERNALDATE " 2-Feb-2020 10:00:00 +0000" RFC822.SIZE 120 BODY[HEADER.FIELDS (MESSAGE-ID)] {19}\r\nMessage-ID: <x>\r\n\r\n)\r\n');
      send('* 2 FETCH (FLAGS ())\r\n'); // unsolicited, no UID: not a listing entry
      send('* 1 FETCH (FLAGS (\\Seen \\Flagged))\r\n'); // unsolicited flag change of a listed message: listed once
      send('* 3 FETCH (UID 9 FLAGS (\\Seen))\r\n'); // unsolicited, with its UID, before its own answer
      send('* 3 FETCH (UID 9 FLAGS (\\Seen) INTERNALDATE " 3-Feb-2020 10:00:00 +0000" RFC822.SIZE 77 BODY[HEADER.FIELDS (MESSAGE-ID)] {2}\r\n\r\n)\r\n');
      send(`${tag} OK done\r\n`);
    });
    const session = new RawImapSession(sockets, 60_000);
    const listed = [];
    for await (const each of session.fetchAttributes('1:*', 'UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]')) listed.push(each);
    expect(commands[0]).toBe('M1 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])');
    expect(listed.map((each) => each.uid)).toEqual([4, 9]);
    expect(listed[0]).toMatchObject({ uid: 4, flags: ['\\Seen'], size: 120, internalDate: ' 2-Feb-2020 10:00:00 +0000' });
    expect(listed[1]).toMatchObject({ uid: 9, size: 77 });
    expect(listed[0]!.headerFields!.toString()).toBe('Message-ID: <x>\r\n\r\n');
  });
});

describe('RawImapSession.sendCommand', () => {
  /** A server that answers only what the test pushes; what the client wrote is kept byte for byte. */
  function scriptedServer() {
    const fromServer = new PassThrough();
    let written = '';
    const toServer = new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString('latin1');
        done();
      },
    });
    const socket = Object.assign(fromServer, { setTimeout: () => undefined }) as unknown as RawSockets['socket'];
    return { sockets: { readSocket: fromServer, writeSocket: toServer, socket } satisfies RawSockets, written: () => written, push: (text: string) => fromServer.write(text) };
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it('sends non-synchronising commands back to back, without waiting for answers, and pairs each answer by tag', async () => {
    const server = scriptedServer();
    const session = new RawImapSession(server.sockets, 60_000);
    const first = session.sendCommand([{ text: 'APPEND "INBOX" () {5+}\r\n', literal: { data: Buffer.from('hello'), isSynchronizing: false } }]);
    const second = session.sendCommand([{ text: 'APPEND "INBOX" () {3+}\r\n', literal: { data: Buffer.from('bye'), isSynchronizing: false } }]);
    await tick();
    expect(server.written()).toBe('M1 APPEND "INBOX" () {5+}\r\nhello\r\nM2 APPEND "INBOX" () {3+}\r\nbye\r\n');
    expect(session.outstanding).toBe(2);
    server.push('M2 OK [APPENDUID 9 2] done\r\nM1 OK [APPENDUID 9 1] done\r\n');
    expect(await first).toEqual({ status: 'OK', text: '[APPENDUID 9 1] done' });
    expect(await second).toEqual({ status: 'OK', text: '[APPENDUID 9 2] done' });
  });

  it("holds a synchronising literal, and everything after it, until the server's \"+\"; a refusal instead skips the literal", async () => {
    const server = scriptedServer();
    const session = new RawImapSession(server.sockets, 60_000);
    const big = session.sendCommand([{ text: 'APPEND "INBOX" () {5}\r\n', literal: { data: Buffer.from('hello'), isSynchronizing: true } }]);
    const next = session.sendCommand([{ text: 'NOOP\r\n' }]);
    await tick();
    expect(server.written()).toBe('M1 APPEND "INBOX" () {5}\r\n');
    server.push('+ go ahead\r\n');
    await tick();
    expect(server.written()).toBe('M1 APPEND "INBOX" () {5}\r\nhello\r\nM2 NOOP\r\n');
    server.push('M1 OK done\r\nM2 OK done\r\n');
    await Promise.all([big, next]);

    const refused = session.sendCommand([{ text: 'APPEND "INBOX" () {9}\r\n', literal: { data: Buffer.from('too large'), isSynchronizing: true } }]);
    const after = session.sendCommand([{ text: 'NOOP\r\n' }]);
    await tick();
    server.push('M3 NO [TOOBIG] message too large\r\n');
    expect(await refused).toEqual({ status: 'NO', text: '[TOOBIG] message too large' });
    await tick();
    expect(server.written().endsWith('M3 APPEND "INBOX" () {9}\r\nM4 NOOP\r\n')).toBe(true);
    server.push('M4 OK done\r\n');
    await after;
  });

  it('answers every command in flight with BYE when the connection breaks (their outcome is unknown)', async () => {
    const server = scriptedServer();
    const session = new RawImapSession(server.sockets, 60_000);
    const answers = [1, 2, 3].map(() => session.sendCommand([{ text: 'APPEND "INBOX" () {1+}\r\n', literal: { data: Buffer.from('x'), isSynchronizing: false } }]));
    await tick();
    server.push('M1 OK done\r\n');
    server.sockets.readSocket.destroy();
    expect((await Promise.all(answers)).map((answer) => answer.status)).toEqual(['OK', 'BYE', 'BYE']);
    expect(session.outstanding).toBe(0);
  });
});

describe('RawImapSession.examine', () => {
  it('reads UIDVALIDITY, UIDNEXT, EXISTS and HIGHESTMODSEQ, and times a NOOP sent ahead in the same round trip', async () => {
    const { sockets, commands } = fakeServer((tag, command, send) => {
      if (command === 'NOOP') send(`${tag} OK NOOP completed\r\n`);
      if (command.startsWith('EXAMINE')) {
        send('* 3 EXISTS\r\n* OK [UIDVALIDITY 1700000000] UIDs valid\r\n* OK [UIDNEXT 4] Predicted next UID\r\n* OK [HIGHESTMODSEQ 915] Highest\r\n');
        send(`${tag} OK [READ-ONLY] Examine completed\r\n`);
      }
    });
    const session = new RawImapSession(sockets, 60_000);
    const examined = await session.examine('"INBOX"', undefined, { timeRoundTrip: true });
    expect(examined).toMatchObject({ answer: { status: 'OK' }, exists: 3, uidValidity: 1_700_000_000, uidNext: 4, highestModseq: 915 });
    expect(examined.roundTripMs).toBeGreaterThanOrEqual(0);
    expect(commands).toEqual(['M1 NOOP', 'M2 EXAMINE "INBOX"']);
  });
});

describe('RawImapSession.compress', () => {
  /** A server that speaks plain text until it answers COMPRESS, then DEFLATE both ways (RFC 4978). */
  function compressingServer() {
    const fromServer = new PassThrough();
    const commands: string[] = [];
    let deflate: ReturnType<typeof createDeflateRaw> | undefined;
    const inflate = createInflateRaw();
    let pending = '';
    const send = (text: string) => {
      if (!deflate) return void fromServer.write(text);
      deflate.write(text);
      deflate.flush(zlibConstants.Z_SYNC_FLUSH);
    };
    const onLine = (line: string) => {
      commands.push(line);
      const [tag, ...rest] = line.split(' ');
      const command = rest.join(' ');
      if (command === 'COMPRESS DEFLATE') {
        fromServer.write(`${tag} OK DEFLATE active\r\n`);
        deflate = createDeflateRaw();
        deflate.pipe(fromServer);
        return;
      }
      if (command === 'UID FETCH 1 (UID BODY.PEEK[])') {
        const body = 'Subject: squeezed\r\n\r\n' + 'compressible text '.repeat(200) + '\r\n';
        send(`* 1 FETCH (UID 1 BODY[] {${body.length}}\r\n${body})\r\n${tag} OK Fetch completed\r\n`);
      }
      if (command === 'LOGOUT') send(`* BYE\r\n${tag} OK Logout\r\n`);
    };
    const takeLines = () => {
      for (let eol = pending.indexOf('\r\n'); eol >= 0; eol = pending.indexOf('\r\n')) {
        const line = pending.slice(0, eol);
        pending = pending.slice(eol + 2);
        onLine(line);
      }
    };
    inflate.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      takeLines();
    });
    let rawBytesAfterCompress = Buffer.alloc(0);
    const toServer = new Writable({
      write(chunk: Buffer, _encoding, done) {
        if (deflate) {
          rawBytesAfterCompress = Buffer.concat([rawBytesAfterCompress, chunk]);
          inflate.write(chunk);
        } else {
          pending += chunk.toString('latin1');
          takeLines();
        }
        done();
      },
    });
    const socket = Object.assign(fromServer, { setTimeout: () => undefined }) as unknown as RawSockets['socket'];
    return { sockets: { readSocket: fromServer, writeSocket: toServer, socket } as RawSockets, commands, rawAfter: () => rawBytesAfterCompress };
  }

  it('turns DEFLATE on both ways after the server\'s OK: commands go out compressed, answers are inflated', async () => {
    const server = compressingServer();
    const session = new RawImapSession(server.sockets, 60_000);
    expect(await session.compress()).toBe(true);
    expect(session.isCompressed).toBe(true);
    const got = await collect(session, [[1]]);
    expect(got).toHaveLength(1);
    expect(got[0]!.text).toMatch(/^Subject: squeezed\r\n\r\n(compressible text ){200}\r\n$/);
    expect(server.commands).toEqual(['M1 COMPRESS DEFLATE', 'M2 UID FETCH 1 (UID BODY.PEEK[])']);
    // What crossed the wire after the OK was DEFLATE, not the command's text.
    expect(server.rawAfter().length).toBeGreaterThan(0);
    expect(server.rawAfter().toString('latin1')).not.toContain('UID FETCH');
    await session.close();
  });

  it('leaves the session as it was when the server refuses COMPRESS', async () => {
    const { sockets } = fakeServer((tag, command, send) => {
      if (command === 'COMPRESS DEFLATE') send(`${tag} NO [COMPRESSIONACTIVE] already\r\n`);
      else fetchAnswer(tag, command, send);
    });
    const session = new RawImapSession(sockets, 60_000);
    expect(await session.compress()).toBe(false);
    expect(session.isCompressed).toBe(false);
    expect(await collect(session, [[1]])).toEqual([{ uid: 1, text: messages.get(1) }]);
  });
});
