import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countByMessageId, createDoveadm, listUidsAndFlags, startImapServer, type Doveadm, type ImapServer } from '../support/dovecot.js';
import { waitFor } from '../support/process.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { writeTree, type TreeManifest } from '../support/tree.js';
import { message } from '../integration/imap/fixture.js';
import { runCli, spawnCli } from './cli.js';

/**
 * The built CLI against real Dovecot: identical messages (same Message-ID, headers and body) are counted, never
 * collapsed, by copy, resync and a watch round, IMAP to maildir and IMAP to IMAP; and a copy killed with SIGKILL is
 * finished by the next run with the source's UIDs, exactly as an uninterrupted one.
 */

let source: ImapServer;
let target: ImapServer;
let work: TempDir;
let doveadm: Doveadm;
let caBundle: string;

beforeAll(async () => {
  [source, target] = await Promise.all([
    startImapServer({ separator: '.', prefix: 'INBOX.', tls: 'implicit', users: ['ivy', 'kim'] }),
    startImapServer({ separator: '/', tls: 'starttls', users: ['bob'] }),
  ]);
  work = await makeTempDir('imap-identical-e2e', { mode: 0o755 });
  doveadm = await createDoveadm({ separator: '/' });
  caBundle = path.join(work.path, 'ca-bundle.pem');
  await writeFile(caBundle, `${source.caCertPem}\n${target.caCertPem}`);
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop(), doveadm?.close()]);
  await work?.cleanup();
});

const password = (server: ImapServer, user: string) => server.users.find((u) => u.user === user)!.password;
const sourceUrl = (user: string) => `imaps://${user}@127.0.0.1:${source.port}`;
const bobUrl = () => `imap://bob@127.0.0.1:${target.port}`;

async function passwordFile(user: string): Promise<string> {
  const file = path.join(work.path, `${user}.pw`);
  await writeFile(file, `${password(source, user)}\n`, { mode: 0o600 });
  return file;
}

/** `copies` times each of `distinct` messages, flags varying, written into the user's INBOX for Dovecot to serve. */
async function fillInbox(user: string, tag: string, distinct: number, copies: number, body = ''): Promise<void> {
  const manifest: Record<string, TreeManifest[string]> = {};
  let n = 0;
  for (let copy = 0; copy < copies; copy += 1) {
    for (let i = 0; i < distinct; i += 1) {
      n += 1;
      manifest[`cur/${1_600_000_000 + n}.M${n}P1.${tag}:2,${['S', '', 'F', 'RS'][n % 4]}`] = { content: Buffer.from(message(`${tag}-${i}`, `Same message ${i}`, `Sent to the list ${i}.\n${body}`)), mtime: 1_600_000_000 + i };
    }
  }
  await writeTree(source.users.find((each) => each.user === user)!.maildir, manifest);
  await source.fixOwnership(user);
}



describe('identical messages through the built CLI', () => {
  it('copy, resync and a watch round each count a new identical message (IMAP to maildir and IMAP to IMAP); verify --strict is clean', async () => {
    await fillInbox('ivy', 'twin', 1, 3);
    const pw = await passwordFile('ivy');
    const maildir = path.join(work.path, 'ivy-maildir');
    const state = ['--state-dir', path.join(work.path, 'state')];
    const targets = [
      { to: maildir, env: {} },
      { to: bobUrl(), env: { MAILSHIFT_TARGET_PASSWORD: password(target, 'bob') } },
    ];
    const save = () => source.doveadm(['save', '-u', 'ivy', '-m', 'INBOX'], { input: message('twin-0', 'Same message 0', 'Sent to the list 0.\n') });
    for (const { to, env } of targets) {
      const first = await runCli(['--json', 'copy', sourceUrl('ivy'), to, '--ca-file', caBundle, '--source-password-file', pw, ...state], { env });
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout).totals).toMatchObject({ copied: 3, alreadyPresent: 0 });
    }

    await save();
    for (const { to, env } of targets) {
      const resync = await runCli(['--json', 'resync', sourceUrl('ivy'), to, '--ca-file', caBundle, '--source-password-file', pw, ...state], { env });
      expect(resync.code, resync.stderr).toBe(0);
      expect(JSON.parse(resync.stdout).totals).toMatchObject({ copied: 1, alreadyPresent: 0 });
    }

    await save();
    for (const { to, env } of targets) {
      const again = await runCli(['--json', 'copy', sourceUrl('ivy'), to, '--ca-file', caBundle, '--source-password-file', pw, ...state], { env });
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout).totals).toMatchObject({ copied: 1, alreadyPresent: 0 });
    }

    await save();
    for (const { to, env } of targets) {
      const child = spawnCli(['watch', sourceUrl('ivy'), to, '--ca-file', caBundle, '--source-password-file', pw, '--poll', '60', ...state], env);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = once(child, 'close');
      try {
        await waitFor(() => (/resync: \d+ copied/.test(stderr) ? true : undefined), 20_000, () => `no watch round: ${stderr}`);
        expect(stderr).toMatch(/resync: 1 copied/);
      } finally {
        child.kill('SIGINT');
      }
      expect((await exited)[0]).toBe(130);
    }

    const onSource = countByMessageId(await source.mail('ivy').readMessages());
    expect(onSource).toEqual({ '<twin-0@example.org>': 6 });
    expect(countByMessageId(await (await doveadm.openMaildir(maildir)).readMessages())).toEqual(onSource);
    expect(countByMessageId(await target.mail('bob').readMessages())).toEqual(onSource);

    const verify = await runCli(['verify', '--strict', sourceUrl('ivy'), maildir, '--ca-file', caBundle, '--password-file', pw]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^OK: 6 of 6 source messages checked on the target; 0 missing, 0 duplicated, 0 with other flags, UIDs kept/);
  });

  it('after kill -9 during an IMAP to maildir copy, the re-run keeps the source UIDs and counts identical messages exactly', async () => {
    // 600 messages 4 times each, a few KB apiece: long enough a copy to be killed in the middle.
    await fillInbox('kim', 'bulk', 600, 4, 'lorem ipsum dolor sit amet '.repeat(100));
    const pw = await passwordFile('kim');
    const maildir = path.join(work.path, 'kim-maildir');
    const args = [sourceUrl('kim'), maildir, '--ca-file', caBundle, '--password-file', pw, '--state-dir', path.join(work.path, 'state-kim')];
    const filesIn = (sub: string) => (existsSync(path.join(maildir, sub)) ? readdirSync(path.join(maildir, sub)).length : 0);
    const child = spawnCli(['copy', ...args]);
    const exited = once(child, 'close');
    for (let tries = 0; tries < 3000 && filesIn('cur') < 300; tries += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    child.kill('SIGKILL');
    await exited;
    const written = filesIn('cur');
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(2400);
    // Killed before the folder was finished: the files written since the last checkpoint have no UID recorded yet.

    const rerun = await runCli(['--json', 'copy', ...args]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout).totals.copied).toBe(2400 - written);
    const onSource = await source.mail('kim').readMessages();
    const onTarget = await (await doveadm.openMaildir(maildir)).readMessages();
    expect(onTarget).toHaveLength(2400);
    expect(listUidsAndFlags(onTarget)).toEqual(listUidsAndFlags(onSource));
    const verify = await runCli(['verify', '--strict', sourceUrl('kim'), maildir, '--ca-file', caBundle, '--password-file', pw]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^OK: 2400 of 2400 source messages checked on the target; 0 missing, 0 duplicated, 0 with other flags, UIDs kept/);
  });
});
