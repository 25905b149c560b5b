import { existsSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../../e2e/cli.js';
import { messageBaseNames, sshOptionsFor } from '../copy/helpers.js';
import { createDoveadm, startImapServer, type Doveadm, type ImapServer } from '../../support/dovecot.js';
import { freePort } from '../../support/ports.js';
import { runCommand } from '../../support/process.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { byMailbox, message, seedAccount, seedMessages } from './fixture.js';

/**
 * `--imap-fallback` with the built CLI, a real Dovecot and a real sshd on 127.0.0.1. The IMAP server keeps alice's
 * mail in **mdbox** (`mail_location = mdbox:~/mdbox`, filled by `doveadm backup` from the seeded maildir), so the
 * directory a file-level copy would be pointed at is a real mdbox store made by Dovecot, and the IMAP account the
 * fallback logs in to serves exactly that store. alice's original maildir stays next to it for the "no fallback"
 * case. What arrives is read back by Dovecot (doveadm) and compared by flags, keywords, INTERNALDATE, Message-ID and
 * SHA-256 of the bytes.
 */

let imap: ImapServer;
let sshd: Sshd;
let work: TempDir;
let doveadm: Doveadm;
let caFile: string;
let passwordFile: string;
let password: string;
let mdbox: string;
let maildir: string;
/** A key the sshd does not know: ssh is refused (exit 255, "Permission denied (publickey)"). */
let strangerKey: string;

const imapUrl = () => `imaps://alice@127.0.0.1:${imap.port}`;
const sshUrl = (dir: string, port = sshd.port) => `ssh://root@127.0.0.1:${port}${dir}`;
const imapArgs = () => ['--imap-fallback', imapUrl(), '--ca-file', caFile, '--state-dir', path.join(work.path, 'state')];
const refusedSsh = () => ['--ssh-key', strangerKey, '--ssh-config', '/dev/null', '--ssh-option', 'StrictHostKeyChecking=no', '--ssh-option', 'UserKnownHostsFile=/dev/null', '--ssh-option', 'LogLevel=ERROR'];

beforeAll(async () => {
  [imap, sshd, work] = await Promise.all([
    startImapServer({ tls: 'implicit', users: ['alice'], extraConfig: 'mail_location = mdbox:~/mdbox' }),
    startSshd(),
    makeTempDir('imap-fallback', { mode: 0o755 }),
  ]);
  doveadm = await createDoveadm({ separator: '/' });
  const alice = imap.users.find((u) => u.user === 'alice')!;
  password = alice.password;
  maildir = alice.maildir;
  mdbox = path.join(alice.home, 'mdbox');
  await seedAccount(imap, 'alice');
  // Dovecot itself turns the maildir into alice's mdbox (flags, keywords, dates and UIDs carried).
  await imap.doveadm(['backup', '-R', '-u', 'alice', `maildir:${maildir}`]);
  caFile = path.join(work.path, 'ca.pem');
  await writeFile(caFile, imap.caCertPem!);
  passwordFile = path.join(work.path, 'alice.pw');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  strangerKey = path.join(work.path, 'stranger');
  await runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', strangerKey]);
});

afterAll(async () => {
  await Promise.all([imap?.stop(), sshd?.stop(), doveadm?.close()]);
  await work?.cleanup();
});

async function targetMessages(dir: string) {
  return byMailbox(await (await doveadm.openMaildir(dir)).readMessages({ hashes: true }));
}

async function sourceMessages() {
  return byMailbox(await imap.mail('alice').readMessages({ hashes: true }));
}

interface Report {
  readonly command?: string;
  readonly engine?: string;
  readonly fallback?: { used: boolean; imap: string; reason: string };
  readonly totals?: { copied: number };
  readonly jobs?: { outcome: string }[];
}

function parseReport(result: CliResult): Report {
  expect(result.stdout, result.stderr).not.toBe('');
  return JSON.parse(result.stdout);
}

function expectNoPassword(result: CliResult): void {
  expect(result.stdout + result.stderr).not.toContain(password);
}

describe('--imap-fallback', () => {
  it('the store the tests point at is a real mdbox made by Dovecot, served over IMAP', async () => {
    const listing = (await runCommand('find', [mdbox, '-maxdepth', '2'])).stdout.toString('utf8');
    expect(listing).toMatch(/\/storage\/m\.1\n/);
    expect(listing).toMatch(/\/mailboxes\/INBOX\n/);
    const served = await imap.mail('alice').readMessages();
    expect(served).toHaveLength(seedMessages.length);
  });

  it('copies a local mdbox store over IMAP, says why, and a second run copies nothing', async () => {
    const target = path.join(work.path, 'from-local-mdbox');
    const first = await runCli(['--json', 'copy', mdbox, target, ...imapArgs(), '--password-file', '-'], { input: `${password}\n` });
    expect(first.code, first.stderr).toBe(0);
    const report = parseReport(first);
    expect(report).toMatchObject({ command: 'copy', engine: 'imap', fallback: { used: true, imap: imapUrl() }, totals: { copied: seedMessages.length, skipped: 0 } });
    expect(report.fallback!.reason).toBe(`${mdbox} is a Dovecot mdbox store (mail inside storage/m.* files), not maildir files`);
    expect(first.stderr).toContain(`warn: using IMAP (${imapUrl()}) for ${mdbox}: ${mdbox} is a Dovecot mdbox store`);
    expectNoPassword(first);
    // Every message, with its flags, keywords, date and bytes, exactly once (the two identical R&D messages stay two).
    expect(await targetMessages(target)).toEqual(await sourceMessages());

    const again = await runCli(['copy', mdbox, target, ...imapArgs(), '--password-file', passwordFile]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`Using IMAP (${imapUrl()}) because ${mdbox} is a Dovecot mdbox store (mail inside storage/m.* files), not maildir files\n`);
    expect(again.stdout).toMatch(/\nCopied 0 messages /);
    expect(await targetMessages(target)).toEqual(await sourceMessages());
  });

  it('resync with the fallback brings over only what arrived since', async () => {
    const target = path.join(work.path, 'from-local-mdbox');
    await imap.doveadm(['save', '-u', 'alice', '-m', 'Work'], { input: message('late-1', 'Arrived after the copy', 'New mail.') });
    const result = await runCli(['--json', 'resync', mdbox, target, ...imapArgs()], { env: { MAILSHIFT_SOURCE_PASSWORD: password } });
    expect(result.code, result.stderr).toBe(0);
    const report = parseReport(result);
    expect(report).toMatchObject({ command: 'resync', engine: 'imap', fallback: { used: true }, totals: { copied: 1 } });
    expect(report.fallback!.reason).toMatch(/is a Dovecot mdbox store/);
    expect(result.stderr).toMatch(/using IMAP .* mdbox store/);
    const messages = await targetMessages(target);
    expect(messages).toEqual(await sourceMessages());
    expect(Object.values(messages).flat()).toHaveLength(seedMessages.length + 1);
    expectNoPassword(result);

    const human = await runCli(['resync', mdbox, target, ...imapArgs()], { env: { MAILSHIFT_SOURCE_PASSWORD: password } });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^Using IMAP \(imaps:\/\/alice@127\.0\.0\.1:\d+\) because .* is a Dovecot mdbox store/);
    expect(human.stdout).toMatch(/Copied 0 messages/);
  });

  it('falls back to IMAP when ssh refuses the key, and says "no ssh access"', async () => {
    const target = path.join(work.path, 'ssh-refused');
    const result = await runCli(['--json', '--debug', 'copy', ...refusedSsh(), sshUrl(mdbox), target, ...imapArgs(), '--password-file', passwordFile]);
    expect(result.code, result.stderr).toBe(0);
    const report = parseReport(result);
    expect(report).toMatchObject({ engine: 'imap', fallback: { used: true } });
    expect(report.fallback!.reason).toMatch(new RegExp(`^no ssh access to root@127\\.0\\.0\\.1:${sshd.port}: .*Permission denied \\(publickey`));
    expect(result.stderr).toMatch(/warn: using IMAP .* no ssh access to root@127\.0\.0\.1:\d+: .*Permission denied/);
    expect(await targetMessages(target)).toEqual(await sourceMessages());
    expectNoPassword(result);
  });

  it('falls back to IMAP when nothing listens on the ssh port (a dry run into a maildir not there yet)', async () => {
    const closedPort = await freePort();
    const target = path.join(work.path, 'closed-port');
    const result = await runCli(['--json', 'copy', '--dry-run', ...sshOptionsFor(sshd), sshUrl(mdbox, closedPort), target, ...imapArgs(), '--password-file', passwordFile]);
    expect(result.code, result.stderr).toBe(0);
    const report = parseReport(result);
    expect(report.fallback!.reason).toMatch(new RegExp(`^no ssh access to root@127\\.0\\.0\\.1:${closedPort}: .*Connection refused`));
    expect(report).toMatchObject({ engine: 'imap', dryRun: true, totals: { copied: (await imap.mail('alice').readMessages()).length } });
    expect(existsSync(target)).toBe(false);
  });

  it('does not fall back when ssh works and the remote directory is a maildir: rsync copies it, and the report says why', async () => {
    const target = path.join(work.path, 'rsynced-maildir');
    // No IMAP password anywhere: had the fallback been taken, the login would fail (exit 78).
    const result = await runCli(['--json', 'copy', ...sshOptionsFor(sshd), sshUrl(maildir), target, ...imapArgs()], { env: { MAILSHIFT_SOURCE_PASSWORD: '', MAILSHIFT_IMAP_PASSWORD: '' } });
    expect(result.code, result.stderr).toBe(0);
    const report = parseReport(result);
    expect(report.engine).toBe('files');
    expect(report.fallback).toEqual({ used: false, imap: imapUrl(), reason: `${maildir} on 127.0.0.1 is a maildir: copied at file level` });
    expect(report.jobs!.map((j) => j.outcome)).toEqual(['ok']);
    expect(result.stderr).toContain(`--imap-fallback not needed: ${maildir} on 127.0.0.1 is a maildir`);
    // File level: the very files (names and all), not re-delivered copies.
    expect(await messageBaseNames(target)).toEqual(await messageBaseNames(maildir));
    expect(await messageBaseNames(target)).toHaveLength(seedMessages.length);

    const human = await runCli(['copy', ...sshOptionsFor(sshd), sshUrl(maildir), target, ...imapArgs()]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^IMAP fallback not needed: .* is a maildir: copied at file level\nCopied 0 files/);
  });

  it('falls back when ssh works but the remote directory is an mdbox store', async () => {
    const target = path.join(work.path, 'remote-mdbox');
    const result = await runCli(['--json', 'copy', ...sshOptionsFor(sshd), sshUrl(mdbox), target, ...imapArgs(), '--password-file', passwordFile]);
    expect(result.code, result.stderr).toBe(0);
    const report = parseReport(result);
    expect(report.fallback).toEqual({ used: true, imap: imapUrl(), reason: `${mdbox} on 127.0.0.1 is a Dovecot mdbox store (mail inside storage/m.* files), not maildir files` });
    expect(await targetMessages(target)).toEqual(await sourceMessages());
  });

  it('looks inside the mailbox a cPanel spec names: an mdbox mailbox falls back', async () => {
    const root = path.join(work.path, 'cpanel-root');
    await mkdir(path.join(root, 'etc'), { recursive: true });
    await writeFile(path.join(root, 'etc/userdomains'), 'example.com: alice\n');
    await writeFile(path.join(root, 'etc/passwd'), 'alice:x:3001:3001::/home/alice:/bin/bash\n');
    await cp(mdbox, path.join(root, 'home/alice/mail/example.com/info'), { recursive: true, preserveTimestamps: true });
    const result = await runCli(['--json', 'copy', '--dry-run', ...sshOptionsFor(sshd), `cpanel:${sshUrl(root)}#info@example.com`, path.join(work.path, 'cpanel-info'), ...imapArgs(), '--password-file', passwordFile]);
    expect(result.code, result.stderr).toBe(0);
    expect(parseReport(result).fallback!.reason).toBe(`${root}/home/alice/mail/example.com/info on 127.0.0.1 is a Dovecot mdbox store (mail inside storage/m.* files), not maildir files`);
  });

  it('refuses to stand in for a whole cPanel account it cannot reach (one IMAP login is one mailbox)', async () => {
    const result = await runCli(['copy', ...refusedSsh(), `cpanel:${sshUrl('/')}#alice`, `cpanel:${work.path}/nowhere#alice`, ...imapArgs(), '--password-file', passwordFile]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no ssh access .* --imap-fallback replaces one mailbox, not a whole cPanel account/);
  });

  it('refuses an --imap-fallback that is not an IMAP URL, or carries a password, before looking at anything', async () => {
    const notImap = await runCli(['copy', mdbox, path.join(work.path, 'never'), '--imap-fallback', `ssh://root@127.0.0.1:${sshd.port}/x`]);
    expect(notImap.code).toBe(2);
    expect(notImap.stderr).toMatch(/--imap-fallback ssh:\/\/.* is not an imap:\/\/ or imaps:\/\/ URL/);
    const withPassword = await runCli(['copy', mdbox, path.join(work.path, 'never'), '--imap-fallback', `imaps://alice:${password}@127.0.0.1:${imap.port}`]);
    expect(withPassword.code).toBe(2);
    expect(withPassword.stderr).toMatch(/carries a password/);
    expect(existsSync(path.join(work.path, 'never'))).toBe(false);
  });

  describe('without --imap-fallback', () => {
    it('an ssh source that refuses the key fails as before (exit 78), no IMAP involved', async () => {
      const result = await runCli(['copy', ...refusedSsh(), sshUrl(mdbox), path.join(work.path, 'never')]);
      expect(result.code).toBe(78);
      // The source is listed over ssh before rsync runs (to refuse unsafe items), so that listing is what ssh refuses.
      expect(result.stderr).toMatch(/^mailshift: ssh to 127\.0\.0\.1 failed: root@127\.0\.0\.1: Permission denied \(publickey\)/);
      expect(result.stderr).not.toMatch(/IMAP/);
    });

    it('an mdbox source is refused before anything is copied (rsync would copy storage/m.* files, resync would say "In sync.")', async () => {
      const target = path.join(work.path, 'never-mdbox');
      await mkdir(path.join(target, 'cur'), { recursive: true });
      for (const args of [['copy', mdbox, target], ['resync', mdbox, target], ['copy', ...sshOptionsFor(sshd), sshUrl(mdbox), target]]) {
        const result = await runCli(args);
        expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(78);
        expect(result.stderr).toMatch(/is a Dovecot mdbox store \(mail inside storage\/m\.\* files\), not maildir files/);
        expect(result.stderr).toMatch(/hint: copy it over IMAP: add --imap-fallback imaps:\/\/user@host/);
      }
      expect(await messageBaseNames(target)).toEqual([]);
      expect(existsSync(path.join(target, 'storage'))).toBe(false);
    });

    it('watch refuses an mdbox source instead of waiting forever for files that never come', async () => {
      const target = path.join(work.path, 'never-mdbox-watch');
      await mkdir(path.join(target, 'cur'), { recursive: true });
      const result = await runCli(['watch', mdbox, target]);
      expect(result.code).toBe(78);
      expect(result.stderr).toMatch(/is a Dovecot mdbox store/);
      expect(result.stderr).toMatch(/hint: watch follows maildir files/);
    });

    it('verify refuses an mdbox source instead of calling it "OK: 0 of 0"', async () => {
      const target = path.join(work.path, 'never-mdbox-verify');
      await mkdir(path.join(target, 'cur'), { recursive: true });
      for (const args of [['verify', mdbox, target], ['verify', ...sshOptionsFor(sshd), sshUrl(mdbox), target]]) {
        const result = await runCli(args);
        expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(78);
        expect(result.stdout).not.toMatch(/OK/);
        expect(result.stderr).toMatch(/is a Dovecot mdbox store/);
        expect(result.stderr).toMatch(/hint: verify over IMAP instead/);
      }
    });

    it('a missing local source fails as before (exit 78)', async () => {
      const result = await runCli(['copy', path.join(work.path, 'no-such-dir'), path.join(work.path, 'never')]);
      expect(result.code).toBe(78);
      expect(result.stderr).toMatch(/no-such-dir is not an existing directory/);
    });
  });
});
