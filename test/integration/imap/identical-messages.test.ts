import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../../src/core/logger.js';
import { runStoreCopy, type StoreCopyOptions, type StoreDescription } from '../../../src/engine/messages/copy.js';
import { runStoreVerify } from '../../../src/verify/messages.js';
import { stateFileFor } from '../../../src/engine/state.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { countByMessageId, createDoveadm, listUidsAndFlags, startImapServer, type Doveadm, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree, type TreeManifest } from '../../support/tree.js';
import { message } from './fixture.js';

/**
 * Identical messages (same Message-ID, headers and body; other flags) are counted, never collapsed: by the first copy,
 * by every incremental run after it (resync, copy again, a watch round), and by the run after an interrupted one.
 * Sources are real Dovecot accounts filled by writing maildir files (Dovecot gives the UIDs); what arrived is read
 * back by Dovecot itself.
 */

let source: ImapServer;
let target: ImapServer;
let work: TempDir;
let doveadm: Doveadm;
let logger: Logger;

beforeAll(async () => {
  [source, target] = await Promise.all([
    startImapServer({ separator: '.', prefix: 'INBOX.', tls: 'implicit', users: ['alice', 'dora', 'erin'] }),
    startImapServer({ separator: '/', tls: 'starttls', users: ['bob', 'carol'] }),
  ]);
  work = await makeTempDir('imap-identical', { mode: 0o755 });
  doveadm = await createDoveadm({ separator: '/' });
  logger = createLogger({ level: 'info', write: () => {} });
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop(), doveadm?.close()]);
  await work?.cleanup();
});

async function open(spec: string, server: ImapServer | undefined, mode: 'read' | 'write'): Promise<StoreDescription> {
  return openStore(parseStoreSpec(spec), {
    mode,
    logger,
    password: async (imap) => server!.users.find((u) => u.user === imap.user)!.password,
    ...(server?.caCertPath ? { caFile: server.caCertPath } : {}),
  });
}

const sourceSpec = (user: string) => `imaps://${user}@127.0.0.1:${source.port}`;
const targetSpec = (user: string) => `imap://${user}@127.0.0.1:${target.port}`;
const stateFor = (from: string, to: string) => ({ file: stateFileFor(path.join(work.path, 'state'), `${from} -> ${to}`), pair: `${from} -> ${to}` });

/** Copies with the incremental state a CLI run would use for this pair. */
async function copy(fromUser: string, to: { spec: string; server?: ImapServer }, options: Partial<StoreCopyOptions> = {}) {
  const from = await open(sourceSpec(fromUser), source, 'read');
  const into = await open(to.spec, to.server, 'write');
  try {
    return await runStoreCopy(from, into, { logger, state: stateFor(from.label, into.label), ...options });
  } finally {
    await from.store[Symbol.asyncDispose]();
    await into.store[Symbol.asyncDispose]();
  }
}

async function verify(fromUser: string, to: { spec: string; server?: ImapServer }) {
  const from = await open(sourceSpec(fromUser), source, 'read');
  const into = await open(to.spec, to.server, 'read');
  try {
    return await runStoreVerify(from, into, { logger, strict: true });
  } finally {
    await from.store[Symbol.asyncDispose]();
    await into.store[Symbol.asyncDispose]();
  }
}

/** Files for a user's INBOX: `copies` times each of `distinct` messages, flags varying, so Dovecot gives them UIDs. */
function inboxFiles(tag: string, distinct: number, copies: number, firstSecond: number): TreeManifest {
  const manifest: Record<string, TreeManifest[string]> = {};
  let n = 0;
  for (let copy = 0; copy < copies; copy += 1) {
    for (let i = 0; i < distinct; i += 1) {
      n += 1;
      const flags = ['S', '', 'F', 'RS'][n % 4]!;
      manifest[`cur/${firstSecond + n}.M${n}P1.${tag}:2,${flags}`] = { content: Buffer.from(message(`same-${i}`, `Same message ${i}`, `Sent to the list ${i}.`)), mtime: firstSecond + i };
    }
  }
  return manifest;
}

async function addToInbox(user: string, manifest: TreeManifest): Promise<void> {
  await writeTree(source.users.find((each) => each.user === user)!.maildir, manifest);
  await source.fixOwnership(user);
}



describe('identical messages on incremental runs, against Dovecot', () => {
  const maildirOf = (name: string) => ({ spec: path.join(work.path, name) });
  const bob = () => ({ spec: targetSpec('bob'), server: target });

  it('does not collapse a 4th identical message on resync (IMAP to maildir and IMAP to IMAP)', async () => {
    await addToInbox('alice', inboxFiles('three', 1, 3, 1_600_000_000));
    const maildir = maildirOf('alice-maildir');
    for (const to of [maildir, bob()]) expect((await copy('alice', to)).totals).toMatchObject({ copied: 3, alreadyPresent: 0 });

    await source.doveadm(['save', '-u', 'alice', '-m', 'INBOX'], { input: message('same-0', 'Same message 0', 'Sent to the list 0.') });
    for (const to of [maildir, bob()]) {
      const again = await copy('alice', to);
      expect(again.folders.find((f) => f.source === 'INBOX')).toMatchObject({ mode: 'incremental', copied: 1, alreadyPresent: 0 });
    }
    const onSource = countByMessageId(await source.mail('alice').readMessages());
    expect(onSource).toEqual({ '<same-0@example.org>': 4 });
    expect(countByMessageId(await (await doveadm.openMaildir(maildir.spec)).readMessages())).toEqual(onSource);
    expect(countByMessageId(await target.mail('bob').readMessages())).toEqual(onSource);
    // Nothing left to do, and verify agrees: the same bytes and flags, and (into the maildir) the same UIDs.
    for (const to of [maildir, bob()]) expect((await copy('alice', to)).totals.copied).toBe(0);
    expect(listUidsAndFlags(await (await doveadm.openMaildir(maildir.spec)).readMessages())).toEqual(listUidsAndFlags(await source.mail('alice').readMessages()));
    const verified = await verify('alice', maildir);
    expect(verified.totals).toMatchObject({ sourceMessages: 4, targetMessages: 4, missing: 0, duplicates: 0, flagDifferences: 0, uidsChanged: 0 });
    expect(verified.exitCode).toBe(0);
  });

  it('copies exactly what is missing after a run interrupted midway, many identical messages (IMAP to maildir and IMAP to IMAP)', async () => {
    // 10 messages 3 times each, copied; then 4 more times each, and the next run is stopped after 12 of those 40:
    // its saved state lags behind what it wrote, as after Ctrl-C or a kill.
    await addToInbox('dora', inboxFiles('first', 10, 3, 1_610_000_000));
    const maildir = maildirOf('dora-maildir');
    const carol = { spec: targetSpec('carol'), server: target };
    for (const to of [maildir, carol]) expect((await copy('dora', to)).totals.copied).toBe(30);
    await addToInbox('dora', inboxFiles('later', 10, 4, 1_620_000_000));
    const onSource = countByMessageId(await source.mail('dora').readMessages());
    expect(Object.values(onSource)).toEqual(Array(10).fill(7));

    for (const to of [maildir, carol]) {
      const controller = new AbortController();
      await expect(
        copy('dora', to, {
          batchMessages: 1,
          signal: controller.signal,
          onProgress: ({ messages }) => {
            if (messages === 12) controller.abort();
          },
        }),
      ).rejects.toThrow(/interrupted/i);
      const rerun = await copy('dora', to);
      expect(rerun.totals.failedFolders).toBe(0);
      expect((await copy('dora', to)).totals.copied).toBe(0);
    }
    expect(countByMessageId(await (await doveadm.openMaildir(maildir.spec)).readMessages())).toEqual(onSource);
    expect(countByMessageId(await target.mail('carol').readMessages())).toEqual(onSource);
    expect((await verify('dora', maildir)).totals).toMatchObject({ sourceMessages: 70, missing: 0, duplicates: 0, flagDifferences: 0, uidsChanged: 0 });
    expect((await verify('dora', carol)).totals).toMatchObject({ sourceMessages: 70, targetMessages: 70, missing: 0, duplicates: 0, flagDifferences: 0 });
  });
});

describe('a re-run after a crash, IMAP to maildir, against Dovecot', () => {
  it('records the source UIDs of what the killed run wrote, so Dovecot and verify see the source UIDs', async () => {
    await addToInbox('erin', { ...inboxFiles('twins', 2, 3, 1_630_000_000), ...inboxFiles('single', 4, 1, 1_640_000_000) });
    const maildir = { spec: path.join(work.path, 'erin-maildir') };
    expect((await copy('erin', maildir)).totals.copied).toBe(10);
    // What kill -9 leaves (the uidlist is written when a folder is finished): every message file, no dovecot-uidlist,
    // and no state saved for the folder.
    await unlink(path.join(maildir.spec, 'dovecot-uidlist'));
    const from = await open(sourceSpec('erin'), source, 'read');
    const into = await open(maildir.spec, undefined, 'read');
    await unlink(stateFor(from.label, into.label).file);
    await from.store[Symbol.asyncDispose]();
    await into.store[Symbol.asyncDispose]();

    const rerun = await copy('erin', maildir);
    expect(rerun.totals).toMatchObject({ copied: 0, alreadyPresent: 10 });
    const onTarget = await (await doveadm.openMaildir(maildir.spec)).readMessages();
    expect(listUidsAndFlags(onTarget)).toEqual(listUidsAndFlags(await source.mail('erin').readMessages()));
    const verified = await verify('erin', maildir);
    expect(verified.totals).toMatchObject({ sourceMessages: 10, missing: 0, uidsChanged: 0, foldersWithChangedUids: 0 });
    expect(verified.exitCode).toBe(0);
  });
});
