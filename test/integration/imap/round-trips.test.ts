import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { runStoreCopy, type StoreCopyReport } from '../../../src/engine/messages/copy.js';
import { stateFileFor } from '../../../src/engine/state.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';
import { startFaultyProxy, type FaultyProxy } from './faulty-proxy.js';
import { folderDirs, message, seedAccount } from './fixture.js';

/**
 * Over a network a run waits for the server once per round trip, and a second run with nothing new is little else
 * (issue 14: "a small constant number of round trips per folder"). IMAP to IMAP through a proxy that counts, per
 * connection, the flights of commands the client sent (each flight one wait for the server; pipelined commands ride
 * along): the second run costs each account two, LOGIN and then ID, NAMESPACE and LIST together (then a LOGOUT not
 * waited for), however many folders there are; a folder with new mail adds its own few.
 */

let server: ImapServer;
let proxy: FaultyProxy;
let work: TempDir;
/** The user each proxied connection logged in as. */
const userOf = new Map<number, string>();

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['nora', 'otto'] });
  await seedAccount(server, 'nora');
  proxy = await startFaultyProxy(server.port, (command) => {
    if (command.name === 'LOGIN') userOf.set(command.connection, /^\S+ LOGIN "?([^" ]+)/.exec(command.line)?.[1] ?? '');
    return { kind: 'pass' };
  }, { delayMs: 5 });
  work = await makeTempDir('imap-round-trips', { mode: 0o755 });
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await work?.cleanup();
});

/** One run as the command line makes it: both accounts opened side by side, copied, closed. */
async function runCopy(): Promise<StoreCopyReport> {
  const logger = createLogger({ level: 'info', write: () => {} });
  const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
  const [from, to] = await Promise.all([
    openStore(parseStoreSpec(`imap://nora@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password }),
    openStore(parseStoreSpec(`imap://otto@127.0.0.1:${proxy.port}`), { mode: 'write', logger, password }),
  ]);
  const pair = `${from.label} -> ${to.label}`;
  try {
    return await runStoreCopy(from, to, { logger, state: { file: stateFileFor(path.join(work.path, 'state'), pair), pair } });
  } finally {
    await Promise.all([to.store[Symbol.asyncDispose](), from.store[Symbol.asyncDispose]()]);
  }
}

/**
 * The flights an account's connections (those opened from `firstConnection` on) waited for, in order. The LOGOUT at
 * the end is left out: it is sent and not waited for (and may reach the proxy after the run returned).
 */
function flightsOf(user: string, firstConnection: number): string[][] {
  return [...proxy.flights]
    .filter(([connection]) => connection >= firstConnection && userOf.get(connection) === user)
    .flatMap(([, flights]) => flights.map((each) => [...each]))
    .filter((flight) => flight.join(' ') !== 'LOGOUT');
}

describe('round trips of a second run', () => {
  it('with nothing new: a login and one listing per account, whatever the number of folders', async () => {
    expect((await runCopy()).totals).toMatchObject({ copied: 14, failedFolders: 0 });
    proxy.resetCounts();
    const firstConnection = proxy.connections + 1;
    const again = await runCopy();
    expect(again.totals).toMatchObject({ copied: 0, failedFolders: 0 });
    expect(again.folders.length).toBeGreaterThanOrEqual(folderDirs.length);
    expect(again.folders.every((folder) => folder.mode === 'incremental')).toBe(true);
    // One connection per account; nine folders (seven with mail) and not one of them opened.
    for (const user of ['nora', 'otto']) {
      expect(flightsOf(user, firstConnection)).toEqual([['LOGIN'], ['ID', 'NAMESPACE', 'LIST']]);
    }
  });

  it('with one new message: only its folder is opened, in a few round trips of its own', async () => {
    await writeTree(server.users.find((each) => each.user === 'nora')!.maildir, {
      '.Work/cur/1600000000.M99P1.new:2,S': { content: Buffer.from(message('work-new', 'New at work', 'Arrived after the copy.')), mtime: 1_600_000_000 },
    });
    await server.fixOwnership('nora');
    proxy.resetCounts();
    const firstConnection = proxy.connections + 1;
    const report = await runCopy();
    expect(report.totals).toMatchObject({ copied: 1, failedFolders: 0 });
    const source = flightsOf('nora', firstConnection);
    // Login and listing as before; then Work alone, on the same connection: EXAMINE with its listing (and the NOOP
    // that times the link) in one flight, the new message's headers to compare, its body.
    expect(source.slice(0, 2)).toEqual([['LOGIN'], ['ID', 'NAMESPACE', 'LIST']]);
    expect(source.filter((flight) => flight.includes('EXAMINE'))).toEqual([['NOOP', 'EXAMINE', 'UID FETCH']]);
    expect(source.length).toBeLessThanOrEqual(6);
  });
});
