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
 * `resync --flags` with a source that keeps mod-sequences (Dovecot: CONDSTORE): after the first run has read every
 * copied message's flags, a later run asks only for the messages changed since (UID FETCH ... (CHANGEDSINCE n)), and
 * brings over exactly those. A flag changed only on the target therefore stays until its message changes on the
 * source. The source is read through a proxy that logs each command.
 */

let server: ImapServer;
let proxy: FaultyProxy;
let work: TempDir;
const fetchLines: string[] = [];

function sourceFiles(): TreeManifest {
  const manifest: Record<string, TreeManifest[string]> = {};
  for (let n = 1; n <= 12; n += 1) {
    manifest[`cur/${1_720_000_000 + n}.M${n}P1.src:2,${n % 2 === 0 ? 'S' : ''}`] = { content: Buffer.from(message(`modseq-${n}`, `Message ${n}`, `Body ${n}.`)), mtime: 1_720_000_000 + n };
  }
  return manifest;
}

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['ida', 'jack'] });
  await writeTree(server.users.find((each) => each.user === 'ida')!.maildir, sourceFiles());
  await server.fixOwnership('ida');
  proxy = await startFaultyProxy(server.port, (command) => {
    if (command.name === 'UID FETCH') fetchLines.push(command.line);
    return { kind: 'pass' };
  });
  work = await makeTempDir('imap-condstore', { mode: 0o755 });
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await work?.cleanup();
});

function flagsById(messages: readonly DovecotMessage[]): Record<string, string> {
  return Object.fromEntries(messages.map((m) => [m.messageId, `${m.flags.join(' ')} | ${m.keywords.join(' ')}`]));
}

describe('resync --flags from a CONDSTORE source', () => {
  const logger = createLogger({ level: 'info', write: () => {} });
  const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
  const copy = async (options: Partial<StoreCopyOptions> = {}) => {
    const from = await openStore(parseStoreSpec(`imap://ida@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password });
    const to = await openStore(parseStoreSpec(`imap://jack@127.0.0.1:${server.port}`), { mode: 'write', logger, password });
    const pair = `${from.label} -> ${to.label}`;
    try {
      return await runStoreCopy(from, to, { logger, state: { file: stateFileFor(path.join(work.path, 'state'), pair), pair }, onlyFolders: ['INBOX'], ...options });
    } finally {
      await from.store[Symbol.asyncDispose]();
      await to.store[Symbol.asyncDispose]();
    }
  };
  const flagLists = () => fetchLines.filter((line) => /\bFLAGS\b/.test(line) && !/BODY/.test(line));
  const source = async () => flagsById(await server.mail('ida').readMessages());
  const target = async () => flagsById(await server.mail('jack').readMessages());

  it('reads every flag once, then only the messages changed on the source since', async () => {
    expect((await copy()).totals).toMatchObject({ copied: 12, failedFolders: 0 });

    await server.doveadm(['flags', 'add', '-u', 'ida', '\\Flagged', 'mailbox', 'INBOX', 'uid', '1:3']);
    fetchLines.length = 0;
    const first = await copy({ flags: 'source' });
    expect(first.totals).toMatchObject({ flagDifferences: 3, flagsApplied: 3, failedFolders: 0 });
    // The first flag run has nothing to compare with: every copied message's flags, no CHANGEDSINCE.
    expect(flagLists().some((line) => /^\S+ UID FETCH 1:\* \(UID FLAGS INTERNALDATE RFC822\.SIZE\)$/.test(line))).toBe(true);
    expect(flagLists().some((line) => /CHANGEDSINCE/.test(line))).toBe(false);
    expect(await target()).toEqual(await source());

    // One message changes on the source, another only on the target.
    await server.doveadm(['flags', 'add', '-u', 'ida', '\\Answered $Later', 'mailbox', 'INBOX', 'uid', '7']);
    await server.doveadm(['flags', 'add', '-u', 'jack', '\\Flagged', 'mailbox', 'INBOX', 'uid', '10']);
    const onTargetBefore = await target();
    fetchLines.length = 0;
    const second = await copy({ flags: 'source' });
    expect(second.totals).toMatchObject({ copied: 0, flagDifferences: 1, flagsApplied: 1, failedFolders: 0 });
    expect(flagLists().some((line) => /UID FETCH 1:\* \(UID FLAGS INTERNALDATE RFC822\.SIZE\) \(CHANGEDSINCE \d+\)$/.test(line))).toBe(true);
    const onTarget = await target();
    expect(onTarget['<modseq-7@example.org>']).toBe((await source())['<modseq-7@example.org>']);
    // Not changed on the source since the last flag run: its target-only flag stays.
    expect(onTarget['<modseq-10@example.org>']).toBe(onTargetBefore['<modseq-10@example.org>']);
    expect(onTarget['<modseq-10@example.org>']).toMatch(/\\Flagged/);

    // Nothing changed since: nothing to bring over.
    expect((await copy({ flags: 'source' })).totals).toMatchObject({ flagDifferences: 0, flagsApplied: 0 });
  });
});
