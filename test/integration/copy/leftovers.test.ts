import { existsSync } from 'node:fs';
import { readFile, readdir, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { sleep } from '../../support/process.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree, type TreeManifest } from '../../support/tree.js';
import { messageBaseNames, sshOptionsFor, writeSourceMaildir } from './helpers.js';

/**
 * A target an interrupted copy left: its job marker (mailshift-copy-in-progress) and rsync's half-written
 * `.NAME.XXXXXX` files. The next copy into it removes exactly the rsync-shaped files written since the marker's
 * start — one whose mtime rsync had already set back to the source's included — and nothing older or else; a target
 * without a marker loses nothing. Here and over a real sshd.
 */
let temp: TempDir;
let sshd: Sshd;
const messages = 6;
const markerName = 'mailshift-copy-in-progress';

beforeAll(async () => {
  temp = await makeTempDir('copy-leftovers', { mode: 0o755 });
  await writeSourceMaildir(path.join(temp.path, 'src'), messages, (i) => `Subject: m ${i}\n\nbody ${i}\n`);
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
  await temp?.cleanup();
});

/** Everything under dir except directories, relative. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

// Written before the interrupted job started: an rsync-shaped file of an earlier time stays whatever it is.
const before: TreeManifest = {
  'cur/.1600000000.M1P1.old,S=5:2,S.Old123': 'older',
  '.Archive/cur/.1600000001.M2P1.old.Old456': 'older',
  'dovecot-uidlist': '3 V1600000000 N1\n',
};
// Written after it started: only the first three are rsync's temporary names (files, the right shape).
const after: TreeManifest = {
  'cur/.1700000000.M0P1.host,S=16:2,S.aB3xYz': 'half-',
  'new/.1700000099.M9P1.host.Zz9Yy8': 'half',
  '.Sent/cur/.1700000001.M1P1.host,S=16:2,S.Qq1Ww2': 'half',
  'cur/1699999999.M7P1.target-only,S=4:2,S': 'mine',
  'cur/.notes': 'not rsync',
  '.Folder.abc123/cur': { type: 'dir' },
  'new/.1700000098.M8P1.host.toolong7': 'not rsync either',
};
const removedNames = ['.Sent/cur/.1700000001.M1P1.host,S=16:2,S.Qq1Ww2', 'cur/.1700000000.M0P1.host,S=16:2,S.aB3xYz', 'new/.1700000099.M9P1.host.Zz9Yy8'];

/** A target as an interrupted job left it: files from before its start, its marker, files written since. */
async function interruptedTarget(dst: string, options: { marker: boolean }): Promise<void> {
  await writeTree(dst, { ...before, tmp: { type: 'dir' } });
  // The change times of `before` must lie more than the sweep's second of slack before the marker's start.
  await sleep(1200);
  if (options.marker) await writeFile(path.join(dst, markerName), `mailshift copy: rsync may be writing into this directory.\nstarted-ms=${Date.now()}\n`);
  await writeTree(dst, after);
  // rsync sets the source's mtime on its temporary file just before the rename: killed in between, the file looks
  // old by its mtime. Its change time does not.
  await utimes(path.join(dst, 'cur/.1700000000.M0P1.host,S=16:2,S.aB3xYz'), 1000000000, 1000000000);
}

function expectedAfterCopy(kept: string[]): string[] {
  return kept.filter((name) => !removedNames.includes(name) && name !== markerName).sort();
}

describe('a copy into a target an interrupted copy left', () => {
  for (const over of ['this machine', 'ssh'] as const) {
    it(`removes exactly the rsync-shaped files written since the marker's start, ctime counting, not mtime (${over})`, async () => {
      const src = path.join(temp.path, 'src');
      const dst = path.join(temp.path, `dst-marker-${over === 'ssh' ? 'ssh' : 'local'}`);
      await interruptedTarget(dst, { marker: true });
      const leftBehind = await filesUnder(dst);
      expect(leftBehind).toEqual(expect.arrayContaining([...removedNames, markerName]));
      const target = over === 'ssh' ? `ssh://root@127.0.0.1:${sshd.port}${dst}` : dst;
      const result = await runCli(['--json', 'copy', ...(over === 'ssh' ? sshOptionsFor(sshd) : []), src, target]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/removed 3 half-written file\(s\) an interrupted copy left/);

      const sourceFiles = (await filesUnder(src)).filter((f) => !f.startsWith('tmp/'));
      expect(await filesUnder(dst)).toEqual([...new Set([...expectedAfterCopy(leftBehind), ...sourceFiles])].sort());
      expect(existsSync(path.join(dst, '.Folder.abc123/cur')), 'a folder that merely looks like a temporary name').toBe(true);
      const copied = await messageBaseNames(dst);
      for (const name of await messageBaseNames(src)) expect(copied.filter((c) => c === name)).toHaveLength(1);
    });
  }

  it('without a marker, removes nothing, whatever looks like a temporary name', async () => {
    const src = path.join(temp.path, 'src');
    const dst = path.join(temp.path, 'dst-no-marker');
    await interruptedTarget(dst, { marker: false });
    const leftBehind = await filesUnder(dst);
    const result = await runCli(['--json', 'copy', src, dst]);
    expect(result.code, result.stderr).toBe(0);
    const after = await filesUnder(dst);
    for (const name of leftBehind) expect(after).toContain(name);
    expect(after).not.toContain(markerName);
  });

  it('leaves no marker behind after a copy that ended, and none is ever copied from a source', async () => {
    const src = path.join(temp.path, 'src-with-marker');
    await writeTree(src, { 'cur/1700000000.M0P1.host,S=16:2,S': 'Subject: m\n\nb\n', new: { type: 'dir' }, tmp: { type: 'dir' }, [markerName]: 'started-ms=1\n', 'mailshift-tmp/1.M1.h.aB3xYz': 'old build' });
    const dst = path.join(temp.path, 'dst-clean');
    const result = await runCli(['--json', 'copy', src, dst]);
    expect(result.code, result.stderr).toBe(0);
    expect(await filesUnder(dst)).toEqual(['cur/1700000000.M0P1.host,S=16:2,S']);
    expect((await stat(path.join(dst, 'tmp'))).isDirectory()).toBe(true);
  });

  it('never writes through a link planted at the marker name, over ssh either: the job stops and says why', async () => {
    const src = path.join(temp.path, 'src');
    const outside = path.join(temp.path, 'outside-file');
    await writeFile(outside, 'not yours\n');
    const dst = path.join(temp.path, 'dst-planted-link');
    await writeTree(dst, { cur: { type: 'dir' }, new: { type: 'dir' }, tmp: { type: 'dir' } });
    await symlink(outside, path.join(dst, markerName));
    const result = await runCli(['--json', 'copy', ...sshOptionsFor(sshd), src, `ssh://root@127.0.0.1:${sshd.port}${dst}`]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/ssh:\/\/.*\/mailshift-copy-in-progress exists and is not a regular file; not written through/);
    expect(await readFile(outside, 'utf8')).toBe('not yours\n');
  });
});
