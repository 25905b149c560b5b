import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyRemoteMkdirFailure, diagnoseLocalTargetDir, targetWriteError } from '../../src/fsops/target-dir.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailshift-target-dir-'));
  await writeFile(path.join(dir, 'a-file'), 'x');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('diagnoseLocalTargetDir', () => {
  it('accepts a directory that does not exist yet under a writable one', async () => {
    expect(await diagnoseLocalTargetDir(path.join(dir, 'new', 'maildir'))).toBeUndefined();
  });

  it('names a target that is a file, and a file in the middle of the path', async () => {
    const itself = await diagnoseLocalTargetDir(path.join(dir, 'a-file'));
    expect(itself).toMatchObject({ code: 'MAILSHIFT_TARGET_NOT_DIR', exitCode: 78 });
    expect(itself!.message).toBe(`target ${path.join(dir, 'a-file')} is a file, not a directory`);
    const below = await diagnoseLocalTargetDir(path.join(dir, 'a-file', 'x'));
    expect(below).toMatchObject({ code: 'MAILSHIFT_TARGET_NOT_DIR', exitCode: 78 });
  });
});

describe('targetWriteError', () => {
  it('maps a read-only filesystem, no permission and a full disk to errors with a hint', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(targetWriteError('/t', err('EROFS'))).toMatchObject({ code: 'MAILSHIFT_TARGET_READ_ONLY', exitCode: 78 });
    expect(targetWriteError('/t', err('EACCES'))).toMatchObject({ code: 'MAILSHIFT_TARGET_NOT_WRITABLE', exitCode: 78 });
    expect(targetWriteError('/t', err('ENOSPC'))).toMatchObject({ code: 'MAILSHIFT_TARGET_FULL', exitCode: 1 });
    for (const code of ['EROFS', 'EACCES', 'ENOSPC', 'EIO']) expect(targetWriteError('/t', err(code)).hint).toBeTruthy();
  });
});

describe('classifyRemoteMkdirFailure', () => {
  it('reads GNU mkdir\'s words for a read-only target, a file in the way and no permission', () => {
    expect(classifyRemoteMkdirFailure('h:/ro/x', "mkdir: cannot create directory '/ro/x': Read-only file system")).toMatchObject({ code: 'MAILSHIFT_TARGET_READ_ONLY', exitCode: 78 });
    expect(classifyRemoteMkdirFailure('h:/f', "mkdir: cannot create directory '/f': File exists")).toMatchObject({ code: 'MAILSHIFT_TARGET_NOT_DIR', exitCode: 78 });
    expect(classifyRemoteMkdirFailure('h:/f/x', "mkdir: cannot create directory '/f/x': Not a directory")).toMatchObject({ code: 'MAILSHIFT_TARGET_NOT_DIR' });
    expect(classifyRemoteMkdirFailure('h:/p', "mkdir: cannot create directory '/p': Permission denied")).toMatchObject({ code: 'MAILSHIFT_TARGET_NOT_WRITABLE' });
    expect(classifyRemoteMkdirFailure('h:/p', 'mkdir: something else')).toBeUndefined();
  });
});
