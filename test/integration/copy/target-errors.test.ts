import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { mountTmpfs } from '../../support/tmpfs.js';
import { writeTree } from '../../support/tree.js';

/**
 * Targets that cannot take a maildir: a regular file, a read-only filesystem (a read-only tmpfs: root passes every
 * mode check, so a chmod'ed directory would not stop these tests). Each must stop with a typed error that names the
 * target and what to do, exit 78 (configuration), never "this is a bug in mailshift".
 */
let temp: TempDir;
let unmount: (() => Promise<void>) | undefined;
let skipReason: string | undefined;

beforeAll(async () => {
  temp = await makeTempDir('copy-target-errors', { mode: 0o755 });
  await writeTree(path.join(temp.path, 'src'), {
    'cur/1700000000.M1P1.host,S=20:2,S': { content: 'Subject: one\n\nbody\n', mtime: 1700000000 },
    'new': { type: 'dir' },
    'tmp': { type: 'dir' },
  });
  await writeFile(path.join(temp.path, 'a-file'), 'not a maildir\n');
  const mounted = await mountTmpfs(path.join(temp.path, 'ro'), { isReadOnly: true });
  if (mounted.ok) unmount = mounted.unmount;
  else skipReason = mounted.reason;
});
afterAll(async () => {
  await unmount?.();
  await temp?.cleanup();
});

function expectClearError(result: { code: number | null; stderr: string }, message: RegExp, hint: RegExp): void {
  expect(result.stderr).not.toMatch(/this is a bug in mailshift/);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).toMatch(hint);
  expect(result.code, result.stderr).toBe(78);
}

describe('copy into a target that cannot be written', () => {
  it('copy to a target that is a regular file says so instead of crashing with EEXIST', async () => {
    const result = await runCli(['copy', path.join(temp.path, 'src'), path.join(temp.path, 'a-file')]);
    expectClearError(result, /target .*a-file is a file, not a directory/, /hint: the target must be a maildir directory/);
  });

  it('copy to a new directory on a read-only filesystem says read-only instead of a misleading ENOENT', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const result = await runCli(['copy', path.join(temp.path, 'src'), path.join(temp.path, 'ro', 'dst')]);
    expectClearError(result, /ro\/dst .*is on a read-only filesystem/, /hint: remount the target filesystem read-write/);
    expect(result.stderr).not.toMatch(/ENOENT/);
  });

  it('copy into an existing read-only directory stops before rsync instead of reporting a partial transfer', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const result = await runCli(['copy', path.join(temp.path, 'src'), path.join(temp.path, 'ro')]);
    expectClearError(result, /is on a read-only filesystem/, /hint: remount/);
  });
});

describe('resync into a target that cannot be written', () => {
  it('resync to a read-only target says read-only instead of crashing with EROFS', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const result = await runCli(['resync', path.join(temp.path, 'src'), path.join(temp.path, 'ro')]);
    expectClearError(result, /is on a read-only filesystem/, /hint: remount/);
  });

  it('resync to a target that is a file says it is a file, not that it does not exist', async () => {
    const result = await runCli(['resync', path.join(temp.path, 'src'), path.join(temp.path, 'a-file')]);
    expectClearError(result, /target .*a-file is a file, not a directory/, /hint: /);
    expect(result.stderr).not.toMatch(/does not exist/);
  });
});
