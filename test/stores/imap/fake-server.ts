import { PassThrough, Writable } from 'node:stream';
import type { RawSockets } from '../../../src/stores/imap/raw-session.js';

/**
 * A scripted server on in-memory streams (a unit test: the integration tests run the same code against Dovecot and
 * a faulty proxy). `answer` gets each command line and writes the server's bytes.
 */
export function fakeServer(answer: (tag: string, command: string, send: (text: string | Buffer) => void, end: () => void) => void) {
  const fromServer = new PassThrough();
  const commands: string[] = [];
  let pending = '';
  const toServer = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('latin1');
      for (let eol = pending.indexOf('\r\n'); eol >= 0; eol = pending.indexOf('\r\n')) {
        const line = pending.slice(0, eol);
        pending = pending.slice(eol + 2);
        commands.push(line);
        const space = line.indexOf(' ');
        answer(line.slice(0, space), line.slice(space + 1), (text) => fromServer.write(text), () => fromServer.end());
      }
      done();
    },
  });
  const socket = Object.assign(fromServer, { setTimeout: () => undefined }) as unknown as RawSockets['socket'];
  const sockets: RawSockets = { readSocket: fromServer, writeSocket: toServer, socket };
  return { sockets, commands };
}
