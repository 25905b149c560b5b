import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { runStoreCopy, type StoreCopyOptions } from '../../../src/engine/messages/copy.js';
import { stateFileFor } from '../../../src/engine/state.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { startImapServer, type DovecotMessage, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree, type TreeManifest } from '../../support/tree.js';
import { startFaultyProxy, type FaultyProxy } from './faulty-proxy.js';
import { message } from './fixture.js';

/**
 * `resync --flags source|merge` into an IMAP target: flags changed on the source after the first copy reach the
 * target (UID STORE on the UIDs the sync state kept from APPENDUID), and with the default `--flags target` nothing on
 * the target changes. Without a kept map (copied by an older mailshift, or a server without UIDPLUS) the messages are
 * found by identity once and the map is kept from then on. The target is reached through a proxy that delays every
 * byte (a link with latency).
 */

let server: ImapServer;
let proxy: FaultyProxy;
let work: TempDir;

function sourceFiles(): TreeManifest {
  const manifest: Record<string, TreeManifest[string]> = {};
  for (let n = 1; n <= 12; n += 1) {
    manifest[`cur/${1_710_000_000 + n}.M${n}P1.src:2,${n % 2 === 0 ? 'S' : ''}`] = { content: Buffer.from(message(`flag-${n}`, `Message ${n}`, `Body ${n}.`)), mtime: 1_710_000_000 + n };
  }
  return manifest;
}

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['erin', 'frank'] });
  await writeTree(server.users.find((each) => each.user === 'erin')!.maildir, sourceFiles());
  await server.fixOwnership('erin');
  proxy = await startFaultyProxy(server.port, () => ({ kind: 'pass' }), { delayMs: 5 });
  work = await makeTempDir('imap-flags', { mode: 0o755 });
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await work?.cleanup();
});

/** Message-ID -> "flags | keywords", what the flag updates are about. */
function flagsById(messages: readonly DovecotMessage[]): Record<string, string> {
  return Object.fromEntries(messages.map((m) => [m.messageId ?? `uid ${m.uid}`, `${m.flags.join(' ')} | ${m.keywords.join(' ')}`]));
}

describe('flags into an IMAP target', () => {
  const logger = createLogger({ level: 'info', write: () => {} });
  const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
  let stateFile = '';
  const copy = async (options: Partial<StoreCopyOptions> = {}) => {
    const from = await openStore(parseStoreSpec(`imap://erin@127.0.0.1:${server.port}`), { mode: 'read', logger, password });
    const to = await openStore(parseStoreSpec(`imap://frank@127.0.0.1:${proxy.port}`), { mode: 'write', logger, password });
    const pair = `${from.label} -> ${to.label}`;
    stateFile = stateFileFor(path.join(work.path, 'state'), pair);
    try {
      return await runStoreCopy(from, to, { logger, state: { file: stateFile, pair }, ...options });
    } finally {
      await from.store[Symbol.asyncDispose]();
      await to.store[Symbol.asyncDispose]();
    }
  };
  const source = async () => flagsById(await server.mail('erin').readMessages());
  const target = async () => flagsById(await server.mail('frank').readMessages());

  it('brings flag changes over with --flags source, and leaves the target alone with --flags target', async () => {
    expect((await copy()).totals).toMatchObject({ copied: 12, failedFolders: 0 });
    expect(await target()).toEqual(await source());
    const copiedWith = await target();

    await server.doveadm(['flags', 'add', '-u', 'erin', '\\Flagged $Work', 'mailbox', 'INBOX', 'uid', '1:3']);
    await server.doveadm(['flags', 'remove', '-u', 'erin', '\\Seen', 'mailbox', 'INBOX', 'uid', '4:6']);
    const changed = await source();
    expect(changed).not.toEqual(copiedWith);

    // The default: the target keeps its flags.
    expect((await copy({ flags: 'target' })).totals).toMatchObject({ copied: 0, flagsApplied: 0, failedFolders: 0 });
    expect(await target()).toEqual(copiedWith);

    // A dry run counts the messages whose flags differ (1-3 flagged; 4 and 6 lose \Seen) and changes nothing.
    const dry = await copy({ flags: 'source', dryRun: true });
    expect(dry.totals).toMatchObject({ flagDifferences: 5, flagsApplied: 0 });
    expect(await target()).toEqual(copiedWith);

    const applied = await copy({ flags: 'source' });
    expect(applied.totals).toMatchObject({ copied: 0, flagDifferences: 5, flagsApplied: 5, failedFolders: 0 });
    expect(await target()).toEqual(changed);
    expect((await copy({ flags: 'source' })).totals).toMatchObject({ flagDifferences: 0, flagsApplied: 0 });
  });

  it('finds the messages by identity once when the state kept no target UIDs, then keeps them', async () => {
    // What an older mailshift (or a target without UIDPLUS) leaves: the watermark, no map.
    const document = JSON.parse(await readFile(stateFile, 'utf8')) as { folders: Record<string, Record<string, unknown>> };
    for (const folder of Object.values(document.folders)) delete folder['targetUids'];
    await writeFile(stateFile, JSON.stringify(document));

    await server.doveadm(['flags', 'add', '-u', 'erin', '\\Answered', 'mailbox', 'INBOX', 'uid', '10:12']);
    const before = await target();
    const merged = await copy({ flags: 'merge' });
    expect(merged.totals).toMatchObject({ flagDifferences: 3, flagsApplied: 3, failedFolders: 0 });
    const after = await target();
    for (const id of ['<flag-10@example.org>', '<flag-11@example.org>', '<flag-12@example.org>']) {
      expect(after[id]).toMatch(/\\Answered/);
      expect(after[id]).not.toEqual(before[id]);
    }
    const kept = JSON.parse(await readFile(stateFile, 'utf8')) as { folders: Record<string, { targetUids?: { runs: number[][] } }> };
    expect(kept.folders['INBOX\u0000INBOX']?.targetUids?.runs).toEqual([[1, 1, 12]]);
  });
});
