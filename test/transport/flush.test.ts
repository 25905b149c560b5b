import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

// Unit test: the sync(1) runs are recorded and finished by hand, to see which requests share which flush.
const runs: { args: readonly string[]; finish: (err: Error | null) => void }[] = [];
vi.mock('node:child_process', () => ({
  execFile: (_command: string, args: readonly string[], callback: (err: Error | null) => void) => {
    runs.push({ args, finish: callback });
  },
}));
// A fresh copy of the module, bound to the mock even when another file of the same worker loaded it first.
vi.resetModules();
const { flushFilesystem } = await import('../../src/transport/flush.js');

const dir = mkdtempSync(path.join(tmpdir(), 'mailshift-flush-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  // The unit project shares one module registry between files (isolate: false): later files get the real sync(1).
  vi.doUnmock('node:child_process');
  vi.resetModules();
});
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('flushFilesystem', () => {
  it('runs sync -f for the directory, and requests made while it runs share one flush started after it', async () => {
    const first = flushFilesystem(dir);
    expect(runs.map((run) => run.args)).toEqual([['-f', '--', dir]]);
    const second = flushFilesystem(path.join(dir, '.'));
    const third = flushFilesystem(dir);
    expect(second).toBe(third);
    expect(runs).toHaveLength(1); // the later requests wait: a flush already running may miss their writes

    runs[0]!.finish(null);
    await first;
    await settled();
    expect(runs).toHaveLength(2);
    runs[1]!.finish(null);
    await Promise.all([second, third]);

    const fourth = flushFilesystem(dir); // nothing running: starts at once
    expect(runs).toHaveLength(3);
    runs[2]!.finish(new Error('sync failed'));
    await expect(fourth).rejects.toThrow('sync failed');
  });
});
