import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExec } from '../../src/hosts/exec.js';
import { buildWalkToArgv, decidePathsOnTheWay, listDirectoriesOnTheWay, relativeInside, resolveInsideTree } from '../../src/hosts/inside-tree.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let temp: TempDir;
let home: string;

/**
 * A cPanel home whose user planted links where the account files are looked for: etc/linked.example -> a directory
 * outside the home (standing for /etc), and etc/file.example a plain file where a directory belongs.
 */
beforeAll(async () => {
  temp = await makeTempDir('inside-tree');
  home = path.join(temp.path, 'home');
  const system = path.join(temp.path, 'system-etc');
  await mkdir(path.join(home, 'etc', 'real.example'), { recursive: true });
  await mkdir(system);
  await writeFile(path.join(system, 'shadow'), 'root:$6$secret\n');
  await writeFile(path.join(home, 'etc', 'real.example', 'shadow'), 'alice:$6$x\n');
  await symlink(path.join(temp.path, 'elsewhere'), path.join(home, 'etc', 'real.example', 'passwd'));
  await symlink(system, path.join(home, 'etc', 'linked.example'));
  await writeFile(path.join(home, 'etc', 'file.example'), '');
  await mkdir(path.join(home, 'etc', 'real.example', 'quota'));
  await mkdir(path.join(home, 'etc', 'we[i]rd*?'), { recursive: true });
  await writeFile(path.join(home, 'etc', 'we[i]rd*?', 'shadow'), 'bob:$6$y\n');
});
afterAll(async () => {
  await temp?.cleanup();
});

const asked = [
  'etc/real.example/shadow',
  'etc/real.example/passwd',
  'etc/real.example/quota',
  'etc/real.example/missing',
  'etc/linked.example/shadow',
  'etc/file.example/shadow',
  'etc/absent.example/shadow',
  'etc/we[i]rd*?/shadow',
];

describe('a walk from the root of a tree down to the files asked for (GNU find, as over ssh)', () => {
  it('reaches only what no link stands in the way of, and tells missing from behind a link', async () => {
    const argv = buildWalkToArgv(home, asked, ['-printf', '%y\\0%p\\0'], { printDirectories: true });
    const result = await runExec({}, argv);
    expect(Object.fromEntries(decidePathsOnTheWay(home, asked, result.stdout.toString('utf8')))).toEqual({
      'etc/real.example/shadow': 'file',
      'etc/real.example/passwd': 'not-a-regular-file',
      'etc/real.example/quota': 'not-a-regular-file',
      'etc/real.example/missing': 'missing',
      'etc/linked.example/shadow': 'behind-a-link',
      'etc/file.example/shadow': 'behind-a-link',
      'etc/absent.example/shadow': 'missing',
      'etc/we[i]rd*?/shadow': 'file',
    });
  });

  it('runs its action in the directory it stands in, for the regular files it reached only', async () => {
    const argv = buildWalkToArgv(home, asked, ['-type', 'f', '-printf', '%P\\0', '-execdir', 'cat', '--', '{}', ';', '-printf', '\\0']);
    const parts = (await runExec({}, argv)).stdout.toString('utf8').split('\u0000');
    expect(parts.at(-1)).toBe('');
    const read = new Map<string, string>();
    for (let i = 0; i + 1 < parts.length; i += 2) read.set(parts[i]!, parts[i + 1]!);
    expect(Object.fromEntries(read)).toEqual({ 'etc/real.example/shadow': 'alice:$6$x\n', 'etc/we[i]rd*?/shadow': 'bob:$6$y\n' });
  });

  it('starts from a root that is itself a link (the caller trusts its root: /home may be one)', async () => {
    const linked = path.join(temp.path, 'linked-home');
    await symlink(home, linked);
    const result = await runExec({}, buildWalkToArgv(linked, ['etc/real.example/shadow'], ['-printf', '%y\\0%p\\0'], { printDirectories: true }));
    expect(decidePathsOnTheWay(linked, ['etc/real.example/shadow'], result.stdout.toString('utf8')).get('etc/real.example/shadow')).toBe('file');
  });

  it('walks a path under a trusted directory (an account home that is a link) from there, and the rest from the root', async () => {
    const server = path.join(temp.path, 'server');
    await mkdir(path.join(server, 'home'), { recursive: true });
    await mkdir(path.join(server, 'etc', 'vfilters'), { recursive: true });
    await writeFile(path.join(server, 'etc', 'vfilters', 'real.example'), '# filters\n');
    await symlink(home, path.join(server, 'home', 'bob'));
    const rels = ['home/bob/etc/real.example/shadow', 'home/bob/etc/linked.example/shadow', 'etc/vfilters/real.example'];
    const argv = buildWalkToArgv(server, rels, ['-printf', '%y\\0%p\\0'], { printDirectories: true, trusted: ['home/bob'] });
    const records = (await runExec({}, argv)).stdout.toString('utf8');
    expect(Object.fromEntries(decidePathsOnTheWay(server, rels, records, ['home/bob']))).toEqual({
      'home/bob/etc/real.example/shadow': 'file',
      'home/bob/etc/linked.example/shadow': 'behind-a-link',
      'etc/vfilters/real.example': 'file',
    });
    // Without vouching for the home, the link at home/bob stops the walk: nothing below it is read.
    const untrusted = (await runExec({}, buildWalkToArgv(server, rels, ['-printf', '%y\\0%p\\0'], { printDirectories: true }))).stdout.toString('utf8');
    expect(decidePathsOnTheWay(server, rels, untrusted).get('home/bob/etc/real.example/shadow')).toBe('behind-a-link');
    expect(await resolveInsideTree(server, 'home/bob/etc/real.example/shadow', { trusted: ['home/bob'] })).toBe(path.join(server, 'home/bob/etc/real.example/shadow'));
    expect(await resolveInsideTree(server, 'home/bob/etc/real.example/shadow')).toBeUndefined();
  });

  it('lists the directories on the way, parents first, once each', () => {
    expect(listDirectoriesOnTheWay(['etc/a/passwd', 'etc/a/shadow', 'etc/b/quota', 'top'])).toEqual(['etc', 'etc/a', 'etc/b']);
    expect(listDirectoriesOnTheWay(['home/bob/etc/a/passwd', 'etc/vfilters/a'], ['home/bob'])).toEqual(['home/bob/etc', 'home/bob/etc/a', 'etc', 'etc/vfilters']);
  });
});

describe('relativeInside', () => {
  it('gives the path relative to the root, and refuses one outside it as a bug', () => {
    expect(relativeInside('/home/bob', '/home/bob/etc/x/passwd')).toBe('etc/x/passwd');
    expect(() => relativeInside('/home/bob', '/home/bobby/etc')).toThrow(/not inside/);
    expect(() => relativeInside('/home/bob', '/home/bob')).toThrow(/not inside/);
  });
});

describe('resolveInsideTree (this machine)', () => {
  it('resolves a path whose directories are real, and nothing behind a link or a file', async () => {
    expect(await resolveInsideTree(home, 'etc/real.example/shadow')).toBe(path.join(home, 'etc/real.example/shadow'));
    expect(await resolveInsideTree(home, 'etc/linked.example/shadow')).toBeUndefined();
    expect(await resolveInsideTree(home, 'etc/file.example/shadow')).toBeUndefined();
    expect(await resolveInsideTree(home, 'etc/absent.example/shadow')).toBeUndefined();
  });
});
