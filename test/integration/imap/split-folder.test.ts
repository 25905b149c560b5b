import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { runStoreCopy, type StoreCopyOptions } from '../../../src/engine/messages/copy.js';
import { stateFileFor } from '../../../src/engine/state.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { countByMessageId, startImapServer, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree, type TreeManifest } from '../../support/tree.js';
import { startFaultyProxy, type FaultyProxy, type ProxyAction, type ProxyCommand } from './faulty-proxy.js';
import { byMailbox, message } from './fixture.js';

/**
 * A large folder is read over the run's spare connections, by UID range (engine/messages/split-read.ts): one INBOX,
 * read through a proxy that delays every byte and counts which connection fetched bodies. It must end with every
 * message on the target exactly once and in the source's order, also when a connection is cut in the middle of
 * fetching a range and the copy is run again.
 */

const messageCount = 120;
let server: ImapServer;
let proxy: FaultyProxy;
let work: TempDir;
let decideFor: (command: ProxyCommand) => ProxyAction = () => ({ kind: 'pass' });
/** Connections that sent a UID FETCH of bodies, since the last reset. */
let bodyFetchConnections = new Set<number>();

/** 120 messages of about 10 KB each, one of them three times (identical messages stay three). */
function sourceFiles(): TreeManifest {
  const manifest: Record<string, TreeManifest[string]> = {};
  const body = `${'A line of body text in a folder large enough to be split. '.repeat(3)}\n`.repeat(55);
  for (let n = 1; n <= messageCount; n += 1) {
    const id = n > messageCount - 3 ? 'thrice' : `split-${n}`;
    const flags = ['S', '', 'F', 'RS'][n % 4]!;
    manifest[`cur/${1_700_000_000 + n}.M${n}P1.src:2,${flags}`] = { content: Buffer.from(message(id, `Message ${n}`, `${n}\n${body}`)), mtime: 1_700_000_000 + n };
  }
  return manifest;
}

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['alice', 'bob', 'carol'] });
  await writeTree(server.users.find((each) => each.user === 'alice')!.maildir, sourceFiles());
  await server.fixOwnership('alice');
  proxy = await startFaultyProxy(
    server.port,
    (command) => {
      if (command.name === 'UID FETCH' && /BODY\.PEEK\[\]/i.test(command.line)) bodyFetchConnections.add(command.connection);
      return decideFor(command);
    },
    { delayMs: 10 },
  );
  work = await makeTempDir('imap-split', { mode: 0o755 });
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await work?.cleanup();
});

/** One copy of alice's account (through the proxy, up to 3 connections) into `user`'s, with the given options. */
async function copyInto(user: string, options: Partial<StoreCopyOptions>) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
  const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
  const from = await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password, maxConnections: 3 });
  const to = await openStore(parseStoreSpec(`imap://${user}@127.0.0.1:${server.port}`), { mode: 'write', logger, password, maxConnections: 3 });
  const pair = `${from.label} -> ${to.label}`;
  try {
    const report = await runStoreCopy(from, to, {
      logger,
      concurrency: 3,
      // Small enough that this 1.2 MB folder is split: 40 ranges of about 30 KB, so the connections that log in while
      // the first one reads still find ranges to take.
      splitMinBytes: 200_000,
      stripeBytes: 30_000,
      onlyFolders: ['INBOX'],
      retryBaseMs: 10,
      retryMaxMs: 50,
      state: { file: stateFileFor(path.join(work.path, 'state'), pair), pair },
      ...options,
    });
    return { report, log: lines.join('') };
  } finally {
    await from.store[Symbol.asyncDispose]();
    await to.store[Symbol.asyncDispose]();
  }
}

async function expectExactCopy(user: string): Promise<void> {
  const onSource = await server.mail('alice').readMessages();
  const onTarget = await server.mail(user).readMessages();
  expect(countByMessageId(onTarget)).toEqual(countByMessageId(onSource));
  expect(countByMessageId(onTarget)['<thrice@example.org>']).toBe(3);
  expect(byMailbox(onTarget)).toEqual(byMailbox(onSource));
}

describe('a large folder split by UID range over the spare connections', () => {
  it('reads the bodies over several connections and ends with every message exactly once, in the source order', async () => {
    decideFor = () => ({ kind: 'pass' });
    bodyFetchConnections = new Set();
    const { report, log } = await copyInto('bob', {});
    expect(report.totals, log).toMatchObject({ copied: messageCount, skipped: 0, failedFolders: 0 });
    expect(log).toMatch(/INBOX: reading bodies over up to 3 connections/);
    expect(bodyFetchConnections.size).toBeGreaterThan(1);
    await expectExactCopy('bob');
    // Appended in UID order, as one connection would have: the target's UIDs follow the source's.
    const inUidOrder = async (user: string) => (await server.mail(user).readMessages()).filter((m) => m.mailbox === 'INBOX').map((m) => m.messageId);
    expect(await inUidOrder('bob')).toEqual(await inUidOrder('alice'));
    // And a run after it has nothing to do.
    expect((await copyInto('bob', {})).report.totals).toMatchObject({ copied: 0, failedFolders: 0 });
  });

  it('ends with every message exactly once when a connection is cut in the middle of fetching a range, and the copy is run again', async () => {
    let bodyFetches = 0;
    let readersAtCut = 0;
    bodyFetchConnections = new Set();
    decideFor = (command) => {
      if (command.name !== 'UID FETCH' || !/BODY\.PEEK\[\]/i.test(command.line)) return { kind: 'pass' };
      bodyFetches += 1;
      if (bodyFetches !== 16) return { kind: 'pass' };
      // The 16th range asked for: by then the other connections read too, and earlier ranges have reached the target.
      readersAtCut = bodyFetchConnections.size;
      return { kind: 'drop-after-bytes', bytes: 30_000 };
    };
    proxy.log.length = 0;
    // No retry within the run: the folder fails, and the next run has to pick up from the saved state.
    const cut = await copyInto('carol', { retries: 0 });
    expect(proxy.log.join('\n')).toMatch(/drop: after 30000 response bytes to /);
    expect(readersAtCut).toBeGreaterThan(1);
    expect(cut.report.totals.failedFolders).toBe(1);
    expect(cut.report.totals.copied).toBeLessThan(messageCount);

    decideFor = () => ({ kind: 'pass' });
    const again = await copyInto('carol', {});
    expect(again.report.totals, again.log).toMatchObject({ skipped: 0, failedFolders: 0 });
    expect(cut.report.totals.copied + again.report.totals.copied + again.report.totals.alreadyPresent).toBeGreaterThanOrEqual(messageCount);
    await expectExactCopy('carol');
  });
});
