import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRemoteExtractArgv, buildStagingDir, RemoteStage } from '../../src/archive/remote-stage.js';
import { LocalFileSide } from '../../src/hosts/local.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const run = promisify(execFile);

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('remote-stage');
});
afterEach(async () => {
  await tmp.cleanup();
});

describe('the remote extraction and link commands', () => {
  it('extracts into the staging directory, keeping what is there and never restoring owners', () => {
    expect(buildRemoteExtractArgv('/home/bob/mail/tmp/mailshift-restore.ab')).toEqual(['tar', '-x', '-f', '-', '-C', '/home/bob/mail/tmp/mailshift-restore.ab', '--keep-old-files', '--no-same-owner']);
    expect(() => buildRemoteExtractArgv('relative/dir')).toThrow(/absolute/);
  });

  it('is an argv GNU tar accepts', async () => {
    const [, ...args] = buildRemoteExtractArgv(tmp.path);
    const empty = path.join(tmp.path, 'empty.tar');
    await run('tar', ['-cf', empty, '--files-from', '/dev/null']);
    await run('tar', args.map((a) => (a === '-' ? empty : a)));
  });

  it('stages under the tree’s tmp/, at a name of its own', () => {
    expect(buildStagingDir('/srv/mail/alice', 'c0ffee')).toBe('/srv/mail/alice/tmp/mailshift-restore.c0ffee');
    expect(buildStagingDir('/srv/mail/alice')).not.toBe(buildStagingDir('/srv/mail/alice'));
  });
});

describe('RemoteStage (run here, through the same FileSide calls as over ssh)', () => {
  const canary = 'mailshift-stage-canary';

  it('places staged files at their names with their mtimes, links as links, and never replaces a file', async () => {
    const root = path.join(tmp.path, 'maildir');
    await mkdir(path.join(root, 'cur'), { recursive: true });
    await writeFile(path.join(root, 'cur/taken:2,S'), 'the target’s own');
    const stage = new RemoteStage(new LocalFileSide(), root, { dirMode: 0o751 });
    await stage.start();
    const odd = `$(touch ${canary}) 'quoted'\nnewline:2,S`;
    await stage.addFile(path.join(root, 'cur/1.M1.h:2,S'), [Buffer.from('one')], 3, 1700000001.25, 0o600);
    await stage.addFile(path.join(root, 'cur/taken:2,S'), [Buffer.from('from the backup')], 15, 1700000002, 0o600);
    await stage.addFile(path.join(root, `cur/${odd}`), [Buffer.from('odd')], 3, 1700000003, 0o600);
    stage.needDir(path.join(root, '.Archive'));
    stage.needDir(path.join(root, '.Archive/cur'));
    await stage.addLink(path.join(root, '.Archive/cur/1.M1.h:2,S'), stage.stagedNameOf(path.join(root, 'cur/1.M1.h:2,S'))!, 1700000001.25);
    const flushed = await stage.flush();
    expect(flushed.taken).toEqual([{ path: path.join(root, 'cur/taken:2,S'), bytes: 15 }]);
    expect(await readFile(path.join(root, 'cur/taken:2,S'), 'utf8')).toBe('the target’s own');
    expect(await readFile(path.join(root, `cur/${odd}`), 'utf8')).toBe('odd');
    expect((await stat(path.join(root, 'cur/1.M1.h:2,S'))).mtimeMs).toBe(1700000001250);
    expect((await stat(path.join(root, '.Archive/cur/1.M1.h:2,S'))).ino).toBe((await stat(path.join(root, 'cur/1.M1.h:2,S'))).ino);
    expect(existsSync(path.join(root, canary))).toBe(false);

    // A later batch links to what an earlier one placed, and never over a name that is taken.
    stage.linkPlaced(path.join(root, 'cur/1.M1.h:2,S'), path.join(root, 'cur/1.M1.h-copy:2,S'));
    stage.linkPlaced(path.join(root, 'cur/1.M1.h:2,S'), path.join(root, 'cur/taken:2,S'));
    const second = await stage.flush();
    expect(second).toEqual({ taken: [], linksTaken: [path.join(root, 'cur/taken:2,S')], linksNotMade: [] });
    expect((await stat(path.join(root, 'cur/1.M1.h-copy:2,S'))).nlink).toBe(3);
    expect(await readFile(path.join(root, 'cur/taken:2,S'), 'utf8')).toBe('the target’s own');

    await stage.close({ failed: false });
    expect(await readdir(path.join(root, 'tmp'))).toEqual([]);
  });

  it('settles by itself every batchFiles files, so a run that dies loses at most one batch', async () => {
    const root = path.join(tmp.path, 'batched');
    const stage = new RemoteStage(new LocalFileSide(), root, { dirMode: 0o751, batchFiles: 2 });
    await stage.start();
    stage.needDir(path.join(root, 'cur'));
    for (const n of [1, 2, 3]) {
      await stage.addFile(path.join(root, `cur/${n}.M.h:2,S`), [Buffer.from(String(n))], 1, 1700000000, 0o600);
      await stage.settleIfFull();
    }
    expect((await readdir(path.join(root, 'cur'))).sort()).toEqual(['1.M.h:2,S', '2.M.h:2,S']);
    await stage.flush();
    expect(await readdir(path.join(root, 'cur'))).toHaveLength(3);
    await stage.close({ failed: false });
  });

  it('settles a batch with one mv per folder, not one per message', async () => {
    // A logging mv first on PATH: every mv the settle starts (here, as on the far host, through xargs and find) is counted.
    const bin = path.join(tmp.path, 'bin');
    const log = path.join(tmp.path, 'mv.log');
    await mkdir(bin);
    await writeFile(path.join(bin, 'mv'), `#!/bin/sh\necho mv >> '${log}'\nexec /bin/mv "$@"\n`);
    await chmod(path.join(bin, 'mv'), 0o755);
    const savedPath = process.env['PATH'];
    process.env['PATH'] = `${bin}:${savedPath ?? ''}`;
    try {
      const root = path.join(tmp.path, 'many');
      const stage = new RemoteStage(new LocalFileSide(), root, { dirMode: 0o751 });
      await stage.start();
      const folders = ['', '.Sent', '.Archive'];
      for (const folder of folders) for (const sub of [folder, path.join(folder, 'cur')].filter(Boolean)) stage.needDir(path.join(root, sub));
      for (let i = 0; i < 300; i += 1) {
        await stage.addFile(path.join(root, folders[i % 3]!, 'cur', `${1700000000 + i}.M${i}.h:2,S`), [Buffer.from(String(i))], String(i).length, 1700000000, 0o600);
      }
      expect(await stage.flush()).toEqual({ taken: [], linksTaken: [], linksNotMade: [] });
      for (const folder of folders) expect(await readdir(path.join(root, folder, 'cur'))).toHaveLength(100);
      expect((await readFile(log, 'utf8')).trim().split('\n')).toHaveLength(3);
      await stage.close({ failed: false });
    } finally {
      process.env['PATH'] = savedPath;
    }
  });

  it('moves nothing into a folder swapped for a link since the target was listed, and stops with MAILSHIFT_REMOTE_WRITE', async () => {
    const root = path.join(tmp.path, 'swapped');
    const outside = path.join(tmp.path, 'outside');
    await mkdir(outside);
    await mkdir(root);
    await symlink(outside, path.join(root, 'cur'));
    const stage = new RemoteStage(new LocalFileSide(), root, { dirMode: 0o751 });
    await stage.start();
    stage.knowDir(path.join(root, 'cur')); // listed as a directory when the restore began
    await stage.addFile(path.join(root, 'cur/1.M.h:2,S'), [Buffer.from('x')], 1, 1700000000, 0o600);
    await expect(stage.flush()).rejects.toMatchObject({ code: 'MAILSHIFT_REMOTE_WRITE', message: expect.stringMatching(/no longer a real directory/) });
    expect(await readdir(outside)).toEqual([]);
    await stage.close({ failed: true });
  });

  it('places files in the home beside its mail, reached from the home, and refuses a path in neither', async () => {
    const home = path.join(tmp.path, 'home');
    const mail = path.join(home, 'mail');
    const stage = new RemoteStage(new LocalFileSide(), mail, { dirMode: 0o751, otherRoots: [home] });
    await stage.start();
    stage.needDir(path.join(mail, 'cur'));
    await stage.addFile(path.join(mail, 'cur/1.M.h:2,S'), [Buffer.from('m')], 1, 1700000000, 0o600);
    await stage.addFile(path.join(home, '.forward'), [Buffer.from('f')], 1, 1700000000, 0o600);
    await expect(stage.addFile(path.join(tmp.path, 'elsewhere/x'), [Buffer.from('x')], 1, 1700000000, 0o600)).rejects.toThrow(/none of the trees/);
    expect((await stage.flush()).taken).toEqual([]);
    expect(await readFile(path.join(home, '.forward'), 'utf8')).toBe('f');
    expect(await readdir(path.join(mail, 'cur'))).toEqual(['1.M.h:2,S']);
    await stage.close({ failed: false });
  });

  it('keeps a staged file whose name was taken out of the target until the staging directory goes', async () => {
    const root = path.join(tmp.path, 'taken');
    await mkdir(path.join(root, 'cur'), { recursive: true });
    await writeFile(path.join(root, 'cur/a:2,S'), 'the target’s own');
    const stage = new RemoteStage(new LocalFileSide(), root, { dirMode: 0o751 });
    await stage.start();
    stage.knowDir(path.join(root, 'cur'));
    await stage.addFile(path.join(root, 'cur/a:2,S'), [Buffer.from('from the backup')], 15, 1700000000, 0o600);
    expect((await stage.flush()).taken).toEqual([{ path: path.join(root, 'cur/a:2,S'), bytes: 15 }]);
    // A second flush (a later batch) does not report it again.
    expect((await stage.flush()).taken).toEqual([]);
    expect(await readFile(path.join(root, 'cur/a:2,S'), 'utf8')).toBe('the target’s own');
    await stage.close({ failed: false });
    expect(await readdir(path.join(root, 'tmp'))).toEqual([]);
  });

  it('reports a hard link of the batch whose name was taken as a link taken, not as a message', async () => {
    const root = path.join(tmp.path, 'link-taken');
    await mkdir(path.join(root, 'cur'), { recursive: true });
    await mkdir(path.join(root, '.Sent/cur'), { recursive: true });
    await writeFile(path.join(root, '.Sent/cur/a:2,S'), 'the target’s own');
    const stage = new RemoteStage(new LocalFileSide(), root, { dirMode: 0o751 });
    await stage.start();
    await stage.addFile(path.join(root, 'cur/a:2,S'), [Buffer.from('m')], 1, 1700000000, 0o600);
    await stage.addLink(path.join(root, '.Sent/cur/a:2,S'), stage.stagedNameOf(path.join(root, 'cur/a:2,S'))!, 1700000000);
    expect(await stage.flush()).toEqual({ taken: [], linksTaken: [path.join(root, '.Sent/cur/a:2,S')], linksNotMade: [] });
    expect(await readFile(path.join(root, '.Sent/cur/a:2,S'), 'utf8')).toBe('the target’s own');
    await stage.close({ failed: false });
  });

  it('stops with MAILSHIFT_REMOTE_WRITE when the remote tar cannot write, and keeps what it placed', async () => {
    const root = path.join(tmp.path, 'broken');
    const stage = new RemoteStage(new LocalFileSide(), root, { dirMode: 0o751 });
    await stage.start();
    // The staging directory taken away under the remote tar: it cannot create its files.
    await run('rm', ['-rf', stage.stagingDir]);
    await expect(
      (async () => {
        await stage.addFile(path.join(root, 'cur/1.M.h:2,S'), [Buffer.from('x')], 1, 1700000000, 0o600);
        await stage.flush();
      })(),
    ).rejects.toMatchObject({ code: 'MAILSHIFT_REMOTE_WRITE' });
    await stage.close({ failed: true });
  });
});
