import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDoveadm, startImapServer, type Doveadm, type ImapServer } from '../support/dovecot.js';
import { waitFor } from '../support/process.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { byMailbox, seedAccount, seedMessages } from '../integration/imap/fixture.js';
import { runCli, spawnCli } from './cli.js';

/**
 * The built CLI against real Dovecot servers on 127.0.0.1: `copy`, `resync` and `verify` with an IMAP end, passwords
 * from a file, stdin and the environment, TLS verified through --ca-file, --justlogin, --dry-run and --imap-fallback.
 */

let source: ImapServer;
let target: ImapServer;
let work: TempDir;
let doveadm: Doveadm;
let caBundle: string;
let alicePasswordFile: string;
let maildir: string;

const aliceUrl = () => `imaps://alice@127.0.0.1:${source.port}`;
const targetUrl = (user: string) => `imap://${user}@127.0.0.1:${target.port}`;
const password = (server: ImapServer, user: string) => server.users.find((u) => u.user === user)!.password;
const fromCpanel = (name: string) => (name === 'INBOX' ? 'INBOX' : name.replace(/^INBOX\./, '').replaceAll('.', '/'));

beforeAll(async () => {
  [source, target] = await Promise.all([
    // wendy: the account the watch test delivers to, so the others see an unchanged alice.
    startImapServer({ separator: '.', prefix: 'INBOX.', tls: 'implicit', users: ['alice', 'wendy'] }),
    startImapServer({ separator: '/', tls: 'starttls', users: ['bob', 'carol'] }),
  ]);
  await seedAccount(source, 'alice');
  work = await makeTempDir('imap-e2e', { mode: 0o755 });
  doveadm = await createDoveadm({ separator: '/' });
  caBundle = path.join(work.path, 'ca-bundle.pem');
  await writeFile(caBundle, `${source.caCertPem}\n${target.caCertPem}`);
  alicePasswordFile = path.join(work.path, 'alice.pw');
  await writeFile(alicePasswordFile, `${password(source, 'alice')}\n`, { mode: 0o600 });
  maildir = path.join(work.path, 'alice-maildir');
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop(), doveadm?.close()]);
  await work?.cleanup();
});

const stateArgs = () => ['--state-dir', path.join(work.path, 'state')];

describe('mailshift copy/verify/resync with an IMAP end', () => {
  it('copy --justlogin checks the login and shows what the server offers', async () => {
    const result = await runCli(['copy', '--justlogin', aliceUrl(), maildir, '--ca-file', caBundle, '--password-file', alicePasswordFile]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/source: imaps:\/\/alice@127\.0\.0\.1:\d+: login ok/);
    expect(result.stdout).toContain('namespace: prefix "INBOX.", delimiter "."');
    expect(result.stdout).toMatch(/capabilities: .*UIDPLUS/);
  });

  it('refuses an untrusted certificate with a hint (exit 78), and a wrong password without echoing it', async () => {
    const untrusted = await runCli(['copy', aliceUrl(), maildir, '--password-file', alicePasswordFile]);
    expect(untrusted.code).toBe(78);
    expect(untrusted.stderr).toMatch(/TLS with alice@127\.0\.0\.1:\d+ failed/);
    expect(untrusted.stderr).toMatch(/--ca-file/);

    const wrong = await runCli(['copy', aliceUrl(), maildir, '--ca-file', caBundle, '--debug'], { env: { MAILSHIFT_SOURCE_PASSWORD: 'not-the-password-42' } });
    expect(wrong.code).toBe(78);
    expect(wrong.stderr).toMatch(/login to alice@127\.0\.0\.1:\d+ failed/);
    expect(wrong.stderr + wrong.stdout).not.toContain('not-the-password-42');
  });

  it('takes --flags source|merge into an IMAP target (issue 14), and warns about file-level options it ignores', async () => {
    const flags = await runCli(['resync', '--dry-run', aliceUrl(), targetUrl('bob'), '--ca-file', caBundle, '--source-password-file', alicePasswordFile, '--flags', 'merge'], {
      env: { MAILSHIFT_TARGET_PASSWORD: password(target, 'bob') },
    });
    expect(flags.code, flags.stderr).toBe(0);
    expect(flags.stderr).not.toMatch(/needs a maildir/);
    const ignored = await runCli(['copy', '--justlogin', aliceUrl(), maildir, '--ca-file', caBundle, '--password-file', alicePasswordFile, '--bwlimit', '500', '--no-chown']);
    expect(ignored.code, ignored.stderr).toBe(0);
    expect(ignored.stderr).toMatch(/--bwlimit, --no-chown: for file-level copies only; ignored by this IMAP copy/);
  });

  it('refuses a password in the URL', async () => {
    const result = await runCli(['copy', `imaps://alice:secret@127.0.0.1:${source.port}`, maildir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/carries a password/);
  });

  it('copy --dry-run prints the folder mapping table and writes nothing', async () => {
    const result = await runCli(['copy', '--dry-run', aliceUrl(), targetUrl('bob'), '--ca-file', caBundle, '--source-password-file', alicePasswordFile], {
      env: { MAILSHIFT_TARGET_PASSWORD: password(target, 'bob') },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Would copy 14 messages/);
    expect(result.stdout.split('\n')[0]).toMatch(/^Route: messages \(one at a time through the stores\): the source imaps:\/\/alice@[^ ]+ is an IMAP account/);
    expect(result.stdout).toMatch(/SOURCE FOLDER\s+TARGET FOLDER\s+WHY/);
    expect(result.stdout).toMatch(/Sent\s+Sent\s+SPECIAL-USE \\Sent/);
    expect(result.stdout).toMatch(/Entwürfe\s+Entwürfe\s+same name/);
    expect(await target.mail('bob').readMessages()).toHaveLength(0);
  });

  it('copies IMAP to a maildir (password on stdin), then a second run and resync copy nothing, and verify agrees', async () => {
    const first = await runCli(['--json', 'copy', aliceUrl(), maildir, '--ca-file', caBundle, '--password-file', '-', ...stateArgs()], { input: `${password(source, 'alice')}\n` });
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report).toMatchObject({ ok: true, command: 'copy', engine: 'imap', totals: { copied: seedMessages.length, skipped: 0 } });
    expect(byMailbox(await (await doveadm.openMaildir(maildir)).readMessages({ hashes: true }))).toEqual(
      byMailbox(await source.mail('alice').readMessages({ hashes: true }), fromCpanel),
    );

    const again = await runCli(['--json', 'copy', aliceUrl(), maildir, '--ca-file', caBundle, '--password-file', alicePasswordFile, ...stateArgs()]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).totals.copied).toBe(0);

    const resync = await runCli(['--json', 'resync', aliceUrl(), maildir, '--ca-file', caBundle, '--password-file', alicePasswordFile, ...stateArgs()]);
    expect(resync.code, resync.stderr).toBe(0);
    expect(JSON.parse(resync.stdout)).toMatchObject({ command: 'resync', totals: { copied: 0 } });

    const verify = await runCli(['--json', 'verify', aliceUrl(), maildir, '--ca-file', caBundle, '--password-file', alicePasswordFile]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout).totals).toMatchObject({ sourceMessages: seedMessages.length, targetMessages: seedMessages.length, missing: 0, flagDifferences: 0 });
  });

  it('resync --flags merge brings a flag set on the source since into the maildir', async () => {
    const unflagged = (await source.mail('alice').readMessages()).filter((m) => m.mailbox === 'INBOX' && !m.flags.includes('\\Flagged')).length;
    expect(unflagged).toBeGreaterThan(0);
    await source.doveadm(['flags', 'add', '-u', 'alice', '\\Flagged', 'mailbox', 'INBOX', 'ALL']);
    const result = await runCli(['resync', aliceUrl(), maildir, '--ca-file', caBundle, '--password-file', alicePasswordFile, '--flags', 'merge', ...stateArgs()]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`flags (--flags merge): ${unflagged} differed, ${unflagged} changed on the target`);
    const verify = await runCli(['--json', 'verify', aliceUrl(), maildir, '--ca-file', caBundle, '--password-file', alicePasswordFile]);
    expect(JSON.parse(verify.stdout).totals).toMatchObject({ missing: 0, flagDifferences: 0 });
  });

  it('watch with an IMAP source copies a message as soon as IDLE announces it (the poll is a minute away); Ctrl-C exits 130', async () => {
    // An account of its own (created with the server): mail delivered here must not change what the others compare.
    const wendy = source.users.find((user) => user.user === 'wendy')!;
    await seedAccount(source, 'wendy');
    const wendyPasswordFile = path.join(work.path, 'wendy.pw');
    await writeFile(wendyPasswordFile, `${wendy.password}\n`, { mode: 0o600 });
    const watched = path.join(work.path, 'watched-maildir');
    const child = spawnCli(['watch', `imaps://wendy@127.0.0.1:${source.port}`, watched, '--ca-file', caBundle, '--password-file', wendyPasswordFile, '--poll', '60', '--state-dir', path.join(work.path, 'state-watch')]);
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const countIn = async (sub: string) => (await readdir(path.join(watched, sub)).catch(() => [])).length;
    try {
      await waitFor(() => (/resync: \d+ copied/.test(stderr) ? true : undefined), 20_000, () => `no first round: ${stderr}`);
      expect(stderr).toContain('at once when new mail reaches INBOX (IDLE)');
      // INBOX of the target (the other folders are .Name directories beside it).
      const before = (await countIn('cur')) + (await countIn('new'));
      expect(before).toBeGreaterThan(0);
      await source.doveadm(['save', '-u', 'wendy', '-m', 'INBOX'], { input: 'From: dora@example.org\nSubject: arrived while watching\nMessage-ID: <watched-1@example.org>\n\nhello\n' });
      // The round's own line, not just the file: Ctrl-C in the middle of a round would leave it uncounted.
      await waitFor(() => (/resync: 1 copied/.test(stderr) ? true : undefined), 10_000, () => `not copied: ${stderr}`);
      expect((await countIn('cur')) + (await countIn('new'))).toBe(before + 1);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(130);
    expect(stdout).toMatch(new RegExp(`^stopped: \\d+ run\\(s\\), ${seedMessages.length + 1} copied, 0 flag change\\(s\\) applied, 0 failed run\\(s\\)$`, 'm'));
  });

  it('copies a maildir to IMAP (password from the environment), bytes unchanged on the server', async () => {
    const result = await runCli(['copy', maildir, targetUrl('carol'), '--ca-file', caBundle, ...stateArgs()], { env: { MAILSHIFT_TARGET_PASSWORD: password(target, 'carol') } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Copied 14 messages/);
    expect(byMailbox(await target.mail('carol').readMessages({ hashes: true }))).toEqual(byMailbox(await source.mail('alice').readMessages({ hashes: true }), fromCpanel));
  });

  it('verify finds a message missing on the target (exit 4)', async () => {
    await target.doveadm(['expunge', '-u', 'carol', 'mailbox', 'Work/Projects', 'uid', '1']);
    const result = await runCli(['--json', 'verify', aliceUrl(), targetUrl('carol'), '--ca-file', caBundle, '--source-password-file', alicePasswordFile], {
      env: { MAILSHIFT_TARGET_PASSWORD: password(target, 'carol') },
    });
    expect(result.code, result.stderr).toBe(4);
    const report = JSON.parse(result.stdout);
    expect(report.totals.missing).toBe(1);
    expect(report.folders.find((f: { folder: string }) => f.folder === 'Work/Projects').missing).toHaveLength(1);
  });

  it('--imap-fallback takes over when the source files cannot be read, and says why', async () => {
    const fallbackTarget = path.join(work.path, 'fallback-maildir');
    const result = await runCli(
      ['--json', 'copy', path.join(work.path, 'no-such-dir'), fallbackTarget, '--imap-fallback', aliceUrl(), '--ca-file', caBundle, '--password-file', alicePasswordFile, ...stateArgs()],
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.fallback.reason).toMatch(/no-such-dir cannot be read \(ENOENT\)/);
    expect(report.totals.copied).toBe(seedMessages.length);
    expect(result.stderr).toMatch(/using IMAP \(imaps:\/\/alice@127\.0\.0\.1:\d+\) for .*no-such-dir/);
  });

  it('never leaves a password in logs or state files', async () => {
    const debug = await runCli(['--debug', 'copy', aliceUrl(), maildir, '--ca-file', caBundle, '--password-file', alicePasswordFile, ...stateArgs()]);
    expect(debug.code, debug.stderr).toBe(0);
    expect(debug.stderr).not.toContain(password(source, 'alice'));
    expect(debug.stderr.length).toBeGreaterThan(0);
    const stateDir = path.join(work.path, 'state');
    const { readdir } = await import('node:fs/promises');
    for (const file of await readdir(stateDir)) expect(await readFile(path.join(stateDir, file), 'utf8')).not.toContain(password(source, 'alice'));
  });

  it('logs in to both accounts on a second run with nothing new: a wrong target password still fails it (exit 78)', async () => {
    const run = (targetPassword: string) =>
      runCli(['--json', 'copy', aliceUrl(), targetUrl('bob'), '--ca-file', caBundle, '--source-password-file', alicePasswordFile, '--state-dir', path.join(work.path, 'state-imap-imap')], {
        env: { MAILSHIFT_TARGET_PASSWORD: targetPassword },
      });
    const first = await run(password(target, 'bob'));
    expect(first.code, first.stderr).toBe(0);
    const again = await run(password(target, 'bob'));
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as { totals: { copied: number }; folders: { mode: string }[] };
    expect(report.totals.copied).toBe(0);
    expect(report.folders.every((folder) => folder.mode === 'incremental')).toBe(true);
    const wrong = await run('not-bobs-password-7');
    expect(wrong.code).toBe(78);
    expect(wrong.stderr).toMatch(/login to bob@127\.0\.0\.1:\d+ failed/);
    expect(wrong.stderr + wrong.stdout).not.toContain('not-bobs-password-7');
  });
});
