import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../../e2e/cli.js';
import { aliceFiles, archivedName, crossLinked, fixtureUser, packCpmove, writeHostileArchive, writeCpmoveTree, type CpmoveTree } from '../../support/cpmove.js';
import { createDoveadm, type Doveadm, type DovecotMessage } from '../../support/dovecot.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';
import { messageBaseNames, sshOptionsFor } from '../copy/helpers.js';

const run = promisify(execFile);
/**
 * Each remote command is an ssh channel plus the remote login shell (about a second on the shared test machine), and
 * a whole-account restore with chown makes a few dozen: these tests get more than the project's default 120 s.
 */
const sshTimeoutMs = 300_000;

/**
 * A cPanel backup restored into a tree on an ssh host (a real sshd on 127.0.0.1): into a cPanel root and into a
 * maildir, with the same result as a local restore of the same backup (Dovecot reads back the same messages, flags,
 * UIDs and dates; `mailshift verify` between the two exits 0); a hostile backup writes nothing outside the target;
 * a second run adds nothing; a run killed in the middle and run again ends with every message exactly once.
 */
let tmp: TempDir;
let sshd: Sshd;
let doveadm: Doveadm;
let tree: CpmoveTree;
let archive: string;

const ssh = () => sshOptionsFor(sshd);
const remote = (p: string) => `ssh://root@127.0.0.1:${sshd.port}${p}`;
const summary = (m: DovecotMessage) => ({ mailbox: m.mailbox, uid: m.uid, flags: m.flags, keywords: m.keywords, receivedUnix: m.receivedUnix, messageId: m.messageId, sha256: m.sha256 });

async function readBack(dir: string): Promise<ReturnType<typeof summary>[]> {
  const opened = await doveadm.openMaildir(dir);
  return (await doveadm.at(`${opened.location}:UTF-8`).readMessages({ hashes: true })).map(summary);
}

/** A cPanel root with bob's account, as the target server has it before the restore. */
async function makeCpanelRoot(name: string): Promise<string> {
  const root = path.join(tmp.path, name);
  await writeTree(root, {
    'etc/userdomains': `example.com: ${fixtureUser}\n`,
    'etc/passwd': `${fixtureUser}:x:3001:3001::/home/${fixtureUser}:/bin/bash\n`,
    'etc/group': `mail:x:12:\n${fixtureUser}:x:3001:\n`,
    [`home/${fixtureUser}/etc/example.com/passwd`]: 'zoe:x:0:0::/home/bob/mail/example.com/zoe:/bin/bash\n',
    [`home/${fixtureUser}/mail/example.com/zoe/cur`]: { type: 'dir' },
  });
  return root;
}

/** Every file under a directory, relative, with its bytes, and a message's mtime in ms (its received date). */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(child);
      else {
        const s = await stat(path.join(dir, child));
        // Control files are written when the restore settles them, here and over ssh alike: their mtime is that moment.
        out.push(/(^|\/)(cur|new)\//.test(child) ? `${child} ${s.size} ${Math.floor(s.mtimeMs)}` : `${child} ${s.size}`);
      }
    }
  };
  await walk('');
  return out.sort();
}

beforeAll(async () => {
  tmp = await makeTempDir('archive-ssh', { mode: 0o755 });
  tree = await writeCpmoveTree(path.join(tmp.path, 'src'));
  archive = path.join(tmp.path, 'cpmove-bob.tar.gz');
  await packCpmove(tree, archive, { format: 'posix', gzip: true });
  doveadm = await createDoveadm({ separator: '/' });
  sshd = await startSshd();
});

afterAll(async () => {
  await sshd?.stop();
  await doveadm?.close();
  await tmp?.cleanup();
});

interface RestoreJson {
  route: { use: string; reason: string };
  report: { totals: { written: number; linked: number; existing: number; bytes: number } };
  skipped: { item: string; reason: string }[];
  chown?: { applied: number; failed: unknown[] };
}

describe('mailshift copy BACKUP cpanel:ssh://HOST/ROOT#USER', () => {
  const ids = ['--uid', '3001', '--gid', '3001', '--mail-gid', '12'];
  let far = '';

  it('restores the whole account as a local restore does: messages, links, dates, account files, owners', async () => {
    const local = await makeCpanelRoot('local-root');
    far = await makeCpanelRoot('ssh-root');
    const here = await runCli(['copy', archive, `cpanel:${local}#${fixtureUser}`, '--json', ...ids]);
    expect(here.code, here.stderr).toBe(3);
    const result = await runCli(['copy', ...ssh(), archive, `cpanel:${remote(far)}#${fixtureUser}`, '--json', ...ids]);
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as RestoreJson;
    expect(doc.route.use).toBe('archive');
    expect(doc.route.reason).toContain('over ssh');
    // The mdbox mailbox is the one thing left out, as in the local restore.
    expect(doc.skipped.map((s) => s.reason.split(':')[0])).toEqual(['unsupported-format']);
    expect(doc.report.totals).toEqual((JSON.parse(here.stdout) as RestoreJson).report.totals);
    expect(doc.report.totals).toMatchObject({ written: 6, linked: 2 });

    const aliceAt = (root: string) => path.join(root, 'home/bob/mail/example.com/alice');
    expect(await listFiles(path.join(far, 'home/bob/mail'))).toEqual(await listFiles(path.join(local, 'home/bob/mail')));
    for (const [rel, file] of Object.entries(aliceFiles)) {
      expect(await readFile(path.join(aliceAt(far), rel), 'utf8')).toBe(file.content);
      // pax keeps the fraction of a second, and so does the remote GNU tar that extracts the staging stream.
      expect(Math.abs((await stat(path.join(aliceAt(far), rel))).mtimeMs - file.mtime * 1000)).toBeLessThan(1);
    }
    // Dovecot's copy between folders is one file with two names on the target too.
    expect((await stat(path.join(aliceAt(far), `.Archive/cur/${archivedName}`))).ino).toBe((await stat(path.join(aliceAt(far), `cur/${archivedName}`))).ino);
    expect(await readFile(path.join(far, `home/bob/mail/cur/${crossLinked}`), 'utf8')).toContain('default mailbox');
    expect(await readBack(aliceAt(far))).toEqual(await readBack(aliceAt(local)));

    // etc/ came after mail/: merged at the end, the target's line kept, then owners set as cPanel has them.
    const passwd = await readFile(path.join(far, 'home/bob/etc/example.com/passwd'), 'utf8');
    expect(passwd.split('\n').filter(Boolean).map((l) => l.split(':')[0])).toEqual(['zoe', 'alice', 'carol']);
    expect(await readFile(path.join(far, 'home/bob/etc/example.com/shadow'), 'utf8')).toBe(await readFile(path.join(local, 'home/bob/etc/example.com/shadow'), 'utf8'));
    expect(await readFile(path.join(far, 'etc/valiases/example.com'), 'utf8')).toContain('alice@example.com: alice@example.org');
    expect(await readFile(path.join(far, 'home/bob/.autorespond/alice@example.com'), 'utf8')).toContain('I am away');
    expect(doc.chown!.failed).toEqual([]);
    expect(doc.chown!.applied).toBeGreaterThan(0);
    const owner = await stat(path.join(aliceAt(far), `cur/${archivedName}`));
    expect(`${owner.uid}:${owner.gid}`).toBe('3001:3001');
    expect(result.stdout).not.toContain('$6$');
    // The staging directory is gone; tmp/ is as empty as after a local restore.
    expect(await readdir(path.join(aliceAt(far), 'tmp'))).toEqual([]);
    expect(await readdir(path.join(far, 'home/bob/mail/tmp'))).toEqual([]);

    const verify = await runCli(['verify', ...ssh(), `cpanel:${local}#${fixtureUser}`, `cpanel:${remote(far)}#${fixtureUser}`]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, sshTimeoutMs);

  it('adds nothing and replaces nothing when run again', async () => {
    expect(far).not.toBe('');
    const before = await listFiles(path.join(far, 'home/bob'));
    const again = await runCli(['copy', ...ssh(), archive, `cpanel:${remote(far)}#${fixtureUser}`, '--json', ...ids]);
    expect(again.code, again.stderr).toBe(3);
    expect((JSON.parse(again.stdout) as RestoreJson).report.totals).toEqual({ written: 0, linked: 0, existing: 8, bytes: 0 });
    expect(await listFiles(path.join(far, 'home/bob'))).toEqual(before);
  }, sshTimeoutMs);
});

describe('mailshift copy cpmove:BACKUP#local@domain ssh://HOST/MAILDIR', () => {
  it('restores one mailbox into a maildir over ssh, the same as into a local one', async () => {
    const local = path.join(tmp.path, 'local-maildir');
    const far = path.join(tmp.path, 'far/ssh-maildir');
    const here = await runCli(['copy', `cpmove:${archive}#alice@example.com`, local, '--json']);
    expect(here.code, here.stderr).toBe(0);
    // --dry-run says what it would restore and writes nothing there, not even a directory.
    const dry = await runCli(['copy', ...ssh(), '--dry-run', `cpmove:${archive}#alice@example.com`, remote(far)]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('Would restore 7 messages');
    await expect(stat(path.dirname(far))).rejects.toThrow();
    const result = await runCli(['copy', ...ssh(), `cpmove:${archive}#alice@example.com`, remote(far), '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as RestoreJson).report.totals).toEqual((JSON.parse(here.stdout) as RestoreJson).report.totals);
    expect(await listFiles(far)).toEqual(await listFiles(local));
    // Its first copy is in the default mailbox, which was not restored: fetched by a second pass, never left empty.
    expect(await readFile(path.join(far, `.Sent/cur/${crossLinked}`), 'utf8')).toContain('default mailbox');
    expect(await readBack(far)).toEqual(await readBack(local));
    const verify = await runCli(['verify', ...ssh(), local, remote(far)]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, sshTimeoutMs);
});

describe('mailshift copy cpmove:BACKUP-DIRECTORY#local@domain ssh://HOST/MAILDIR (an incremental backup)', () => {
  it('restores like the archive, hard links included', async () => {
    const fromArchive = path.join(tmp.path, 'local-maildir-for-directory');
    const far = path.join(tmp.path, 'far/from-directory');
    expect((await runCli(['copy', `cpmove:${archive}#alice@example.com`, fromArchive])).code).toBe(0);
    const result = await runCli(['copy', ...ssh(), `cpmove:${tree.top}#alice@example.com`, remote(far), '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as RestoreJson).report.totals).toMatchObject({ written: 6, linked: 1 });
    expect(await listFiles(far)).toEqual(await listFiles(fromArchive));
    expect((await stat(path.join(far, `.Archive/cur/${archivedName}`))).ino).toBe((await stat(path.join(far, `cur/${archivedName}`))).ino);
  }, sshTimeoutMs);
});

describe('mailshift copy cpmove:BACKUP#local@domain cpanel:ssh://HOST/ROOT#local@domain', () => {
  it('restores that mailbox into the mailbox of the account over ssh, and a truncated backup stops cleanly', async () => {
    const far = await makeCpanelRoot('ssh-mailbox-root');
    const mailbox = path.join(far, 'home/bob/mail/example.com/alice');
    const result = await runCli(['copy', ...ssh(), `cpmove:${archive}#alice@example.com`, `cpanel:${remote(far)}#alice@example.com`, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as RestoreJson).report.totals).toMatchObject({ written: 6, linked: 1 });
    for (const [rel, file] of Object.entries(aliceFiles)) expect(await readFile(path.join(mailbox, rel), 'utf8')).toBe(file.content);
    // Only the mailbox, as into a local cPanel mailbox: the account's tables and routing are left as they were.
    expect(await readFile(path.join(far, 'home/bob/etc/example.com/passwd'), 'utf8')).toBe('zoe:x:0:0::/home/bob/mail/example.com/zoe:/bin/bash\n');
    expect(await readdir(path.join(far, 'etc'))).toEqual(['group', 'passwd', 'userdomains']);

    const bytes = await readFile(archive);
    const cut = path.join(tmp.path, 'cut.tar.gz');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const target = path.join(tmp.path, 'cut-target');
    const stopped = await runCli(['copy', ...ssh(), `cpmove:${cut}#alice@example.com`, remote(target), '--json']);
    expect(stopped.code).toBe(1);
    expect((JSON.parse(stopped.stdout) as { error: { code: string } }).error.code).toBe('MAILSHIFT_ARCHIVE_CORRUPT');
    // Nothing half-written reached a folder, and the staging directory is gone.
    for (const sub of ['cur', 'new']) {
      for (const name of await readdir(path.join(target, sub)).catch(() => [])) {
        expect(Object.values(aliceFiles).map((f) => f.content)).toContain(await readFile(path.join(target, sub, name), 'utf8'));
      }
    }
    expect(await readdir(path.join(target, 'tmp'))).toEqual([]);
  }, sshTimeoutMs);
});

describe('a hostile backup restored over ssh', () => {
  it('writes the honest messages, lists every hostile entry, and writes nothing outside the target', async () => {
    const outside = path.join(tmp.path, 'outside');
    await mkdir(outside);
    const hostile = path.join(tmp.path, 'hostile.tar');
    await writeHostileArchive(hostile, outside);
    const parent = path.join(tmp.path, 'hostile-parent');
    const target = path.join(parent, 'target');
    const result = await runCli(['copy', ...ssh(), `cpmove:${hostile}#alice@example.com`, remote(target), '--json']);
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as RestoreJson;
    expect(doc.skipped.map((s) => s.reason.split(':')[0]).sort()).toEqual(
      ['absolute-path', 'hardlink-target-missing', 'nul-byte', 'parent-segment', 'parent-segment', `symlink to ${outside}`, 'tar-unsupported-entry', 'tar-unsupported-entry'].sort(),
    );
    expect(doc.report.totals.written).toBe(2);
    expect(await readdir(outside)).toEqual([]);
    expect(await readdir(parent)).toEqual(['target']);
    expect((await readdir(tmp.path)).filter((n) => n.includes('climb'))).toEqual([]);
    expect(await readFile(path.join(target, '.Evil/cur/through-the-link:2,S'), 'utf8')).toContain('through the link');
    expect(await readdir(path.join(target, 'cur'))).toEqual(['1700000001.M1P1.host,S=80:2,S']);
  }, sshTimeoutMs);

  it('writes nothing through a symlink the target has where a folder would go, and lists what it left out', async () => {
    const outside = path.join(tmp.path, 'outside-planted');
    await mkdir(outside);
    const target = path.join(tmp.path, 'planted');
    await mkdir(target);
    await run('ln', ['-s', outside, path.join(target, '.Sent')]);
    const result = await runCli(['copy', ...ssh(), `cpmove:${archive}#alice@example.com`, remote(target), '--json']);
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as RestoreJson;
    expect(doc.skipped.map((s) => s.reason.split(':')[0])).toEqual(['target-not-directory']);
    expect(await readdir(outside)).toEqual([]);
    expect((await readdir(path.join(target, 'cur'))).length).toBe(2);
  }, sshTimeoutMs);
});

describe('a restore over ssh killed in the middle', () => {
  it('ends, when run again, with every message exactly once (identical messages each counted)', async () => {
    // 3,000 messages in 30 distinct bodies: identical messages under their own names, never collapsed into one.
    const src = path.join(tmp.path, 'big-src');
    const cur = path.join(src, 'cpmove-bob/homedir/mail/example.com/alice/cur');
    await mkdir(cur, { recursive: true });
    const total = 3000;
    for (let i = 0; i < total; i += 1) {
      await writeFile(path.join(cur, `${1700000000 + i}.M${i}P1.host:2,S`), `Subject: same ${i % 30}\n\nbody ${i % 30}\n`);
    }
    const big = path.join(tmp.path, 'big.tar.gz');
    await run('tar', ['-czf', big, '--format=posix', '-C', src, 'cpmove-bob']);
    const target = path.join(tmp.path, 'killed');
    const args = ['copy', ...ssh(), `cpmove:${big}#alice@example.com`, remote(target), '--json'];
    const child = spawnCli(args);
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    // Killed once a first batch is placed, and well before the last.
    const deadline = Date.now() + 60_000;
    let placed = 0;
    while (Date.now() < deadline) {
      placed = (await readdir(path.join(target, 'cur')).catch(() => [])).length;
      if (placed > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    const afterKill = (await readdir(path.join(target, 'cur'))).length;
    expect(placed).toBeGreaterThan(0);
    expect(afterKill).toBeLessThan(total);

    const leftovers = (await readdir(path.join(target, 'tmp'))).filter((n) => n.startsWith('mailshift-restore.'));
    const again = await runCli(args);
    expect(again.code, again.stderr).toBe(0);
    // The killed run's staging directory is said, never removed by another run (one could be using it).
    expect(again.stderr.includes('left by a restore that stopped')).toBe(leftovers.length > 0);
    for (const dir of leftovers) expect((await stat(path.join(target, 'tmp', dir))).isDirectory()).toBe(true);
    const doc = JSON.parse(again.stdout) as RestoreJson;
    expect(doc.report.totals.written + doc.report.totals.existing).toBe(total);
    // Renames the killed run had sent may have landed after the count: at least those counted are found there.
    expect(doc.report.totals.existing).toBeGreaterThanOrEqual(afterKill);
    const names = await readdir(path.join(target, 'cur'));
    expect(names).toHaveLength(total);
    expect(new Set(names.map((n) => n.split(':')[0])).size).toBe(total);
    expect(await messageBaseNames(target)).toHaveLength(total);
    const verify = await runCli(['verify', ...ssh(), path.join(src, 'cpmove-bob/homedir/mail/example.com/alice'), remote(target)]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, sshTimeoutMs);
});
