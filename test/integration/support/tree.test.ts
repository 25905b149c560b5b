import { existsSync } from 'node:fs';
import { chmod, lstat, readFile, readlink, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../support/ports.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { formatTreeListing, listTree, writeTree } from '../../support/tree.js';

describe('tree manifests', () => {
  let temp: TempDir;
  beforeAll(async () => {
    temp = await makeTempDir('tree-test');
  });
  afterAll(async () => {
    await temp?.cleanup();
  });

  it('materialises files with content, modes and mtimes, empty dirs with modes, and symlinks verbatim', async () => {
    const root = join(temp.path, 'a');
    await writeTree(root, {
      'mail/cur/1.M1P1.host:2,S': { content: 'Subject: x\n\nbody\n', mode: 0o600, mtime: 1577934245 },
      'mail/new': { type: 'dir', mode: 0o700, mtime: 1500000000 },
      'mail/readonly': { type: 'dir', mode: 0o500 },
      'mail/readonly/inside': Buffer.from([0, 1, 2]),
      'mail/.Escape': { type: 'symlink', target: '/etc' },
      '$(touch pwned)': 'hostile name',
    });
    expect(await readFile(join(root, 'mail/cur/1.M1P1.host:2,S'), 'utf8')).toBe('Subject: x\n\nbody\n');
    expect((await stat(join(root, 'mail/cur/1.M1P1.host:2,S'))).mtimeMs).toBe(1577934245000);
    expect((await stat(join(root, 'mail/new'))).mtimeMs).toBe(1500000000000);
    expect(await readlink(join(root, 'mail/.Escape'))).toBe('/etc');
    // Entries without a mode get the umask's choice (0644/0755 as root on Debian; CI may differ).
    await writeTree(join(temp.path, 'probe'), { file: '', dir: { type: 'dir' } });
    const probe = await listTree(join(temp.path, 'probe'));
    const modeOf = (path: string) => probe.find((entry) => entry.path === path)!.mode.toString(8).padStart(4, '0');
    const [fileMode, dirMode] = [modeOf('file'), modeOf('dir')];
    expect(formatTreeListing(await listTree(root))).toEqual([
      `f ${fileMode} 12 $(touch pwned)`,
      `d ${dirMode} mail/`,
      'l mail/.Escape -> /etc',
      `d ${dirMode} mail/cur/`,
      'f 0600 17 mail/cur/1.M1P1.host:2,S',
      'd 0700 mail/new/',
      'd 0500 mail/readonly/',
      `f ${fileMode} 3 mail/readonly/inside`,
    ]);
  });

  it('hashes file contents on request and never follows symlinks', async () => {
    const root = join(temp.path, 'b');
    await writeTree(root, { file: 'abc', link: { type: 'symlink', target: 'file' } });
    const entries = await listTree(root, { hash: true });
    expect(entries.map((entry) => [entry.path, entry.type, entry.sha256])).toEqual([
      ['file', 'file', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      ['link', 'symlink', undefined],
    ]);
  });

  it('refuses manifest paths that would write outside the tree', async () => {
    await expect(writeTree(join(temp.path, 'c'), { '../outside': 'x' })).rejects.toThrow(/escapes the tree/);
    await expect(writeTree(join(temp.path, 'c'), { '/etc/passwd': 'x' })).rejects.toThrow(/escapes the tree/);
    expect(existsSync(join(temp.path, 'outside'))).toBe(false);
  });
});

describe('temp dirs and ports', () => {
  it('cleanup removes a tree whose directories were chmod 000', async () => {
    const dir = await makeTempDir('cleanup-test');
    await writeTree(dir.path, { 'locked/deeper/file': 'x', 'locked/deeper/link': { type: 'symlink', target: '/etc/hostname' } });
    await chmod(join(dir.path, 'locked/deeper'), 0o000);
    await chmod(join(dir.path, 'locked'), 0o000);
    await dir.cleanup();
    expect(existsSync(dir.path)).toBe(false);
    expect((await lstat('/etc/hostname')).isFile()).toBe(true);
    await dir.cleanup();
  });

  it('makes temp dirs with the requested mode', async () => {
    const dir = await makeTempDir('mode-test', { mode: 0o755 });
    expect((await stat(dir.path)).mode & 0o777).toBe(0o755);
    await dir.cleanup();
  });

  it('freePort returns a port on 127.0.0.1 that can be bound', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port }, resolve);
    });
    expect(port).toBeGreaterThan(0);
    await new Promise((resolve) => server.close(resolve));
  });
});
