import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aliceFiles, archivedName, crossLinked, fixtureUser, longName, packCpmove, writeCpmoveTree, type CpmoveTree } from '../support/cpmove.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { writeTree } from '../support/tree.js';
import { runCli } from './cli.js';

const run = promisify(execFile);

let tmp: TempDir;
let tree: CpmoveTree;
const archives: Record<string, string> = {};

beforeAll(async () => {
  tmp = await makeTempDir('archive-restore');
  tree = await writeCpmoveTree(path.join(tmp.path, 'src'));
  for (const [name, options] of [
    ['gnu.tar.gz', { format: 'gnu', gzip: true }],
    ['posix.tar', { format: 'posix', gzip: false }],
    ['nested.tar.gz', { format: 'posix', gzip: true, nestedHome: true }],
  ] as const) {
    archives[name] = path.join(tmp.path, name);
    await packCpmove(tree, archives[name]!, options);
  }
});

afterAll(async () => {
  await tmp?.cleanup();
});

/** A cPanel root with bob's account and the domain, as the target server has it before the restore. */
async function makeCpanelRoot(name: string): Promise<string> {
  const root = path.join(tmp.path, name);
  await writeTree(root, {
    'etc/userdomains': `example.com: ${fixtureUser}\n`,
    'etc/passwd': `${fixtureUser}:x:0:0::/home/${fixtureUser}:/bin/bash\n`,
    'etc/group': 'mail:x:12:\n',
    [`home/${fixtureUser}/etc/example.com/passwd`]: 'zoe:x:0:0::/home/bob/mail/example.com/zoe:/bin/bash\n',
    [`home/${fixtureUser}/mail/example.com/zoe/cur`]: { type: 'dir' },
  });
  return root;
}

async function listMaildir(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(child);
      else out.push(child);
    }
  };
  await walk('');
  return out.sort();
}

describe('mailshift copy BACKUP cpanel:ROOT#USER', () => {
  for (const name of ['gnu.tar.gz', 'posix.tar', 'nested.tar.gz']) {
    it(`restores every maildir message of ${name} with its name (flags), bytes and mtime, and hard links as links`, async () => {
      const root = await makeCpanelRoot(`root-${name}`);
      const result = await runCli(['copy', archives[name]!, `cpanel:${root}#${fixtureUser}`, '--json', '--uid', '0', '--gid', '0', '--mail-gid', '12']);
      const doc = JSON.parse(result.stdout) as { route: { use: string }; report: { totals: { written: number; linked: number } }; skipped: { item: string; reason: string }[] };
      expect(doc.route.use).toBe('archive');
      // The mdbox mailbox is listed as not restorable, so the run is partial.
      expect(result.code, result.stderr).toBe(3);
      expect(doc.skipped.map((s) => s.reason.split(':')[0])).toEqual(['unsupported-format']);
      expect(doc.skipped[0]!.item).toBe('carol@example.com');
      const alice = path.join(root, 'home/bob/mail/example.com/alice');
      for (const [rel, file] of Object.entries(aliceFiles)) {
        expect(await readFile(path.join(alice, rel), 'utf8')).toBe(file.content);
        const mtimeMs = (await stat(path.join(alice, rel))).mtimeMs;
        // GNU tar's gnu format keeps whole seconds; pax keeps the fraction.
        expect(Math.abs(mtimeMs - file.mtime * 1000)).toBeLessThan(name.startsWith('gnu') ? 1000 : 1);
      }
      const inbox = await stat(path.join(alice, `cur/${archivedName}`));
      const archived = await stat(path.join(alice, `.Archive/cur/${archivedName}`));
      expect(archived.ino).toBe(inbox.ino);
      expect(archived.size).toBeGreaterThan(0);
      expect(doc.report.totals).toMatchObject({ written: 6, linked: 2 });
      expect(await readFile(path.join(alice, 'dovecot-uidlist'), 'utf8')).toContain('3 V1700000000 N4');
      expect(await readFile(path.join(alice, 'dovecot-keywords'), 'utf8')).toBe('0 $Important\n');
      expect(await readFile(path.join(alice, 'subscriptions'), 'utf8')).toContain('Entw\u00fcrfe');
      await expect(lstat(path.join(alice, 'dovecot.index.cache'))).rejects.toThrow();
      expect(await readFile(path.join(root, `home/bob/mail/cur/${crossLinked}`), 'utf8')).toContain('default mailbox');
      // etc/ came after mail/ in the archive: the mailbox tables are merged at the end, the target's line kept.
      const passwd = await readFile(path.join(root, 'home/bob/etc/example.com/passwd'), 'utf8');
      expect(passwd.split('\n').filter(Boolean).map((l) => l.split(':')[0])).toEqual(['zoe', 'alice', 'carol']);
      expect(await readFile(path.join(root, 'home/bob/etc/example.com/shadow'), 'utf8')).toContain('alice:$6$');
      expect(await readFile(path.join(root, 'etc/valiases/example.com'), 'utf8')).toContain('alice@example.com: alice@example.org');
      expect(await readFile(path.join(root, 'home/bob/.autorespond/alice@example.com'), 'utf8')).toContain('I am away');
      await expect(lstat(path.join(root, 'home/bob/public_html'))).rejects.toThrow();
      expect(result.stdout).not.toContain('$6$');
      // Nothing left behind in tmp/.
      expect(await readdir(path.join(alice, 'tmp'))).toEqual([]);
    });
  }

  it("reads and writes no account table through a link the target's user planted at ~/etc/DOMAIN, and lists them", async () => {
    const root = await makeCpanelRoot('root-planted-link');
    const system = path.join(tmp.path, 'system-etc');
    await mkdir(system);
    await writeFile(path.join(system, 'passwd'), 'root:x:0:0::/root:/bin/bash\n');
    await rm(path.join(root, `home/${fixtureUser}/etc/example.com`), { recursive: true });
    await symlink(system, path.join(root, `home/${fixtureUser}/etc/example.com`));
    const result = await runCli(['copy', archives['gnu.tar.gz']!, `cpanel:${root}#${fixtureUser}`, '--json', '--uid', '0', '--gid', '0', '--mail-gid', '12']);
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as { skipped: { item: string; reason: string }[]; accountFiles: { path: string }[] };
    const tables = doc.skipped.filter((s) => s.item.startsWith(`home/${fixtureUser}/etc/example.com/`));
    expect(tables.map((s) => s.item).sort()).toEqual(['passwd', 'quota', 'shadow'].map((t) => `home/${fixtureUser}/etc/example.com/${t}`));
    expect(doc.accountFiles.map((f) => f.path).filter((p) => p.includes('/etc/example.com/'))).toEqual([]);
    expect(await readdir(system)).toEqual(['passwd']);
    expect(await readFile(path.join(system, 'passwd'), 'utf8')).toBe('root:x:0:0::/root:/bin/bash\n');
  });

  it('--dry-run says what it would restore and writes nothing', async () => {
    const root = await makeCpanelRoot('root-dry');
    const before = await listMaildir(root);
    const result = await runCli(['copy', archives['gnu.tar.gz']!, `cpanel:${root}#${fixtureUser}`, '--dry-run', '--uid', '0', '--gid', '0', '--mail-gid', '12']);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toMatch(/^Route: archive \(one pass over the backup\)/);
    expect(result.stdout).toContain('Would restore 8 messages');
    expect(await listMaildir(root)).toEqual(before);
  });

  it('adds nothing twice when run again, even after the flags of a restored message changed on the target', async () => {
    const root = await makeCpanelRoot('root-rerun');
    const args = ['copy', archives['gnu.tar.gz']!, `cpanel:${root}#${fixtureUser}`, '--json', '--uid', '0', '--gid', '0', '--mail-gid', '12'];
    expect((await runCli(args)).code).toBe(3);
    const alice = path.join(root, 'home/bob/mail/example.com/alice');
    const fresh = Object.keys(aliceFiles).find((k) => k.startsWith('new/'))!;
    await run('mv', [path.join(alice, fresh), path.join(alice, `cur/${fresh.slice('new/'.length)}:2,RS`)]);
    const before = await listMaildir(alice);
    const again = await runCli(args);
    const doc = JSON.parse(again.stdout) as { report: { totals: { written: number; linked: number; existing: number } } };
    expect(doc.report.totals).toEqual({ written: 0, linked: 0, existing: 8, bytes: 0 });
    expect(await listMaildir(alice)).toEqual(before);
  });

  it('restores one mailbox into a maildir, fetching a hard link whose first copy is in no selected folder', async () => {
    const target = path.join(tmp.path, 'alice-maildir');
    const result = await runCli(['copy', `cpmove:${archives['posix.tar']}#alice@example.com`, target, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const files = await listMaildir(target);
    expect(files).toEqual(expect.arrayContaining(Object.keys(aliceFiles)));
    expect(files).toContain(`.Archive/cur/${archivedName}`);
    // Its first copy is in the default mailbox, which was not restored: fetched by a second pass, never left empty.
    expect(await readFile(path.join(target, `.Sent/cur/${crossLinked}`), 'utf8')).toContain('default mailbox');
    expect(files.filter((f) => f.includes('1700000010'))).toEqual([`.Sent/cur/${crossLinked}`]);
    expect(files).toContain(`.Entw\u00fcrfe/cur/${longName}`);
  });

  it('resync from a backup restores it again: what the target lost comes back, nothing twice; --flags source is refused', async () => {
    const target = path.join(tmp.path, 'alice-resync');
    const source = `cpmove:${archives['posix.tar']}#alice@example.com`;
    expect((await runCli(['copy', source, target])).code).toBe(0);
    const before = await listMaildir(target);
    const lost = before.find((f) => f.startsWith('cur/'))!;
    await rm(path.join(target, lost));
    const resync = await runCli(['--json', 'resync', source, target]);
    expect(resync.code, resync.stderr).toBe(0);
    const doc = JSON.parse(resync.stdout) as { route: { use: string; reason: string }; report: { totals: { written: number; linked: number; existing: number } } };
    expect(doc.route).toMatchObject({ use: 'archive', reason: expect.stringContaining('resync from a backup is the restore again') });
    // Written from the backup's bytes, or linked to its other copy the target still has: one message either way.
    expect(doc.report.totals.written + doc.report.totals.linked).toBe(1);
    expect(doc.report.totals.existing).toBe(before.filter((f) => /^(\.[^/]+\/)?(cur|new)\//.test(f)).length - 1);
    expect(await listMaildir(target)).toEqual(before);
    const flags = await runCli(['resync', '--flags', 'source', source, target]);
    expect(flags.code).toBe(2);
    expect(flags.stderr).toContain('--flags source: a resync from a cPanel backup adds only what the target lacks');
    const verify = await runCli(['verify', source, target]);
    expect(verify.code).toBe(2);
    expect(verify.stderr).toContain('mailshift copy --dry-run BACKUP TARGET');
  });

  it('refuses a whole account into one maildir, and names the mailbox missing from the backup', async () => {
    const whole = await runCli(['copy', archives['gnu.tar.gz']!, path.join(tmp.path, 'nowhere')]);
    expect(whole.code).toBe(2);
    expect(whole.stderr).toContain('name the mailbox');
    const missing = await runCli(['copy', `cpmove:${archives['gnu.tar.gz']}#nobody@example.com`, path.join(tmp.path, 'nowhere2')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('alice@example.com');
  });

  it('stops on a gzipped backup cut in the middle with MAILSHIFT_ARCHIVE_CORRUPT, never a raw zlib error', async () => {
    const bytes = await readFile(archives['gnu.tar.gz']!);
    const cut = path.join(tmp.path, 'cut.tar.gz');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const result = await runCli(['copy', `cpmove:${cut}#alice@example.com`, path.join(tmp.path, 'cut-gz-maildir'), '--json']);
    expect(result.code).toBe(1);
    expect((JSON.parse(result.stdout) as { error: { code: string } }).error.code).toBe('MAILSHIFT_ARCHIVE_CORRUPT');
  });

  it('stops on a truncated archive with MAILSHIFT_ARCHIVE_CORRUPT; what it restored is whole and a run on the intact backup completes it', async () => {
    const bytes = await readFile(archives['posix.tar']!);
    const cut = path.join(tmp.path, 'cut.tar');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const target = path.join(tmp.path, 'cut-maildir');
    const result = await runCli(['copy', `cpmove:${cut}#alice@example.com`, target, '--json']);
    expect(result.code).toBe(1);
    expect((JSON.parse(result.stdout) as { error: { code: string } }).error.code).toBe('MAILSHIFT_ARCHIVE_CORRUPT');
    const partial = await listMaildir(target).catch(() => []);
    for (const f of partial.filter((p) => /\/(cur|new)\//.test(`/${p}`))) {
      const expected = aliceFiles[f] ?? aliceFiles[`cur/${archivedName}`];
      expect(await readFile(path.join(target, f), 'utf8')).toBe(expected!.content);
    }
    const complete = await runCli(['copy', `cpmove:${archives['posix.tar']}#alice@example.com`, target, '--json']);
    expect(complete.code, complete.stderr).toBe(0);
    expect(await listMaildir(target)).toEqual(expect.arrayContaining(Object.keys(aliceFiles)));
  });
});

describe('mailshift discover BACKUP', () => {
  for (const name of ['gnu.tar.gz', 'nested.tar.gz', 'the backup directory']) {
    it(`gives the inventory of a live server for ${name}: accounts, mailboxes, counts, quotas, extras and the mdbox notice`, async () => {
      const source = name === 'the backup directory' ? tree.top : archives[name]!;
      const result = await runCli(['discover', source, '--json']);
      expect(result.code, result.stderr).toBe(0);
      const doc = JSON.parse(result.stdout) as {
        root: string;
        totals: { accounts: number; mailboxes: number; messages: number };
        accounts: { user: string; autoresponders: unknown[]; mailboxes: { address: string; format: string; messages: number | null; quota: { limitBytes: number | null } }[] }[];
        warnings: { kind: string }[];
      };
      expect(doc.root).toBe(source);
      expect(doc.totals).toMatchObject({ accounts: 1, mailboxes: 3, messages: 8 });
      const bob = doc.accounts[0]!;
      expect(bob.user).toBe(fixtureUser);
      const alice = bob.mailboxes.find((m) => m.address === 'alice@example.com')!;
      expect(alice).toMatchObject({ format: 'maildir', messages: 7, quota: { limitBytes: 1073741824 } });
      expect(bob.mailboxes.find((m) => m.address === 'carol@example.com')!.format).toBe('mdbox');
      expect(bob.autoresponders).toHaveLength(1);
      expect(doc.warnings.map((w) => w.kind)).toContain('mdbox-not-file-copyable');
    });
  }
});

describe('mailshift copy BACKUP-DIRECTORY (an incremental backup)', () => {
  it('restores like the archive, hard links included', async () => {
    const root = await makeCpanelRoot('root-directory');
    const result = await runCli(['copy', tree.top, `cpanel:${root}#${fixtureUser}`, '--json', '--uid', '0', '--gid', '0', '--mail-gid', '12']);
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as { report: { totals: { written: number; linked: number } } };
    expect(doc.report.totals).toMatchObject({ written: 6, linked: 2 });
    const alice = path.join(root, 'home/bob/mail/example.com/alice');
    for (const [rel, file] of Object.entries(aliceFiles)) expect(await readFile(path.join(alice, rel), 'utf8')).toBe(file.content);
  });
});

