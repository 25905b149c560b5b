import { existsSync } from 'node:fs';
import { chown, lstat, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailshiftError } from '../../../src/core/errors.js';
import type { TreeEntry } from '../../../src/hosts/find.js';
import { openFileSide } from '../../../src/hosts/open.js';
import type { FileSide } from '../../../src/hosts/side.js';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

/**
 * The FileSide contract (src/hosts/side.ts), one suite run against both implementations: this machine (node:fs) and
 * a real sshd on 127.0.0.1 (coreutils over ssh). The files are on this machine either way, so every assertion
 * checks the disk directly. Names carry shell syntax, quotes and newlines: none may become a command.
 */

let temp: TempDir;
let sshd: Sshd;
let session: SshSession;

beforeAll(async () => {
  temp = await makeTempDir('hosts-side', { mode: 0o755 });
  sshd = await startSshd();
  session = await openSshSession({ keyFile: sshd.clientKeyPath, configFile: '/dev/null', options: ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'LogLevel=ERROR'] });
});
afterAll(async () => {
  await session?.close([{ host: '127.0.0.1', user: 'root', port: sshd.port }]);
  await sshd?.stop();
  await temp?.cleanup();
});

const hostile = `we'ird $(touch CANARY) "name"\nline`;

const implementations: { name: string; open: () => FileSide }[] = [
  { name: 'local', open: () => openFileSide({ type: 'local' }) },
  { name: 'ssh', open: () => openFileSide({ type: 'ssh', host: '127.0.0.1', user: 'root', port: sshd.port }, session.options) },
];

describe.each(implementations)('FileSide over $name', ({ name, open }) => {
  let root: string;
  let side: FileSide;
  beforeAll(async () => {
    root = path.join(temp.path, name);
    await mkdir(root, { recursive: true });
    side = open();
  });

  it('names its paths as messages should show them', () => {
    expect(side.describe('/srv/mail')).toBe(name === 'local' ? '/srv/mail' : `ssh://root@127.0.0.1:${sshd.port}/srv/mail`);
    expect(Boolean(side.ssh)).toBe(name === 'ssh');
  });

  it('runs a program with its argv words intact', async () => {
    const result = await side.run(['printf', '%s', hostile]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.toString('utf8')).toBe(hostile);
  });

  it('reads a small file whole, and a missing one as undefined', async () => {
    await writeFile(path.join(root, 'passwd'), 'alice:x:1000:1000::/home/alice:/bin/bash\n');
    expect(await side.readSmall(path.join(root, 'passwd'))).toBe('alice:x:1000:1000::/home/alice:/bin/bash\n');
    expect(await side.readSmall(path.join(root, 'no-such-file'))).toBeUndefined();
  });

  it('writes a file atomically with its mode and owner, replacing the old one and leaving no temporary file', async () => {
    const dir = path.join(root, 'write');
    await mkdir(dir);
    const file = path.join(dir, hostile);
    await writeFile(file, 'old\n');
    await side.writeAtomic(file, 'new\n', { mode: 0o640, owner: { uid: 3001, gid: 8 }, within: root });
    expect(await readFile(file, 'utf8')).toBe('new\n');
    const stats = await lstat(file);
    expect(stats.mode & 0o7777).toBe(0o640);
    expect(`${stats.uid}:${stats.gid}`).toBe('3001:8');
    expect(await readdir(dir)).toEqual([hostile]);
  });

  it('never writes through a link planted at its temporary name', async () => {
    const dir = path.join(root, 'planted');
    await mkdir(dir);
    const outside = path.join(root, 'outside');
    await writeFile(outside, 'untouched\n');
    // The temporary name is `.NAME.mailshift-PID` of the process that writes: this one, locally and (for the name)
    // over ssh too, since the ssh side names the file before sending the command.
    await symlink(outside, path.join(dir, `.subscriptions.mailshift-${process.pid}`));
    await expect(side.writeAtomic(path.join(dir, 'subscriptions'), 'INBOX\n', { within: root })).rejects.toThrow();
    expect(await readFile(outside, 'utf8')).toBe('untouched\n');
  });

  it('creates directories with their parents; an existing one is fine', async () => {
    const deep = path.join(root, 'made', 'a', hostile);
    await side.mkdirs([deep, path.join(root, 'made', 'b')]);
    await side.mkdirs([deep]);
    expect((await lstat(deep)).isDirectory()).toBe(true);
    expect((await lstat(path.join(root, 'made', 'b'))).isDirectory()).toBe(true);
  });

  it('refuses to create a directory where a file stands, saying so', async () => {
    await writeFile(path.join(root, 'a-file'), '');
    const err = await side.mkdirs([path.join(root, 'a-file', 'sub')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailshiftError);
    expect((err as MailshiftError).code).toBe('MAILSHIFT_TARGET_NOT_DIR');
  });

  it('reads small regular files in one call, leaving out missing files, links, directories and files over 1 MiB', async () => {
    const dir = path.join(root, 'small');
    await mkdir(path.join(dir, 'a-dir'), { recursive: true });
    await writeFile(path.join(dir, hostile), 'keywords\n');
    await writeFile(path.join(dir, 'empty'), '');
    await writeFile(path.join(dir, 'big'), Buffer.alloc(1024 * 1024 + 1, 0x61));
    await writeFile(path.join(root, 'secret'), 'outside\n');
    await symlink(path.join(root, 'secret'), path.join(dir, 'link'));
    const names = [hostile, 'empty', 'big', 'link', 'a-dir', 'missing'].map((n) => path.join(dir, n));
    const texts = await side.readSmallFiles(names, { within: root });
    expect([...texts.entries()].sort()).toEqual([
      [path.join(dir, 'empty'), ''],
      [path.join(dir, hostile), 'keywords\n'],
    ].sort());
    expect((await side.readSmallFiles([], { within: root })).size).toBe(0);
  });

  it('never reads or writes through a link planted on the way down from the tree it is given (etc/DOMAIN -> /etc)', async () => {
    const home = path.join(root, 'home-with-link');
    const system = path.join(root, 'system-etc');
    await mkdir(path.join(home, 'etc'), { recursive: true });
    await mkdir(system);
    await writeFile(path.join(system, 'shadow'), 'root:$6$secret:19000::::::\n');
    await writeFile(path.join(system, 'passwd'), 'root:x:0:0::/root:/bin/bash\n');
    await symlink(system, path.join(home, 'etc', 'example.com'));
    const shadow = path.join(home, 'etc', 'example.com', 'shadow');
    expect(await side.readSmallFiles([shadow], { within: home })).toEqual(new Map());
    const err = await side.writeAtomic(path.join(home, 'etc', 'example.com', 'passwd'), 'alice:x:3001:3001::/home/bob/mail/example.com/alice:/bin/false\n', { within: home }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailshiftError);
    expect((err as MailshiftError).code).toBe('MAILSHIFT_TARGET_NOT_DIR');
    expect(await readFile(path.join(system, 'passwd'), 'utf8')).toBe('root:x:0:0::/root:/bin/bash\n');
    expect(await readdir(system)).toEqual(['passwd', 'shadow']);
    // A file on the way is no directory either; and the tree's own root may be a link (as /home often is).
    await writeFile(path.join(home, 'etc', 'plain'), 'x');
    expect(await side.readSmallFiles([path.join(home, 'etc', 'plain', 'shadow')], { within: home })).toEqual(new Map());
    await mkdir(path.join(home, 'etc', 'real.example'));
    await writeFile(path.join(home, 'etc', 'real.example', 'shadow'), 'alice:$6$x:19000::::::\n');
    const linkedHome = path.join(root, 'linked-home');
    await symlink(home, linkedHome);
    const real = path.join(linkedHome, 'etc', 'real.example', 'shadow');
    expect(await side.readSmallFiles([real], { within: linkedHome })).toEqual(new Map([[real, 'alice:$6$x:19000::::::\n']]));
    await side.writeAtomic(path.join(linkedHome, 'etc', 'real.example', hostile), 'written\n', { within: linkedHome });
    expect(await readFile(path.join(home, 'etc', 'real.example', hostile), 'utf8')).toBe('written\n');
  });

  it('creates directories level by level with their mode and owner; an existing one is fine', async () => {
    const top = path.join(root, 'strict');
    const deep = path.join(top, hostile);
    await side.makeDirsNoFollow([top, deep], { mode: 0o750, owner: { uid: 3003, gid: 9 } });
    await side.makeDirsNoFollow([top, deep], { mode: 0o750 });
    for (const dir of [top, deep]) {
      const stats = await lstat(dir);
      expect(stats.isDirectory()).toBe(true);
      expect(stats.mode & 0o7777).toBe(0o750);
      expect(`${stats.uid}:${stats.gid}`).toBe('3003:9');
    }
  });

  it('never creates a directory through a link planted at its name, saying so', async () => {
    const top = path.join(root, 'strict-link');
    await mkdir(top);
    await mkdir(path.join(root, 'elsewhere'));
    await symlink(path.join(root, 'elsewhere'), path.join(top, 'cur'));
    const err = await side.makeDirsNoFollow([path.join(top, 'cur'), path.join(top, 'cur', 'sub')], { mode: 0o700 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailshiftError);
    expect((err as MailshiftError).code).toBe('MAILSHIFT_TARGET_NOT_DIR');
    expect(await readdir(path.join(root, 'elsewhere'))).toEqual([]);
  });

  it('does not create a directory when its parent is missing (no -p)', async () => {
    await expect(side.makeDirsNoFollow([path.join(root, 'no-parent', 'child')], { mode: 0o700 })).rejects.toThrow();
    expect(existsSync(path.join(root, 'no-parent'))).toBe(false);
  });

  it('creates a lock file only when its name is free, never through a link', async () => {
    const dir = path.join(root, 'lock');
    await mkdir(dir);
    const lock = path.join(dir, `${hostile}.lock`);
    expect(await side.createExclusive(lock)).toBe(true);
    expect((await lstat(lock)).mode & 0o7777).toBe(0o600);
    expect(await side.createExclusive(lock)).toBe(false);
    // With content: written as the file is created, and only then.
    const held = path.join(dir, `${hostile}.held.lock`);
    expect(await side.createExclusive(held, 0o600, `4242:${hostile}`)).toBe(true);
    expect(await readFile(held, 'utf8')).toBe(`4242:${hostile}`);
    expect(await side.createExclusive(held, 0o600, 'other')).toBe(false);
    expect(await readFile(held, 'utf8')).toBe(`4242:${hostile}`);
    await symlink(path.join(root, 'lock-target'), path.join(dir, 'dangling.lock'));
    expect(await side.createExclusive(path.join(dir, 'dangling.lock'))).toBe(false);
    expect(existsSync(path.join(root, 'lock-target'))).toBe(false);
  });

  it('lists a tree without following links', async () => {
    const tree = path.join(root, 'tree');
    await mkdir(path.join(tree, 'cur'), { recursive: true });
    await writeFile(path.join(tree, 'cur', hostile), 'x');
    await symlink('/etc', path.join(tree, 'link'));
    const entries: TreeEntry[] = [];
    const result = await side.list(tree, (e) => entries.push(e));
    expect(result.exists).toBe(true);
    expect(entries.map((e) => `${e.type} ${e.path}`).sort()).toEqual(['dir cur', `file cur/${hostile}`, 'symlink link']);
    expect((await side.list(path.join(root, 'missing'), () => undefined)).exists).toBe(false);
  });

  it('renames without replacing: a taken name and a vanished source are skipped', async () => {
    const dir = path.join(root, 'rename');
    await mkdir(dir);
    for (const f of ['a', 'b', 'taken', hostile]) await writeFile(path.join(dir, f), f);
    const pairs = [
      { from: path.join(dir, 'a'), to: path.join(dir, 'a2') },
      { from: path.join(dir, 'b'), to: path.join(dir, 'taken') },
      { from: path.join(dir, 'gone'), to: path.join(dir, 'gone2') },
      { from: path.join(dir, hostile), to: path.join(dir, `${hostile}2`) },
    ];
    const done = await side.renameNoClobber(pairs);
    expect(done.map((p) => path.basename(p.to))).toEqual(['a2', `${hostile}2`]);
    expect(await readFile(path.join(dir, 'taken'), 'utf8')).toBe('taken');
    expect(await readFile(path.join(dir, 'b'), 'utf8')).toBe('b');
    expect((await readdir(dir)).sort()).toEqual(['a2', 'b', 'taken', `${hostile}2`].sort());
  });

  it('says exactly which pairs it renamed when the names are not ASCII (a UTF-8 folder’s files)', async () => {
    const dir = path.join(root, 'rename-utf8', '.Entw\u00fcrfe');
    await mkdir(dir, { recursive: true });
    for (const f of ['dovecot-uidlist.new', 'caf\u00e9:2,', 'taken-src', 'taken \u2603']) await writeFile(path.join(dir, f), f);
    const pairs = [
      { from: path.join(dir, 'dovecot-uidlist.new'), to: path.join(dir, 'dovecot-uidlist') },
      { from: path.join(dir, 'caf\u00e9:2,'), to: path.join(dir, 'caf\u00e9:2,S') },
      { from: path.join(dir, 'taken-src'), to: path.join(dir, 'taken \u2603') },
    ];
    const done = await side.renameNoClobber(pairs);
    expect(done).toEqual(pairs.slice(0, 2));
    expect(await readFile(path.join(dir, 'taken \u2603'), 'utf8')).toBe('taken \u2603');
    expect((await readdir(dir)).sort()).toEqual(['caf\u00e9:2,S', 'dovecot-uidlist', 'taken \u2603', 'taken-src'].sort());
  });

  it('tells the owner and mode of a path itself, not of what a link points to', async () => {
    const file = path.join(root, 'owned');
    await writeFile(file, '', { mode: 0o640 });
    await chown(file, 3002, 12);
    expect(await side.owner(file)).toEqual({ uid: 3002, gid: 12, mode: 0o640 });
    await symlink(file, path.join(root, 'owned-link'));
    expect((await side.owner(path.join(root, 'owned-link')))?.mode).toBe(0o777);
    expect(await side.owner(path.join(root, 'nobody-here'))).toBeUndefined();
  });

  it('removes the files it is given and a whole directory, nothing else', async () => {
    const dir = path.join(root, 'remove');
    await mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true });
    for (const f of ['x', 'y', hostile]) await writeFile(path.join(dir, f), f);
    await writeFile(path.join(dir, 'sub', 'deeper', 'z'), 'z');
    await side.removeFiles([path.join(dir, 'x'), path.join(dir, hostile), path.join(dir, 'never-was')]);
    expect((await readdir(dir)).sort()).toEqual(['sub', 'y']);
    await side.removeTree(path.join(dir, 'sub'));
    expect(await readdir(dir)).toEqual(['y']);
  });

  it('refuses relative paths (they would be read relative to a login directory)', async () => {
    await expect(side.readSmall('etc/passwd')).rejects.toThrow(/absolute/);
  });

  it('never ran the command hidden in a name', () => {
    for (const dir of [os.homedir(), '/root', process.cwd(), root, '/']) expect(existsSync(path.join(dir, 'CANARY')), dir).toBe(false);
  });
});
