import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { runStoreCopy } from '../../../src/engine/messages/copy.js';
import { stateFileFor } from '../../../src/engine/state.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { countByMessageId, startImapServer, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree, type TreeManifest } from '../../support/tree.js';
import { startFaultyProxy, type FaultyProxy, type ProxyAction, type ProxyCommand } from './faulty-proxy.js';
import { byMailbox, message, seedAccount } from './fixture.js';

/**
 * Appends into an IMAP target are pipelined (many APPENDs and MULTIAPPENDs in flight on one connection). Through a
 * proxy that delays every byte and then cuts the connection in the middle of the pipeline — after the server stored
 * messages whose answers never arrive, or halfway through sending a command — the copy must still end with every
 * message exactly once: what was sent and not confirmed is looked for on the target before anything is sent again.
 */

let server: ImapServer;
let proxy: FaultyProxy;
let work: TempDir;
let decideFor: (command: ProxyCommand) => ProxyAction = () => ({ kind: 'pass' });

/** 90 distinct messages (a third of them over 4 KB, sent as literals LITERAL- could not), and one three times. */
function sourceFiles(): TreeManifest {
  const manifest: Record<string, TreeManifest[string]> = {};
  const big = `${'A longer line of body text, to make the message bigger. '.repeat(4)}\n`.repeat(60);
  for (let n = 1; n <= 93; n += 1) {
    const id = n > 90 ? 'thrice' : `pipe-${n}`;
    const body = n > 90 ? 'The same message three times.' : n % 3 === 0 ? big : `Message ${n}.`;
    const flags = ['S', '', 'F', 'RS'][n % 4]!;
    manifest[`cur/${1_700_000_000 + n}.M${n}P1.src:2,${flags}`] = { content: Buffer.from(message(id, n > 90 ? 'Thrice' : `Message ${n}`, body)), mtime: 1_700_000_000 + n };
  }
  return manifest;
}

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['alice', 'bob', 'carol', 'dave', 'gina', 'hank'] });
  await writeTree(server.users.find((each) => each.user === 'alice')!.maildir, sourceFiles());
  await server.fixOwnership('alice');
  await seedAccount(server, 'gina');
  proxy = await startFaultyProxy(server.port, (command) => decideFor(command), { delayMs: 5 });
  work = await makeTempDir('imap-pipelined', { mode: 0o755 });
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await work?.cleanup();
});

describe('pipelined appends into an IMAP target, connection cut mid-pipeline', () => {
  it.each([
    { user: 'bob', batchMessages: 10, fault: 'answers lost: the 4th MULTIAPPEND and those behind it stored, never confirmed', action: { kind: 'drop-on-tagged' } as const, at: 4 },
    { user: 'carol', batchMessages: 10, fault: 'the 3rd MULTIAPPEND cut halfway through its literals', action: { kind: 'drop-mid-literal', bytes: 20_000 } as const, at: 3 },
    { user: 'dave', batchMessages: 1, fault: 'answers lost: the 7th single APPEND and those behind it', action: { kind: 'drop-on-tagged' } as const, at: 7 },
  ])('ends with every message exactly once ($user: $fault)', async ({ user, batchMessages, action, at }) => {
    let appends = 0;
    let isCut = false;
    decideFor = (command) => {
      if (command.name !== 'APPEND' || isCut) return { kind: 'pass' };
      appends += 1;
      if (appends !== at) return { kind: 'pass' };
      isCut = true;
      return action;
    };
    proxy.log.length = 0;
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });
    const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
    const copy = async () => {
      const from = await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${server.port}`), { mode: 'read', logger, password });
      const to = await openStore(parseStoreSpec(`imap://${user}@127.0.0.1:${proxy.port}`), { mode: 'write', logger, password });
      const pair = `${from.label} -> ${to.label}`;
      try {
        return await runStoreCopy(from, to, { logger, retryBaseMs: 10, retryMaxMs: 50, batchMessages, state: { file: stateFileFor(path.join(work.path, 'state'), pair), pair } });
      } finally {
        await from.store[Symbol.asyncDispose]();
        await to.store[Symbol.asyncDispose]();
      }
    };

    const report = await copy();
    expect(report.totals.failedFolders, lines.join('')).toBe(0);
    // Stored by the server with the answer lost: found there on the retry ("already there"), not sent again.
    expect(report.totals.skipped).toBe(0);
    expect(report.totals.copied + report.totals.alreadyPresent).toBe(93);
    // The cut really happened mid-pipeline: several APPENDs were in flight, and the folder was started again.
    expect(proxy.log.join('\n')).toMatch(/drop: (before the tagged answer to \S+ ?: \S+ OK|after 20000 literal bytes)/);
    expect(proxy.maxAppendsInFlight).toBeGreaterThan(1);
    expect(report.folders.find((folder) => folder.source === 'INBOX')?.retries).toBeGreaterThanOrEqual(1);

    const onSource = await server.mail('alice').readMessages();
    const onTarget = await server.mail(user).readMessages();
    expect(countByMessageId(onTarget)).toEqual(countByMessageId(onSource));
    expect(countByMessageId(onTarget)['<thrice@example.org>']).toBe(3);
    expect(byMailbox(onTarget)).toEqual(byMailbox(onSource));
    // And a run after it has nothing to do.
    expect((await copy()).totals).toMatchObject({ copied: 0, failedFolders: 0 });
  });
});

describe('connections over a slow link', () => {
  it('copies every folder (seven with mail) over one connection per account, each handed from folder to folder', async () => {
    decideFor = () => ({ kind: 'pass' });
    const connectionsBefore = proxy.connections;
    const logger = createLogger({ level: 'info', write: () => {} });
    const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
    const from = await openStore(parseStoreSpec(`imap://gina@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password, maxConnections: 1 });
    const to = await openStore(parseStoreSpec(`imap://hank@127.0.0.1:${proxy.port}`), { mode: 'write', logger, password, maxConnections: 1 });
    const pair = `${from.label} -> ${to.label}`;
    const state = { file: stateFileFor(path.join(work.path, 'state'), pair), pair };
    let report;
    let again;
    let withOneNew;
    let againInFlight: Readonly<Record<string, number>> = {};
    let connectionsForFirst = 0;
    try {
      report = await runStoreCopy(from, to, { logger, state });
      connectionsForFirst = proxy.connections - connectionsBefore;
      proxy.resetCounts();
      again = await runStoreCopy(from, to, { logger, state });
      againInFlight = { ...proxy.maxInFlightAt };
      // One new message in one folder: that folder alone is opened, its listing behind its EXAMINE.
      await writeTree(server.users.find((each) => each.user === 'gina')!.maildir, {
        '.Work/cur/1600000000.M99P1.new:2,S': { content: Buffer.from(message('work-new', 'New at work', 'Arrived after the copy.')), mtime: 1_600_000_000 },
      });
      await server.fixOwnership('gina');
      proxy.resetCounts();
      withOneNew = await runStoreCopy(from, to, { logger, state });
    } finally {
      await from.store[Symbol.asyncDispose]();
      await to.store[Symbol.asyncDispose]();
    }
    expect(report.totals).toMatchObject({ copied: 14, failedFolders: 0 });
    expect(report.folders.length).toBeGreaterThanOrEqual(7);
    expect(connectionsForFirst).toBe(2);
    expect(byMailbox(await server.mail('hank').readMessages())).toEqual(byMailbox(await server.mail('gina').readMessages()));
    // The run with nothing new: the source's LIST said each folder's UIDNEXT (LIST-STATUS), none is above its saved
    // watermark, so no folder is opened at all: no EXAMINE, no listing.
    expect(again.totals).toMatchObject({ copied: 0, failedFolders: 0 });
    expect(again.folders.every((folder) => folder.mode === 'incremental')).toBe(true);
    expect(againInFlight['EXAMINE']).toBeUndefined();
    expect(againInFlight['UID FETCH']).toBeUndefined();
    // A folder with something new is opened, and its listing goes out behind its EXAMINE, in the same round trip
    // (on the connection the folder listing used, whose ID went out with that listing).
    expect(withOneNew.totals).toMatchObject({ copied: 1, failedFolders: 0 });
    expect(withOneNew.folders.find((folder) => folder.source === 'Work')).toMatchObject({ copied: 1, mode: 'incremental' });
    expect(proxy.maxInFlightAt['UID FETCH']).toBe(2);
  });
});
