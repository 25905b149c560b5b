import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { createDoveadm, type Doveadm } from '../../support/dovecot.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { generate, makeTargetRoot, messageBaseNames, ownerOf, sshOptionsFor, type GeneratedTree } from './helpers.js';

/**
 * The same account moves over a real sshd on 127.0.0.1, pushed and pulled. Mailbox names carry shell syntax and
 * rsync wildcards: `we[ir]d` must not pick up its sibling `weid`, and `$(touch${IFS}CANARY)` must stay a name.
 */
const canaryName = `mailshift-canary-${randomBytes(6).toString('hex')}`;
const manifest = {
  seed: 4242,
  accounts: [
    {
      user: 'alice',
      domains: ['alice.example'],
      defaultMailbox: { folders: { INBOX: { cur: 3, new: 1 }, Sent: { cur: 2 }, 'Folder with spaces': { cur: 1 } } },
      mailboxes: [
        { address: 'info@alice.example', folders: { INBOX: { cur: 4 }, Archive: { cur: 2 } } },
        { address: 'we[ir]d@alice.example', folders: { INBOX: { cur: 2 } } },
        { address: 'weid@alice.example', folders: { INBOX: { cur: 3 } } },
        { address: `$(touch\${IFS}${canaryName})@alice.example`, folders: { INBOX: { cur: 1 } } },
      ],
      forwarders: { 'alice.example': { '*': 'alice' } },
    },
  ],
};

let temp: TempDir;
let sshd: Sshd;
let tree: GeneratedTree;
let doveadm: Doveadm;

beforeAll(async () => {
  temp = await makeTempDir('copy-ssh', { mode: 0o755 });
  tree = generate(manifest, path.join(temp.path, 'gen'));
  doveadm = await createDoveadm({ separator: '.', prefix: 'INBOX.' });
  // Real UIDs in the source (Dovecot assigns them in place).
  await (await doveadm.openMaildir(path.join(tree.root, 'home/alice/mail'), { inPlace: true })).readMessages();
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
  await doveadm?.close();
  await temp?.cleanup();
});

const remote = (root: string) => `cpanel:ssh://root@127.0.0.1:${sshd.port}${root}#alice`;

function noCanary(): void {
  for (const dir of [os.homedir(), '/root', process.cwd(), temp.path, '/']) expect(existsSync(path.join(dir, canaryName)), dir).toBe(false);
}

describe('copy and verify over ssh', () => {
  it('pushes a whole account to a remote cPanel root, then fixes owners there', async () => {
    const target = path.join(temp.path, 'pushed');
    await makeTargetRoot(target, [{ user: 'alice', uid: 3001 }]);
    const result = await runCli(['--json', 'copy', '--jobs', '3', ...sshOptionsFor(sshd), `cpanel:${tree.root}#alice`, remote(target)]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { jobs: { label: string; outcome: string }[]; chown: { failed: unknown[]; applied: number } };
    expect(report.jobs.map((j) => j.outcome)).toEqual(report.jobs.map(() => 'ok'));
    expect(report.chown.failed).toEqual([]);
    expect(report.chown.applied).toBeGreaterThan(0);
    expect(await messageBaseNames(path.join(target, 'home/alice/mail'))).toEqual(await messageBaseNames(path.join(tree.root, 'home/alice/mail')));
    expect((await messageBaseNames(path.join(target, 'home/alice/mail/alice.example/we[ir]d'))).length).toBe(2);
    expect((await messageBaseNames(path.join(target, 'home/alice/mail/alice.example/weid'))).length).toBe(3);
    expect(await ownerOf(path.join(target, 'home/alice/mail/alice.example/we[ir]d/cur'))).toBe('3001:3001 0751');
    expect(await ownerOf(path.join(target, 'home/alice/etc/alice.example/passwd'))).toBe('3001:8 0640');
    expect(await readFile(path.join(target, 'etc/valiases/alice.example'), 'utf8')).toBe('*: alice\n');
    noCanary();

    const verify = await runCli(['--json', 'verify', ...sshOptionsFor(sshd), `cpanel:${tree.root}#alice`, remote(target)]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const v = JSON.parse(verify.stdout) as { totals: Record<string, number>; folders: { mailbox: string; folder: string; uids: { verdict: string } }[] };
    expect(v.totals).toMatchObject({ sourceMessages: 19, targetMessages: 19, missing: 0, duplicates: 0, foldersWithChangedUids: 0 });
    expect(v.folders.find((f) => f.mailbox === 'we[ir]d@alice.example' && f.folder === 'INBOX')!.uids.verdict).toBe('kept');
    noCanary();
  });

  it('pulls a whole account from a remote cPanel root (wildcards in remote source paths escaped)', async () => {
    const target = path.join(temp.path, 'pulled');
    await makeTargetRoot(target, [{ user: 'alice', uid: 3002 }]);
    const result = await runCli(['--json', 'copy', ...sshOptionsFor(sshd), remote(tree.root), `cpanel:${target}#alice`]);
    expect(result.code, result.stderr).toBe(0);
    expect(await messageBaseNames(path.join(target, 'home/alice/mail'))).toEqual(await messageBaseNames(path.join(tree.root, 'home/alice/mail')));
    expect(await messageBaseNames(path.join(target, 'home/alice/mail/alice.example/we[ir]d'))).toEqual(await messageBaseNames(path.join(tree.root, 'home/alice/mail/alice.example/we[ir]d')));
    const verify = await runCli(['verify', ...sshOptionsFor(sshd), remote(tree.root), `cpanel:${target}#alice`]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^OK: 19 of 19 source messages/);
    noCanary();
  });

  it('verify over ssh finds what is missing and exits 4', async () => {
    const target = path.join(temp.path, 'pushed');
    const { rm, readdir } = await import('node:fs/promises');
    const cur = path.join(target, 'home/alice/mail/alice.example/weid/cur');
    const victim = (await readdir(cur))[0]!;
    await rm(path.join(cur, victim));
    const verify = await runCli(['--json', 'verify', ...sshOptionsFor(sshd), `cpanel:${tree.root}#alice`, remote(target)]);
    expect(verify.code).toBe(4);
    const v = JSON.parse(verify.stdout) as { folders: { mailbox: string; missing: string[] }[] };
    expect(v.folders.find((f) => f.mailbox === 'weid@alice.example')!.missing).toEqual([victim.split(':')[0]]);
  });

  it('copies one mailbox between a plain remote maildir path and a local one', async () => {
    const dst = path.join(temp.path, 'single');
    const src = path.join(tree.root, 'home/alice/mail/alice.example/info');
    const result = await runCli(['copy', ...sshOptionsFor(sshd), `ssh://root@127.0.0.1:${sshd.port}${src}`, dst]);
    expect(result.code, result.stderr).toBe(0);
    expect(await messageBaseNames(dst)).toEqual(await messageBaseNames(src));
    const verify = await runCli(['verify', ...sshOptionsFor(sshd), `ssh://root@127.0.0.1:${sshd.port}${src}`, dst]);
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('fails with a clear error and no retries when ssh refuses the key', async () => {
    const result = await runCli(['copy', '--ssh-config', '/dev/null', '--ssh-option', 'StrictHostKeyChecking=no', '--ssh-option', 'UserKnownHostsFile=/dev/null', '--ssh-key', '/dev/null', path.join(tree.root, 'home/alice/mail/alice.example/info'), `ssh://root@127.0.0.1:${sshd.port}${temp.path}/denied`]);
    expect(result.code).toBe(78);
    expect(result.stdout + result.stderr).toMatch(/Permission denied|config/);
  });
});
