import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { runStoreCopy } from '../../../src/engine/messages/copy.js';
import { stateFileFor } from '../../../src/engine/state.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { createDoveadm, startImapServer, type Doveadm, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree, type TreeManifest } from '../../support/tree.js';
import { startFaultyProxy, type FaultyProxy, type ProxyAction, type ProxyCommand } from './faulty-proxy.js';
import { message } from './fixture.js';

/**
 * IMAP to maildir, cut off in the middle of a folder after the target recorded part of it (a crash or a cut
 * connection), then run again: every message of the folder carries its source UID on the target, under the source's
 * UIDVALIDITY. Before, the rest of the folder was renumbered past the source's next UID, into UIDs the source gives
 * other messages.
 */

const messageCount = 60;
let server: ImapServer;
let proxy: FaultyProxy;
let doveadm: Doveadm;
let work: TempDir;
let decideFor: (command: ProxyCommand) => ProxyAction = () => ({ kind: 'pass' });

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['alice'] });
  const manifest: Record<string, TreeManifest[string]> = {};
  const body = `${'Some text of a message that is long enough to fill a few socket reads. '.repeat(4)}\n`.repeat(30);
  for (let n = 1; n <= messageCount; n += 1) manifest[`cur/${1_700_000_000 + n}.M${n}P1.src:2,S`] = { content: Buffer.from(message(`resume-${n}`, `Message ${n}`, `${n}\n${body}`)), mtime: 1_700_000_000 + n };
  await writeTree(server.users.find((each) => each.user === 'alice')!.maildir, manifest);
  await server.fixOwnership('alice');
  proxy = await startFaultyProxy(server.port, (command) => decideFor(command));
  doveadm = await createDoveadm({ separator: '/' });
  work = await makeTempDir('imap-uid-resume', { mode: 0o755 });
});

afterAll(async () => {
  await proxy?.close();
  await Promise.all([server?.stop(), doveadm?.close()]);
  await work?.cleanup();
});

async function copyToMaildir(maildir: string) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
  const password = async () => server.users.find((u) => u.user === 'alice')!.password;
  const from = await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password, maxConnections: 1 });
  const to = await openStore(parseStoreSpec(maildir), { mode: 'write', logger });
  const pair = `${from.label} -> ${to.label}`;
  try {
    // Written five at a time and saved after each, so the target has recorded part of the folder when the cut comes;
    // no retry within the run, so the rest is the next run's.
    const report = await runStoreCopy(from, to, { logger, onlyFolders: ['INBOX'], retries: 0, batchMessages: 5, stateSaveIntervalMs: 0, state: { file: stateFileFor(path.join(work.path, 'state'), pair), pair } });
    return { report, log: lines.join('') };
  } finally {
    await from.store[Symbol.asyncDispose]();
    await to.store[Symbol.asyncDispose]();
  }
}

describe('IMAP to maildir run again after a cut in the middle of a folder', () => {
  it('gives every message its source UID, the first part and the rest alike', async () => {
    const maildir = path.join(work.path, 'Maildir');
    decideFor = (command) => (command.name === 'UID FETCH' && /BODY\.PEEK\[\]/i.test(command.line) ? { kind: 'drop-after-bytes', bytes: 300_000 } : { kind: 'pass' });
    const cut = await copyToMaildir(maildir);
    expect(proxy.log.join('\n')).toMatch(/drop: after 300000 response bytes/);
    expect(cut.report.totals.copied, cut.log).toBeGreaterThan(0);
    expect(cut.report.totals.copied).toBeLessThan(messageCount);

    decideFor = () => ({ kind: 'pass' });
    const again = await copyToMaildir(maildir);
    expect(again.report.totals, again.log).toMatchObject({ skipped: 0, failedFolders: 0 });

    const onSource = (await server.mail('alice').readMessages()).filter((m) => m.mailbox === 'INBOX');
    const target = await doveadm.openMaildir(maildir);
    const onTarget = (await target.readMessages()).filter((m) => m.mailbox === 'INBOX');
    const byUid = (messages: readonly { uid: number; messageId: string }[]) => messages.map((m) => `${m.uid} ${m.messageId}`).sort();
    expect(onSource).toHaveLength(messageCount);
    expect(byUid(onTarget)).toEqual(byUid(onSource));
    const sourceStatus = (await server.mail('alice').mailboxStatus())['INBOX']!;
    expect((await target.mailboxStatus())['INBOX']).toMatchObject({ uidValidity: sourceStatus.uidValidity, uidNext: sourceStatus.uidNext });
  });
});
