import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { createDoveadm, type Doveadm } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';
import { generate, makeTargetRoot, messageBaseNames } from './helpers.js';

/** --dry-run, --rename-user, and what happens when the target mailbox already has mail and its own UIDs. */
let temp: TempDir;
let doveadm: Doveadm;

beforeAll(async () => {
  temp = await makeTempDir('copy-options', { mode: 0o755 });
  doveadm = await createDoveadm({ separator: '.', prefix: 'INBOX.' });
});
afterAll(async () => {
  await doveadm?.close();
  await temp?.cleanup();
});

const pipe = (address: string, home: string) => `"|/usr/local/cpanel/bin/autorespond ${address} ${home}/.autorespond"`;

describe('copy options', () => {
  it('--dry-run lists what would move and writes nothing', async () => {
    const tree = generate({ seed: 1, accounts: [{ user: 'alice', domains: ['alice.example'], mailboxes: [{ address: 'info@alice.example', folders: { INBOX: { cur: 2 } } }] }] }, path.join(temp.path, 'dry'));
    const target = path.join(temp.path, 'dry-target');
    await makeTargetRoot(target, [{ user: 'alice', uid: 2001 }]);
    const result = await runCli(['copy', '--dry-run', `cpanel:${tree.root}#alice`, `cpanel:${target}#alice`]);
    expect(result.code, result.stderr).toBe(0);
    const infoMessages = await readdir(path.join(tree.root, 'home/alice/mail/alice.example/info/cur'));
    for (const name of infoMessages) expect(result.stdout).toContain(`would copy file info@alice.example: cur/${name}`);
    expect(result.stdout).toMatch(/^Would copy \d+ files/m);
    expect(existsSync(path.join(target, 'home/alice'))).toBe(false);
    expect(await readdir(path.join(target, 'etc/valiases'))).toEqual([]);
  });

  it('--rename-user rewrites homes, the catch-all, autoresponder pipes and the Roundcube file name', async () => {
    const tree = generate(
      {
        seed: 2,
        accounts: [
          {
            user: 'alice',
            domains: ['alice.example'],
            mailboxes: [{ address: 'info@alice.example', folders: { INBOX: { cur: 1 } } }],
            forwarders: { 'alice.example': { 'info@alice.example': [pipe('info@alice.example', '/home/alice')], '*': 'alice' } },
            autoresponders: [{ address: 'info@alice.example' }],
          },
        ],
        raw: [{ path: 'home/alice/etc/alice.rcube.db', content: 'SQLite format 3\u0000' }],
      },
      path.join(temp.path, 'rename'),
    );
    const target = path.join(temp.path, 'rename-target');
    await makeTargetRoot(target, [{ user: 'robert', uid: 2002 }]);
    const refused = await runCli(['copy', `cpanel:${tree.root}#alice`, `cpanel:${target}#robert`]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--rename-user alice:robert/);

    const result = await runCli(['copy', '--rename-user', 'alice:robert', `cpanel:${tree.root}#alice`, `cpanel:${target}#robert`]);
    expect(result.code, result.stderr).toBe(0);
    expect(await readFile(path.join(target, 'etc/valiases/alice.example'), 'utf8')).toBe(`info@alice.example: ${pipe('info@alice.example', '/home/robert')}\n*: robert\n`);
    expect(await readFile(path.join(target, 'home/robert/etc/alice.example/passwd'), 'utf8')).toBe('info:x:2002:2002::/home/robert/mail/alice.example/info:/bin/bash\n');
    expect(await readFile(path.join(target, 'home/robert/etc/robert.rcube.db'), 'utf8')).toBe('SQLite format 3\u0000');
    expect(existsSync(path.join(target, 'home/robert/etc/alice.rcube.db'))).toBe(false);
    expect(await readFile(path.join(target, 'home/robert/.autorespond/info@alice.example'), 'utf8')).toContain('I am away.');
    expect(await messageBaseNames(path.join(target, 'home/robert/mail'))).toEqual(await messageBaseNames(path.join(tree.root, 'home/alice/mail')));
  });

  it("never clobbers a target mailbox's own UIDs and mail; subscriptions are merged", async () => {
    const src = path.join(temp.path, 'uid-src');
    const dst = path.join(temp.path, 'uid-dst');
    const msg = (subject: string) => `Subject: ${subject}\n\nbody\n`;
    await writeTree(src, {
      'cur/1700000001.M1P1.src:2,S': msg('one'),
      'cur/1700000002.M2P1.src:2,S': msg('two'),
      new: { type: 'dir' },
      tmp: { type: 'dir' },
      'dovecot-uidlist': '3 V1111 N3\n1 :1700000001.M1P1.src:2,S\n2 :1700000002.M2P1.src:2,S\n',
      subscriptions: 'V\t2\n\nArchive\n',
    });
    await writeTree(dst, {
      'cur/1700000009.M9P1.dst:2,S': msg('already on the target'),
      new: { type: 'dir' },
      tmp: { type: 'dir' },
      'dovecot-uidlist': '3 V2222 N8\n7 :1700000009.M9P1.dst:2,S\n',
      subscriptions: 'V\t2\n\nTarget only\n',
    });
    const before = await readFile(path.join(dst, 'cur/1700000009.M9P1.dst:2,S'));
    const result = await runCli(['--json', 'copy', src, dst]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { controlFiles: { path: string; action: string; reason: string }[] };
    expect(report.controlFiles).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'dovecot-uidlist', action: 'keep-target' }),
        expect.objectContaining({ path: 'subscriptions', action: 'write' }),
      ]),
    );
    expect(await readFile(path.join(dst, 'dovecot-uidlist'), 'utf8')).toBe('3 V2222 N8\n7 :1700000009.M9P1.dst:2,S\n');
    expect(await readFile(path.join(dst, 'subscriptions'), 'utf8')).toBe('V\t2\n\nArchive\nTarget only\n');
    expect(await readFile(path.join(dst, 'cur/1700000009.M9P1.dst:2,S'))).toEqual(before);
    // Dovecot on the target: its own message keeps UID 7, the copied ones get new UIDs after it.
    const reader = await doveadm.openMaildir(dst);
    expect((await reader.readMessages()).map((m) => [m.uid, m.guid])).toEqual([
      [7, '1700000009.M9P1.dst'],
      [8, '1700000001.M1P1.src'],
      [9, '1700000002.M2P1.src'],
    ]);
    const verify = await runCli(['--json', 'verify', src, dst]);
    expect(verify.code).toBe(0);
    const v = JSON.parse(verify.stdout) as { totals: Record<string, number>; folders: { uids: { verdict: string } }[] };
    expect(v.totals).toMatchObject({ missing: 0, foldersWithChangedUids: 1 });
    expect((await runCli(['verify', '--strict', src, dst])).code).toBe(4);
  });

  it('copies one cPanel mailbox by address into another root, owned by the account that owns the domain there', async () => {
    const tree = generate({ seed: 3, accounts: [{ user: 'alice', domains: ['alice.example'], mailboxes: [{ address: 'info@alice.example', folders: { INBOX: { cur: 3 }, Archive: { cur: 1 } } }] }] }, path.join(temp.path, 'one'));
    const target = path.join(temp.path, 'one-target');
    await makeTargetRoot(target, [{ user: 'newowner', uid: 2005 }]);
    await writeFile(path.join(target, 'etc/userdomains'), 'alice.example: newowner\n*: nobody\n');
    const result = await runCli(['copy', `cpanel:${tree.root}#info@alice.example`, `cpanel:${target}#info@alice.example`]);
    expect(result.code, result.stderr).toBe(0);
    const copied = path.join(target, 'home/newowner/mail/alice.example/info');
    expect(await messageBaseNames(copied)).toEqual(await messageBaseNames(path.join(tree.root, 'home/alice/mail/alice.example/info')));
    const { lstat } = await import('node:fs/promises');
    expect((await lstat(path.join(copied, '.Archive/cur'))).uid).toBe(2005);
    const verify = await runCli(['verify', `cpanel:${tree.root}#info@alice.example`, `cpanel:${target}#info@alice.example`]);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toMatch(/^OK: 4 of 4 source messages/);
    const unknown = await runCli(['copy', `cpanel:${tree.root}#info@alice.example`, `cpanel:${target}#info@other.example`]);
    expect(unknown.code).toBe(78);
    expect(unknown.stderr).toMatch(/no cPanel account owns other.example/);
  });

  it("lists a control file it could not read on one side (a symbolic link), and keeps the target's version", async () => {
    const src = path.join(temp.path, 'link-src');
    const dst = path.join(temp.path, 'link-dst');
    const outside = path.join(temp.path, 'link-outside');
    await writeFile(outside, 'V\t2\n\nRead through a link\n');
    await writeTree(src, { 'cur/1700000001.M1P1.src:2,S': 'Subject: one\n\nbody\n', new: { type: 'dir' }, tmp: { type: 'dir' } });
    await symlink(outside, path.join(src, 'subscriptions'));
    await writeTree(dst, { new: { type: 'dir' }, cur: { type: 'dir' }, tmp: { type: 'dir' }, subscriptions: 'V\t2\n\nTarget only\n' });
    const result = await runCli(['--json', 'copy', src, dst]);
    // The link itself is not copied (it points out of the tree): listed by the copy, exit 3.
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/not copied: .*subscriptions.*a symlink to .*outside the copied tree/);
    const report = JSON.parse(result.stdout) as { controlFiles: { path: string; action: string; reason: string }[] };
    expect(report.controlFiles).toEqual([
      { path: 'subscriptions', action: 'keep-target', reason: "the source's copy was not read: it is not a regular file (a symbolic link is never followed); the target's version is kept" },
    ]);
    expect(result.stderr).toMatch(/subscriptions: kept the target's version: the source's copy was not read/);
    expect(await readFile(path.join(dst, 'subscriptions'), 'utf8')).toBe('V\t2\n\nTarget only\n');
  });

  it("does not merge an account file the target has as a symbolic link: it is listed, and the link and what it points to stay as they are", async () => {
    const tree = generate({ seed: 4, accounts: [{ user: 'alice', domains: ['alice.example'], mailboxes: [{ address: 'info@alice.example', folders: { INBOX: { cur: 1 } } }] }] }, path.join(temp.path, 'merge-link'));
    const target = path.join(temp.path, 'merge-link-target');
    await makeTargetRoot(target, [{ user: 'alice', uid: 2010 }]);
    const outside = path.join(temp.path, 'merge-link-outside');
    await writeFile(outside, 'keeper:x:2010:2010::/home/alice/mail/alice.example/keeper:/bin/false\n');
    await mkdir(path.join(target, 'home/alice/etc/alice.example'), { recursive: true });
    await symlink(outside, path.join(target, 'home/alice/etc/alice.example/passwd'));
    const result = await runCli(['--json', 'copy', `cpanel:${tree.root}#alice`, `cpanel:${target}#alice`]);
    // The source's mailbox logins did not reach the target: the copy is partial.
    expect(result.code, result.stderr).toBe(3);
    const report = JSON.parse(result.stdout) as { merges: { path: string; action: string; reason?: string }[] };
    expect(report.merges).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'home/alice/etc/alice.example/passwd', action: 'skipped', reason: "the target's copy was not read: it is not a regular file (a symbolic link is never followed); not merged" }),
      ]),
    );
    expect(result.stderr).toMatch(/not copied: passwd of alice.example: ".*home\/alice\/etc\/alice.example\/passwd": the target's copy was not read/);
    expect(await readlink(path.join(target, 'home/alice/etc/alice.example/passwd'))).toBe(outside);
    expect(await readFile(outside, 'utf8')).toBe('keeper:x:2010:2010::/home/alice/mail/alice.example/keeper:/bin/false\n');
  });

  it('a second copy after the source received mail brings only the new message and takes the newer uidlist', async () => {
    const src = path.join(temp.path, 'again-src');
    const dst = path.join(temp.path, 'again-dst');
    await writeTree(src, { 'cur/1700000001.M1P1.src:2,S': 'Subject: a\n\nx\n', new: { type: 'dir' }, tmp: { type: 'dir' }, 'dovecot-uidlist': '3 V1111 N2\n1 :1700000001.M1P1.src:2,S\n' });
    expect((await runCli(['copy', src, dst])).code).toBe(0);
    await writeFile(path.join(src, 'new/1700000002.M2P1.src'), 'Subject: b\n\nx\n');
    await writeFile(path.join(src, 'dovecot-uidlist'), '3 V1111 N3\n1 :1700000001.M1P1.src:2,S\n2 :1700000002.M2P1.src\n');
    const result = await runCli(['--json', 'copy', src, dst]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { jobs: { files: number }[]; controlFiles: { action: string }[] };
    expect(report.jobs[0]!.files).toBe(1);
    expect(report.controlFiles).toEqual([expect.objectContaining({ action: 'take-source' })]);
    expect(await readFile(path.join(dst, 'dovecot-uidlist'), 'utf8')).toBe('3 V1111 N3\n1 :1700000001.M1P1.src:2,S\n2 :1700000002.M2P1.src\n');
  });
});
