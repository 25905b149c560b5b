import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { createDoveadm, startImapServer, type Doveadm, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';

const run = promisify(execFile);

/**
 * `mailshift export imaps://...`: an IMAP account on a real Dovecot written into a backup, restored into a maildir and
 * read back by Dovecot with the same messages, flags and received dates.
 */
let server: ImapServer;
let doveadm: Doveadm;
let work: TempDir;

const message = (id: string) => `Message-ID: <${id}@example.com>\nFrom: a@example.com\nSubject: ${id}\n\nbody of ${id}\n`;
/** A maildir name whose S= is the file's size, which Dovecot checks. */
const named = (base: string, id: string, info?: string) => `${base},S=${Buffer.byteLength(message(id))}${info === undefined ? '' : `:2,${info}`}`;

beforeAll(async () => {
  server = await startImapServer({ tls: 'implicit', users: ['alice'] });
  doveadm = await createDoveadm({ separator: '/' });
  work = await makeTempDir('export-imap', { mode: 0o755 });
  const alice = server.users[0]!;
  await writeTree(alice.maildir, {
    [`cur/${named('1700000001.M1P1.h', 'i1', 'S')}`]: { content: message('i1'), mtime: 1700000001 },
    [`new/${named('1700000002.M2P1.h', 'i2')}`]: { content: message('i2'), mtime: 1700000002 },
    [`.Sent/cur/${named('1700000003.M3P1.h', 's1', 'FS')}`]: { content: message('s1'), mtime: 1700000003 },
    '.Sent/new': { type: 'dir' },
    '.Sent/tmp': { type: 'dir' },
    '.Sent/maildirfolder': '',
    tmp: { type: 'dir' },
  });
  await server.fixOwnership('alice');
  await writeFile(path.join(work.path, 'ca.pem'), server.caCertPem!);
  await writeFile(path.join(work.path, 'password'), `${alice.password}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await doveadm?.close();
  await server?.stop();
  await work?.cleanup();
});

describe('mailshift export of an IMAP account', () => {
  it('writes the account as a mailbox of a backup that restores to the same messages, flags and dates', async () => {
    const archive = path.join(work.path, 'alice.tar.gz');
    const auth = ['--ca-file', path.join(work.path, 'ca.pem'), '--password-file', path.join(work.path, 'password')];
    const exported = await runCli(['export', `imaps://alice@127.0.0.1:${server.port}`, archive, '--mailbox', 'alice@example.com', '--user', 'bob', ...auth]);
    expect(exported.code, exported.stderr).toBe(0);
    expect((await run('tar', ['-tzf', archive])).stdout).toContain('cpmove-bob/homedir/mail/example.com/alice/.Sent/cur/');
    // The staging maildir beside the archive is gone.
    expect((await readdir(work.path)).filter((n) => n.startsWith('.mailshift-export-'))).toEqual([]);
    const restored = path.join(work.path, 'restored');
    const copied = await runCli(['copy', `cpmove:${archive}#alice@example.com`, restored]);
    expect(copied.code, copied.stderr).toBe(0);
    const summary = (m: { mailbox: string; messageId: string; flags: string[]; receivedUnix: number }) => `${m.mailbox} ${m.messageId} ${m.flags.join(',')} ${m.receivedUnix}`;
    const source = (await doveadm.openMaildir(server.users[0]!.maildir)).readMessages();
    const back = (await doveadm.openMaildir(restored)).readMessages();
    expect((await back).map(summary).sort()).toEqual((await source).map(summary).sort());
  });
});
