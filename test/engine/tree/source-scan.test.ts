import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CopyJob } from '../../../src/engine/tree/plan-copy.js';
import { combineSourceScans, scanJobSource, startSourceScans } from '../../../src/engine/tree/source-scan.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

let temp: TempDir;

/** A maildir with two messages, one folder with one message, and a symlink out of the tree. */
async function writeMailbox(root: string): Promise<void> {
  for (const sub of ['cur', 'new', 'tmp', '.Sent/cur', '.Sent/new', '.Sent/tmp']) await mkdir(path.join(root, sub), { recursive: true });
  await writeFile(path.join(root, 'cur', '1700000001.M1P1.host,S=5:2,S'), 'hello');
  await writeFile(path.join(root, 'new', '1700000002.M2P1.host,S=3'), 'abc');
  await writeFile(path.join(root, '.Sent', 'cur', '1700000003.M3P1.host,S=4:2,S'), 'sent');
  await symlink('/etc/passwd', path.join(root, 'cur', 'escape'));
}

function maildirJob(label: string, source: string, extra: Partial<CopyJob> = {}): CopyJob {
  return { label, kind: 'maildir', source: { path: `${source}/` }, target: { path: '/nowhere/' }, rules: [], ...extra };
}

beforeAll(async () => {
  temp = await makeTempDir('source-scan');
  await writeMailbox(path.join(temp.path, 'a'));
  await writeMailbox(path.join(temp.path, 'b'));
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('scanJobSource', () => {
  it('refuses what leaves the tree, with an exclude rule for it, and sums what the job copies', async () => {
    const scan = await scanJobSource(maildirJob('a', path.join(temp.path, 'a')), {});
    expect(scan.refused).toEqual([expect.objectContaining({ job: 'a', kind: 'symlink-outside-tree' })]);
    expect(scan.rules).toHaveLength(1);
    expect(scan.totals.files).toBe(3);
    expect(scan.totals.bytes).toBe(12);
  });

  it('has nothing to scan for a job that copies no maildir', async () => {
    const scan = await scanJobSource({ ...maildirJob('files', path.join(temp.path, 'a')), kind: 'files' }, {});
    expect(scan).toEqual({ refused: [], rules: [], totals: { bytes: 0, files: 0 } });
  });
});

describe('startSourceScans', () => {
  it('gives each job its own scan, in job order, and the combination lists the refusals in that order', async () => {
    const jobs = [maildirJob('a', path.join(temp.path, 'a')), maildirJob('b', path.join(temp.path, 'b'))];
    const scans = await Promise.all(startSourceScans(jobs, {}));
    expect(scans.map((scan) => scan.refused.map((item) => item.job))).toEqual([['a'], ['b']]);
    const combined = combineSourceScans(scans);
    expect(combined.refused.map((item) => item.job)).toEqual(['a', 'b']);
    expect(combined.totals).toEqual({ files: 6, bytes: 24 });
  });

  it('does not start the scans after one that failed, and fails them too without an unhandled rejection', async () => {
    // A relative root cannot be listed: the first scan fails; the second, of a good tree, is never started.
    const scans = startSourceScans([maildirJob('a', 'relative/a'), maildirJob('b', path.join(temp.path, 'b'))], {});
    await expect(scans[0]).rejects.toThrow(/absolute/);
    await expect(scans[1]).rejects.toThrow(/absolute/);
  });
});
