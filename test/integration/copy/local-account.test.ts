import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { createDoveadm, type Doveadm, type DovecotMessage } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { generate, makeTargetRoot, messageBaseNames, ownerOf, type GeneratedTree } from './helpers.js';

/**
 * A whole cPanel account copied with the real rsync on this machine: every message arrives exactly once, Dovecot
 * reading the target reports the UIDs the source had, the account's files are merged, owners and modes are
 * cPanel's, and a second run changes nothing.
 */
const manifest = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../../fixtures/cpanel/basic.json'), 'utf8')) as { accounts: unknown[] };

let temp: TempDir;
let tree: GeneratedTree;
let target: string;
let doveadm: Doveadm;
const mailboxDirs = ['', 'alice.example/info', 'alice.example/sales', 'shop.example/orders'];
const sourceUids = new Map<string, DovecotMessage[]>();
const sourceStatus = new Map<string, Record<string, unknown>>();

const strip = (messages: DovecotMessage[]) => messages.map((m) => ({ mailbox: m.mailbox, uid: m.uid, guid: m.guid, flags: m.flags, sizeBytes: m.sizeBytes }));

beforeAll(async () => {
  temp = await makeTempDir('copy-local', { mode: 0o755 });
  tree = generate(manifest, path.join(temp.path, 'gen'));
  target = path.join(temp.path, 'target');
  await makeTargetRoot(target, [{ user: 'alice', uid: 2001 }]);
  doveadm = await createDoveadm({ separator: '.', prefix: 'INBOX.' });
  // A live source server has handed out UIDs: let Dovecot do that in the source, in place, and expunge each
  // mailbox's UID 1 so the remaining UIDs cannot be what a fresh assignment on the target would produce.
  for (const dir of mailboxDirs) {
    const reader = await doveadm.openMaildir(path.join(tree.root, 'home/alice/mail', dir), { inPlace: true });
    await reader.readMessages();
    await doveadm.run(['-o', `mail_location=${reader.location}`, 'expunge', 'mailbox', 'INBOX', 'uid', '1']);
  }
  // Read back only when every mailbox is settled: the default mailbox shows the others through cPanel's links.
  for (const dir of mailboxDirs) {
    const reader = await doveadm.openMaildir(path.join(tree.root, 'home/alice/mail', dir), { inPlace: true });
    sourceUids.set(dir, await reader.readMessages());
    sourceStatus.set(dir, await reader.mailboxStatus());
  }
});
afterAll(async () => {
  await doveadm?.close();
  await temp?.cleanup();
});

describe('mailshift copy cpanel:SRC#alice cpanel:DST#alice (local)', () => {
  let firstRun: { code: number | null; stdout: string; stderr: string };

  it('copies the account and exits 0', async () => {
    firstRun = await runCli(['--json', 'copy', `cpanel:${tree.root}#alice`, `cpanel:${target}#alice`]);
    expect(firstRun.code, firstRun.stderr).toBe(0);
    const report = JSON.parse(firstRun.stdout) as { jobs: { label: string; outcome: string }[]; chown: { failed: unknown[] } };
    expect(report.jobs.map((j) => j.label)).toEqual(['alice (default mailbox)', 'info@alice.example', 'sales@alice.example', 'orders@shop.example', 'alice (account files)']);
    expect(report.jobs.every((j) => j.outcome === 'ok')).toBe(true);
    expect(report.chown.failed).toEqual([]);
  });

  it('puts every message on the target exactly once', async () => {
    const source = await messageBaseNames(path.join(tree.root, 'home/alice/mail'));
    const copied = await messageBaseNames(path.join(target, 'home/alice/mail'));
    expect(copied).toEqual(source);
    expect(new Set(copied).size).toBe(copied.length);
    expect(copied.length).toBe(24 - 4); // basic.json: 4+2+1+2 default, 7+3 info, 4 sales, 1 orders; one INBOX message expunged per mailbox
  });

  it('leaves tmp/ contents and Dovecot indexes behind and keeps the control files', async () => {
    expect(await readdir(path.join(target, 'home/alice/mail/tmp'))).toEqual([]);
    expect((await readdir(path.join(tree.root, 'home/alice/mail/tmp'))).length).toBe(1);
    for (const dir of mailboxDirs) {
      const from = await readFile(path.join(tree.root, 'home/alice/mail', dir, 'dovecot-uidlist'), 'utf8');
      expect(await readFile(path.join(target, 'home/alice/mail', dir, 'dovecot-uidlist'), 'utf8')).toBe(from);
    }
    expect(await readFile(path.join(target, 'home/alice/mail/alice.example/info/maildirsize'), 'utf8')).toMatch(/^1048576S,0C\n/);
    expect(await readFile(path.join(target, 'home/alice/mail/subscriptions'), 'utf8')).toContain('Clients/ACME');
  });

  it('keeps the UIDs: Dovecot reading the target reports what it reported on the source', async () => {
    let inboxMessages = 0;
    for (const dir of mailboxDirs) {
      const reader = await doveadm.openMaildir(path.join(target, 'home/alice/mail', dir));
      const copied = await reader.readMessages();
      expect(strip(copied), dir || 'default mailbox').toEqual(strip(sourceUids.get(dir)!));
      const inbox = copied.filter((m) => m.mailbox === 'INBOX');
      expect(inbox.every((m) => m.uid >= 2)).toBe(true);
      inboxMessages += inbox.length;
      expect(await reader.mailboxStatus()).toEqual(sourceStatus.get(dir));
    }
    expect(inboxMessages).toBeGreaterThan(0);
  });

  it('keeps mtimes (the received dates) and copies cPanel links as links', async () => {
    const name = (await readdir(path.join(tree.root, 'home/alice/mail/cur')))[0]!;
    expect((await stat(path.join(target, 'home/alice/mail/cur', name))).mtimeMs).toBe((await stat(path.join(tree.root, 'home/alice/mail/cur', name))).mtimeMs);
    const { readlink } = await import('node:fs/promises');
    expect(await readlink(path.join(target, 'home/alice/mail/.info@alice_example'))).toBe('alice.example/info');
  });

  it("merges the account's etc files and routing tables, ids rewritten for the target", async () => {
    expect(await readFile(path.join(target, 'home/alice/etc/alice.example/passwd'), 'utf8')).toBe(
      'info:x:2001:2001::/home/alice/mail/alice.example/info:/bin/bash\nsales:x:2001:2001::/home/alice/mail/alice.example/sales:/bin/bash\n',
    );
    expect(await readFile(path.join(target, 'home/alice/etc/alice.example/shadow'), 'utf8')).toBe(await readFile(path.join(tree.root, 'home/alice/etc/alice.example/shadow'), 'utf8'));
    expect(await readFile(path.join(target, 'etc/valiases/alice.example'), 'utf8')).toBe(await readFile(path.join(tree.root, 'etc/valiases/alice.example'), 'utf8'));
    expect(await readFile(path.join(target, 'etc/vfilters/shop.example'), 'utf8')).toContain('#rule1');
    for (const item of ['.autorespond/info@alice.example', '.spamassassin/user_prefs', '.cphorde/horde.sqlite', '.sqmaildata/info@alice.example.pref', 'etc/alice.example/info.rcube.db', 'etc/alice.example/info/filter']) {
      expect(await readFile(path.join(target, 'home/alice', item))).toEqual(await readFile(path.join(tree.root, 'home/alice', item)));
    }
  });

  it("gives the files cPanel's owners and modes", async () => {
    const home = path.join(target, 'home/alice');
    const cur = path.join(home, 'mail/alice.example/info/cur');
    expect(await ownerOf(path.join(home, 'mail'))).toBe('2001:2001 0751');
    expect(await ownerOf(cur)).toBe('2001:2001 0751');
    expect(await ownerOf(path.join(cur, (await readdir(cur))[0]!))).toBe('2001:2001 0640');
    expect(await ownerOf(path.join(home, 'mail/alice.example/info/maildirsize'))).toBe('2001:8 0600');
    expect(await ownerOf(path.join(home, 'etc'))).toBe('2001:8 0750');
    expect(await ownerOf(path.join(home, 'etc/alice.example'))).toBe('2001:8 0750');
    expect(await ownerOf(path.join(home, 'etc/alice.example/passwd'))).toBe('2001:8 0640');
    expect(await ownerOf(path.join(home, 'etc/alice.example/quota'))).toBe('2001:8 0640');
    expect(await ownerOf(path.join(home, 'etc/alice.example/shadow'))).toBe('2001:2001 0640');
    expect(await ownerOf(path.join(home, 'etc/alice.example/info.rcube.db'))).toBe('2001:2001 0600');
    expect(await ownerOf(path.join(target, 'etc/valiases/alice.example'))).toBe('2001:8 0640');
    expect((await ownerOf(path.join(home, 'mail/.info@alice_example'))).startsWith('2001:2001')).toBe(true);
  });

  it('verify agrees: nothing missing, no duplicates, UIDs kept', async () => {
    const result = await runCli(['--json', 'verify', `cpanel:${tree.root}#alice`, `cpanel:${target}#alice`]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { totals: Record<string, number>; folders: { mailbox: string; folder: string; uids: { verdict: string } }[] };
    expect(report.totals).toMatchObject({ sourceMessages: 20, targetMessages: 20, missing: 0, duplicates: 0, flagDifferences: 0, foldersWithChangedUids: 0 });
    expect(report.folders.find((f) => f.mailbox === 'info@alice.example' && f.folder === 'INBOX')!.uids.verdict).toBe('kept');
  });

  it('a second run copies nothing and leaves no duplicates', async () => {
    const result = await runCli(['--json', 'copy', `cpanel:${tree.root}#alice`, `cpanel:${target}#alice`]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { jobs: { files: number }[]; merges: { action: string }[] };
    expect(report.jobs.reduce((n, j) => n + j.files, 0)).toBe(0);
    expect(report.merges.every((m) => m.action === 'unchanged')).toBe(true);
    const copied = await messageBaseNames(path.join(target, 'home/alice/mail'));
    expect(copied.length).toBe(20);
  });
});
