import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InterruptedError } from '../../src/core/errors.js';
import { listTree, listTreeWithFind, type FindOptions, type ListTreeResult, type TreeEntry } from '../../src/hosts/find.js';
import { listLocalTree, mtimeMsAsFindPrintsIt } from '../../src/hosts/walk-local.js';

// The local walk replaces GNU find on this machine; over ssh find stays. Both must give the same listing of the same
// tree, field for field, or a resync comparing a local tree with a remote one would see differences that are not there.

let base: string;
let root: string;

async function collect(lister: typeof listTreeWithFind, listedRoot: string, options: FindOptions = {}): Promise<{ result: ListTreeResult; entries: TreeEntry[] }> {
  const entries: TreeEntry[] = [];
  const result = await lister({}, listedRoot, (entry) => entries.push(entry), options);
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { result, entries };
}

const walk = (_target: object, listedRoot: string, onEntry: (entry: TreeEntry) => void, options?: FindOptions) => listLocalTree(listedRoot, onEntry, options);

beforeAll(() => {
  base = mkdtempSync(path.join(tmpdir(), 'mailshift-walk-'));
  root = path.join(base, 'mail');
  for (const dir of ['cur', 'new', 'tmp', '.Sent/cur', '.Sent/new', '.Sent/tmp', '.Archiv 2019/cur', 'deep/a/b/c/d', 'we[ir]d/cur']) mkdirSync(path.join(root, dir), { recursive: true });
  writeFileSync(path.join(root, 'we[ir]d', 'cur', 'm1'), '');
  writeFileSync(path.join(root, 'cur', '1577934245.M1P2.host,S=5:2,S'), 'hello');
  writeFileSync(path.join(root, 'new', 'name with\nnewline and spaces'), 'x');
  writeFileSync(path.join(root, '.Archiv 2019', 'cur', 'Grüße:2,'), 'ü');
  linkSync(path.join(root, 'cur', '1577934245.M1P2.host,S=5:2,S'), path.join(root, '.Sent', 'cur', 'hard-linked:2,S'));
  symlinkSync('/etc/shadow', path.join(root, 'cur', 'link-out'));
  symlinkSync('does-not-exist', path.join(root, 'dangling'));
  symlinkSync(path.join(base), path.join(root, 'loop-to-parent'));
  writeFileSync(path.join(root, 'dovecot-uidlist'), '3 V1 N2\n');
  writeFileSync(path.join(root, 'deep', '*'), '');
  writeFileSync(path.join(root, 'deep', 'a', 'b', 'c', 'd', 'dovecot-uidlist'), '');
  const sparse = openSync(path.join(root, 'sparse'), 'w');
  ftruncateSync(sparse, 10 * 1024 * 1024);
  closeSync(sparse);
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  chmodSync(path.join(root, '.Sent'), 0o2751);
  // Nanoseconds that milliseconds must round the same way from find's text and from the lstat.
  execFileSync('touch', ['-h', '-d', '@1577934245.123456789', path.join(root, 'cur', '1577934245.M1P2.host,S=5:2,S')]);
  execFileSync('touch', ['-h', '-d', '@1577934245.9995', path.join(root, 'new', 'name with\nnewline and spaces')]);
  writeFileSync(path.join(base, 'a-file'), '');
  symlinkSync(root, path.join(base, 'root-link'));
});

afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

describe('listLocalTree lists what GNU find lists, field for field', () => {
  const cases: [string, FindOptions][] = [
    ['the whole tree', {}],
    ['to a depth of 1', { maxDepth: 1 }],
    ['to a depth of 2', { maxDepth: 2 }],
    ['directories and links only', { dirsAndLinksOnly: true, maxDepth: 3 }],
    ['by name, at any depth', { names: ['dovecot-uidlist', 'subscriptions'] }],
    ['by a name holding wildcard characters, taken literally', { names: ['*'] }],
    ['pruning directories: listed, nothing below them', { prune: ['.Sent', 'deep/a'] }],
    ['pruning, with a filter and a depth', { prune: ['.Sent', 'deep/a/b'], dirsAndLinksOnly: true, maxDepth: 3 }],
    ['pruning a directory whose name holds wildcard characters, taken literally', { prune: ['we[ir]d'] }],
  ];
  for (const [label, options] of cases) {
    it(label, async () => {
      const byFind = await collect(listTreeWithFind, root, options);
      const byWalk = await collect(walk, root, options);
      expect(byFind.entries.length).toBeGreaterThan(0);
      expect(byWalk).toEqual(byFind);
    });
  }

  it('does not walk into a pruned directory: it is listed, nothing below it is', async () => {
    const { entries } = await collect(walk, root, { prune: ['.Sent', 'deep/a'] });
    const paths = entries.map((entry) => entry.path);
    expect(paths).toEqual(expect.arrayContaining(['.Sent', 'deep/a', 'cur', '.Archiv 2019/cur']));
    expect(paths.filter((p) => p.startsWith('.Sent/') || p.startsWith('deep/a/'))).toEqual([]);
  });

  it('takes "*" as a name, not a wildcard', async () => {
    expect((await collect(walk, root, { names: ['*'] })).entries.map((e) => e.path)).toEqual(['deep/*']);
  });

  it('never follows a link: not the root, not one inside', async () => {
    const { entries } = await collect(walk, root);
    expect(entries.filter((e) => e.path.startsWith('loop-to-parent/'))).toEqual([]);
    expect(entries.find((e) => e.path === 'cur/link-out')).toMatchObject({ type: 'symlink', linkTarget: '/etc/shadow' });
    expect(await collect(walk, path.join(base, 'root-link'))).toEqual(await collect(listTreeWithFind, path.join(base, 'root-link')));
    expect((await collect(walk, path.join(base, 'root-link'))).entries).toEqual([]);
  });

  it('reports hard links by device and inode, sparse files by their allocated bytes, fifos as other', async () => {
    const { entries } = await collect(walk, root);
    const original = entries.find((e) => e.path === 'cur/1577934245.M1P2.host,S=5:2,S')!;
    const linked = entries.find((e) => e.path === '.Sent/cur/hard-linked:2,S')!;
    expect(linked.inode).toBe(original.inode);
    expect(linked.nlink).toBe(2);
    expect(original.mtimeMs).toBe(1577934245123);
    const sparse = entries.find((e) => e.path === 'sparse')!;
    expect(sparse.sizeBytes).toBe(10 * 1024 * 1024);
    expect(sparse.allocatedBytes).toBeLessThan(sparse.sizeBytes);
    expect(entries.find((e) => e.path === 'fifo')?.type).toBe('other');
    expect(entries.find((e) => e.path === '.Sent')?.mode).toBe(0o2751);
  });

  it('says a missing root does not exist, and lists nothing below a file', async () => {
    expect(await collect(walk, path.join(base, 'missing'))).toEqual({ result: { exists: false, errors: '' }, entries: [] });
    expect(await collect(listTreeWithFind, path.join(base, 'missing'))).toEqual({ result: { exists: false, errors: '' }, entries: [] });
    expect(await collect(walk, path.join(base, 'a-file'))).toEqual({ result: { exists: true, errors: '' }, entries: [] });
  });

  it('reports a root it cannot reach as an error of the listing, as find does', async () => {
    const { result } = await collect(walk, path.join(base, 'a-file', 'below'));
    expect(result.exists).toBe(true);
    expect(result.errors).toMatch(/Not a directory/);
    expect((await collect(listTreeWithFind, path.join(base, 'a-file', 'below'))).result.errors).toMatch(/Not a directory/);
  });

  it('lists a directory of more entries than one slice, and stops when aborted', async () => {
    const big = path.join(base, 'big');
    mkdirSync(big);
    for (let i = 0; i < 1000; i++) writeFileSync(path.join(big, `m${i}`), '');
    expect((await collect(walk, big)).entries).toHaveLength(1000);
    const controller = new AbortController();
    let seen = 0;
    const listing = listLocalTree(big, () => {
      seen += 1;
      if (seen === 300) controller.abort();
    }, { signal: controller.signal });
    await expect(listing).rejects.toBeInstanceOf(InterruptedError);
    expect(seen).toBeLessThan(1000);
  });

  it('is what listTree runs on this machine', async () => {
    expect(await collect(listTree, root)).toEqual(await collect(walk, root));
  });
});

describe('mtimeMsAsFindPrintsIt', () => {
  it('rounds nanoseconds to the millisecond as the parse of find\'s %T@ text does', () => {
    expect(mtimeMsAsFindPrintsIt(1577934245_123456789n)).toBe(1577934245123);
    expect(mtimeMsAsFindPrintsIt(1577934245_999500000n)).toBe(1577934246000);
    expect(mtimeMsAsFindPrintsIt(0n)).toBe(0);
    expect(mtimeMsAsFindPrintsIt(-1_500_000_000n)).toBe(-1500);
  });
});
