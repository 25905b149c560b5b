import path from 'node:path';
import { readdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { packCpmove, writeCpmoveTree, type CpmoveTree } from '../../support/cpmove.js';
import { createDoveadm, startImapServer, type Doveadm, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

/**
 * `mailshift copy cpmove:BACKUP#local@domain imaps://...`: one mailbox of a backup into an IMAP account on a real
 * Dovecot, streamed: each message appended as the one pass over the backup reaches it; read back by Dovecot, and a
 * second run adds nothing.
 */
let server: ImapServer;
let doveadm: Doveadm;
let work: TempDir;
let tree: CpmoveTree;
let archive: string;

beforeAll(async () => {
  server = await startImapServer({ tls: 'implicit', users: ['alice'] });
  doveadm = await createDoveadm({ separator: '/' });
  work = await makeTempDir('restore-imap', { mode: 0o755 });
  tree = await writeCpmoveTree(path.join(work.path, 'src'));
  archive = path.join(work.path, 'cpmove-bob.tar.gz');
  await packCpmove(tree, archive, { format: 'posix', gzip: true });
  await writeFile(path.join(work.path, 'ca.pem'), server.caCertPem!);
  await writeFile(path.join(work.path, 'password'), `${server.users[0]!.password}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await doveadm?.close();
  await server?.stop();
  await work?.cleanup();
});

describe('mailshift copy BACKUP#mailbox imaps://...', () => {
  it('puts the mailbox into the IMAP account with its flags, keywords and dates, and adds nothing on a second run', async () => {
    const args = [
      'copy',
      `cpmove:${archive}#alice@example.com`,
      `imaps://alice@127.0.0.1:${server.port}`,
      '--ca-file',
      path.join(work.path, 'ca.pem'),
      '--password-file',
      path.join(work.path, 'password'),
      '--state-dir',
      path.join(work.path, 'state'),
      '--json',
    ];
    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    expect((JSON.parse(first.stdout) as { route: { reason: string } }).route.reason).toContain('each message of the mailbox is appended as it passes');
    const summary = (m: { mailbox: string; messageId: string; flags: string[]; keywords: string[]; receivedUnix: number }) =>
      `${m.mailbox} ${m.messageId} ${m.flags.join(',')} ${m.keywords.join(',')} ${m.receivedUnix}`;
    // The backup stores folder names as raw UTF-8 (cPanel's way): read with :UTF-8; the server stores what IMAP made.
    const source = await doveadm.openMaildir(tree.alice);
    const expected = (await doveadm.at(`${source.location}:UTF-8`).readMessages()).map(summary).sort();
    const served = (await (await doveadm.openMaildir(server.users[0]!.maildir)).readMessages()).map(summary).sort();
    expect(served).toEqual(expected);
    expect(served).toHaveLength(7);
    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    expect((JSON.parse(second.stdout) as { totals: { copied: number } }).totals.copied).toBe(0);
    // Nothing is staged on disk: the state directory holds no copy of the mailbox.
    expect(await readdir(path.join(work.path, 'state')).catch(() => [])).not.toContain('archive-staging');
  });

  it('refuses a whole account into one IMAP account, naming what to add', async () => {
    const result = await runCli(['copy', archive, `imaps://alice@127.0.0.1:${server.port}`, '--password-file', path.join(work.path, 'password')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cpmove:ARCHIVE#local@domain');
  });
});
