import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../e2e/cli.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';

/**
 * watch into a target that waiting cannot fix: it used to retry with back-off forever (a missing target) or call a
 * file "does not exist". It must stop on its own with the cause, a hint and exit 78.
 */
let temp: TempDir;

beforeAll(async () => {
  temp = await makeTempDir('watch-errors', { mode: 0o755 });
  await writeTree(path.join(temp.path, 'src'), {
    'cur/1700000000.M1P1.host,S=20:2,S': { content: 'Subject: one\n\nbody\n', mtime: 1700000000 },
    'new': { type: 'dir' },
    'tmp': { type: 'dir' },
  });
  await writeFile(path.join(temp.path, 'a-file'), 'not a maildir\n');
});
afterAll(async () => {
  await temp?.cleanup();
});

/** Runs watch; if it is still running after `limitMs` it is stopped and `code` is null. */
async function runWatch(target: string, limitMs = 15_000): Promise<{ code: number | null; stderr: string }> {
  const child = spawnCli(['watch', '--retry-delay', '100', path.join(temp.path, 'src'), target]);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGINT');
  }, limitMs);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code: timedOut ? null : code, stderr };
}

describe('watch into a target that cannot be used', () => {
  it('watch into a missing target stops with exit 78 instead of retrying forever', async () => {
    const result = await runWatch(path.join(temp.path, 'no-such-target'));
    expect(result.code, result.stderr).toBe(78);
    expect(result.stderr).toMatch(/no-such-target does not exist/);
    expect(result.stderr).toMatch(/hint: /);
    expect(result.stderr).not.toMatch(/retry in/);
  });

  it('watch into a target that is a file says it is a file, not that it does not exist', async () => {
    const result = await runWatch(path.join(temp.path, 'a-file'));
    expect(result.code, result.stderr).toBe(78);
    expect(result.stderr).toMatch(/a-file is a file, not a directory/);
    expect(result.stderr).not.toMatch(/does not exist/);
  });
});
