import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

/** The one route decision, as a user sees it: printed first by --dry-run, present in --json, never from spec text. */
let temp: TempDir;

beforeAll(async () => {
  temp = await makeTempDir('route');
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(temp.path, 'src', sub), { recursive: true });
  await writeFile(path.join(temp.path, 'src', 'cur', '1700000000.M1P1.host,S=14:2,S'), 'Subject: x\n\nb\n');
  await writeFile(path.join(temp.path, 'inbox.mbox'), 'From a@b Sat Jan  1 00:00:00 2000\nSubject: x\n\nb\n');
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('the route', () => {
  it('copy --dry-run starts with the route and its reason', async () => {
    const result = await runCli(['copy', '--dry-run', path.join(temp.path, 'src'), path.join(temp.path, 'dst')]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('Route: files (rsync): both ends are file trees (local maildir -> local maildir): rsync moves the files as they are (flags in file names, hard links, UIDs, owners)');
  });

  it('copy, resync and verify put the route in --json', async () => {
    const copy = await runCli(['--json', 'copy', '--dry-run', path.join(temp.path, 'src'), path.join(temp.path, 'dst')]);
    expect(JSON.parse(copy.stdout)).toMatchObject({ command: 'copy', route: { use: 'files', reason: expect.stringContaining('both ends are file trees') } });
    const resync = await runCli(['--json', 'resync', '--dry-run', path.join(temp.path, 'src'), path.join(temp.path, 'src')]);
    expect(JSON.parse(resync.stdout)).toMatchObject({ command: 'resync', route: { use: 'files', reason: expect.stringContaining('matched by maildir base name') } });
    const verify = await runCli(['--json', 'verify', path.join(temp.path, 'src'), path.join(temp.path, 'src')]);
    expect(JSON.parse(verify.stdout)).toMatchObject({ command: 'verify', route: { use: 'files', reason: expect.stringContaining('compared file by file') } });
    const mbox = await runCli(['--json', 'verify', path.join(temp.path, 'inbox.mbox'), path.join(temp.path, 'src')]);
    expect(JSON.parse(mbox.stdout)).toMatchObject({ command: 'verify', route: { use: 'messages', reason: expect.stringContaining('is mbox') } });
  });

  it('decides on what an end is, not on how it was typed: an mbox named as a plain path is still refused by copy', async () => {
    const result = await runCli(['copy', path.join(temp.path, 'inbox.mbox'), path.join(temp.path, 'dst2')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/inbox\.mbox is mbox: copy moves maildir files/);
  });
});
