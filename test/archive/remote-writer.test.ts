import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemoteStage } from '../../src/archive/remote-stage.js';
import { isStagingLeftover, parseMessagePath, readRemoteTree, RemoteTreeWriter } from '../../src/archive/remote-writer.js';
import { LocalFileSide } from '../../src/hosts/local.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('remote-writer');
});
afterEach(async () => {
  await tmp.cleanup();
});

const body = (text: string) => Readable.from([Buffer.from(text)]);

describe('parseMessagePath', () => {
  it('finds the folder, cur or new, and the name of a message path, and nothing else', () => {
    expect(parseMessagePath('cur/1.M1.h:2,S')).toEqual({ folderRel: '', sub: 'cur', name: '1.M1.h:2,S' });
    expect(parseMessagePath('example.com/alice/.Sent/new/2.M2.h')).toEqual({ folderRel: 'example.com/alice/.Sent', sub: 'new', name: '2.M2.h' });
    expect(parseMessagePath('tmp/mailshift-restore.ab/1')).toBeUndefined();
    expect(parseMessagePath('dovecot-uidlist')).toBeUndefined();
  });
});

describe('isStagingLeftover', () => {
  it('knows the staging directory of a restore over ssh, in any folder’s tmp/, and nothing else', () => {
    expect(isStagingLeftover('tmp/mailshift-restore.0a1b2c')).toBe(true);
    expect(isStagingLeftover('example.com/alice/tmp/mailshift-restore.0a1b2c')).toBe(true);
    expect(isStagingLeftover('tmp/mailshift-restore.0a1b2c/1')).toBe(false);
    expect(isStagingLeftover('cur/mailshift-restore.0a1b2c')).toBe(false);
    expect(isStagingLeftover('tmp/mailshift-restore.123.4')).toBe(false);
  });
});

describe('RemoteTreeWriter (through a FileSide; run here)', () => {
  async function open(root: string, dryRun = false) {
    const side = new LocalFileSide();
    const stage = dryRun ? undefined : new RemoteStage(side, root, { dirMode: 0o751 });
    await stage?.start();
    return { writer: new RemoteTreeWriter(root, side, stage, await readRemoteTree(side, root)), stage };
  }

  it('does not write a message whose base name the target folder has, whatever its flags', async () => {
    const root = path.join(tmp.path, 'alice');
    await mkdir(path.join(root, 'cur'), { recursive: true });
    await writeFile(path.join(root, 'cur/1.M1.h:2,RS'), 'the target’s');
    const { writer, stage } = await open(root);
    expect(await writer.writeMessage('', 'cur', '1.M1.h:2,S', body('backup'), 1700000000, 6)).toBe('exists');
    expect(await writer.writeMessage('', 'new', '2.M2.h', body('two'), 1700000000, 3)).toBe('written');
    // Written once: the same base name again in the same run is there already.
    expect(await writer.writeMessage('', 'cur', '2.M2.h:2,S', body('two'), 1700000000, 3)).toBe('exists');
    expect(await writer.flush()).toEqual({ taken: [], linksTaken: [], linksNotMade: [] });
    expect((await readdir(path.join(root, 'cur'))).sort()).toEqual(['1.M1.h:2,RS']);
    expect(await readdir(path.join(root, 'new'))).toEqual(['2.M2.h']);
    await stage!.close({ failed: false });
  });

  it('refuses a folder whose directory is a symlink on the target, and writes nothing through it', async () => {
    const root = path.join(tmp.path, 'planted');
    const outside = path.join(tmp.path, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await symlink(outside, path.join(root, '.Sent'));
    const { writer, stage } = await open(root);
    await expect(writer.writeMessage('.Sent', 'cur', '1.M1.h:2,S', body('x'), 1700000000, 1)).rejects.toMatchObject({ code: 'MAILSHIFT_TARGET_NOT_DIR' });
    await writer.flush();
    expect(await readdir(outside)).toEqual([]);
    await stage!.close({ failed: false });
  });

  it('settles control files: the archive’s where the target has none, the target’s own where they agree', async () => {
    const root = path.join(tmp.path, 'control');
    await mkdir(path.join(root, '.Sent'), { recursive: true });
    await writeFile(path.join(root, 'dovecot-keywords'), '0 $Important\n');
    const { writer, stage } = await open(root);
    await writer.stageControlFile('', 'dovecot-keywords', body('0 $Important\n'));
    await writer.stageControlFile('.Sent', 'dovecot-uidlist', body('3 V1 N2\n1 :1.M1.h\n'));
    await writer.flush();
    const settled = await writer.settleControlFiles();
    expect(settled).toEqual([
      { path: '.Sent/dovecot-uidlist', action: 'written', reason: 'the target had none' },
      { path: 'dovecot-keywords', action: 'unchanged', reason: 'identical' },
    ]);
    expect(await readFile(path.join(root, '.Sent/dovecot-uidlist'), 'utf8')).toBe('3 V1 N2\n1 :1.M1.h\n');
    await stage!.close({ failed: false });
    expect(await readdir(path.join(root, 'tmp'))).toEqual([]);
  });

  it('writes nothing in a dry run, and says what it would', async () => {
    const root = path.join(tmp.path, 'dry');
    const { writer } = await open(root, true);
    expect(await writer.writeMessage('', 'cur', '1.M1.h:2,S', body('x'), 1700000000, 1)).toBe('written');
    expect(await writer.writeIfAbsent('.autorespond/a', body('x'), 1700000000)).toBe(true);
    await expect(readdir(root)).rejects.toThrow();
  });
});
