import { lstat, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MailshiftError } from '../../../../src/core/errors.js';
import { buildStagingDirName, createDirs, readOwner, readSmallFiles, removeDeadStagingDirs, renameNoClobber, resolveResyncSide, writeSmallFile, type ResyncSide } from '../../../../src/engine/tree/resync/ends.js';
import { parseStoreSpec, type CpanelSpec } from '../../../../src/stores/spec.js';
import { makeTempDir, type TempDir } from '../../../support/tmp.js';

/**
 * resync's ends on this machine: cPanel specs resolve to the trees resync works on, and the file operations speak in
 * paths relative to the tree root while the FileSide does the work (its contract: test/integration/hosts/side.test.ts).
 */

let temp: TempDir | undefined;
afterEach(async () => {
  await temp?.cleanup();
  temp = undefined;
});

function cpanelSpec(text: string): CpanelSpec {
  const spec = parseStoreSpec(text);
  if (spec.kind !== 'cpanel') throw new Error(`not a cPanel spec: ${text}`);
  return spec;
}

async function localSide(): Promise<ResyncSide> {
  temp = await makeTempDir('resync-ends');
  return resolveResyncSide({ kind: 'path', path: temp.path, location: { type: 'local' } }, 'target', {});
}

describe('resolveResyncSide', () => {
  it('takes a whole cPanel account to its ~/mail and one mailbox to ~/mail/DOMAIN/LOCAL, homes from ROOT/etc/passwd', async () => {
    temp = await makeTempDir('resync-ends');
    await mkdir(path.join(temp.path, 'etc'));
    await writeFile(path.join(temp.path, 'etc/passwd'), 'alice:x:1000:1000::/srv/alice:/bin/bash\n');
    await writeFile(path.join(temp.path, 'etc/userdomains'), 'example.com: alice\n');
    const account = await resolveResyncSide(cpanelSpec(`cpanel:${temp.path}#alice`), 'source', {});
    expect(account.root).toBe(path.join(temp.path, 'srv/alice/mail'));
    expect(account.host.ssh).toBeUndefined();
    const mailbox = await resolveResyncSide(cpanelSpec(`cpanel:${temp.path}#info@example.com`), 'target', {});
    expect(mailbox.root).toBe(path.join(temp.path, 'srv/alice/mail/example.com/info'));
  });

  it('says which side names a domain no account owns', async () => {
    temp = await makeTempDir('resync-ends');
    await mkdir(path.join(temp.path, 'etc'));
    await writeFile(path.join(temp.path, 'etc/userdomains'), '');
    const err = await resolveResyncSide(cpanelSpec(`cpanel:${temp.path}#info@nobody.example`), 'target', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailshiftError);
    expect((err as MailshiftError).code).toBe('MAILSHIFT_CPANEL_DOMAIN_UNKNOWN');
    expect((err as MailshiftError).message).toMatch(/^target: no cPanel account owns nobody\.example/);
  });
});

describe('file operations relative to the tree root', () => {
  it('reads control files by relative path, leaving out links and missing ones', async () => {
    const side = await localSide();
    await writeFile(path.join(side.root, 'subscriptions'), 'INBOX\n');
    await symlink('/etc/hostname', path.join(side.root, 'dovecot-keywords'));
    const texts = await readSmallFiles(side, ['subscriptions', 'dovecot-keywords', '.Sent/dovecot-keywords'], {});
    expect([...texts]).toEqual([['subscriptions', 'INBOX\n']]);
  });

  it('writes a control file whole, mode 0600, leaving nothing else beside it', async () => {
    const side = await localSide();
    const owner = await readOwner(side);
    expect(await writeSmallFile(side, 'subscriptions', 'INBOX\nSent\n', owner)).toBe(true);
    expect(await readFile(path.join(side.root, 'subscriptions'), 'utf8')).toBe('INBOX\nSent\n');
    expect((await lstat(path.join(side.root, 'subscriptions'))).mode & 0o777).toBe(0o600);
    expect(await readdir(side.root)).toEqual(['subscriptions']);
  });

  it('creates folders with the root mode (owner bits always rwx) and refuses a link where a folder should be', async () => {
    const side = await localSide();
    const owner = { ...(await readOwner(side)), mode: 0o750 };
    await createDirs(side, ['.Sent', '.Sent/cur'], owner);
    expect((await lstat(path.join(side.root, '.Sent/cur'))).mode & 0o777).toBe(0o750);
    await symlink('/tmp', path.join(side.root, '.Trash'));
    await expect(createDirs(side, ['.Trash', '.Trash/cur'], owner)).rejects.toMatchObject({ code: 'MAILSHIFT_TARGET_NOT_DIR' });
  });

  it('renames by relative path and hands back the caller\'s own pairs that were done, never replacing a file', async () => {
    const side = await localSide();
    await mkdir(path.join(side.root, 'cur'));
    for (const name of ['1:2,', '2:2,', '2:2,S']) await writeFile(path.join(side.root, 'cur', name), name);
    const pairs = [
      { dir: '', from: 'cur/1:2,', to: 'cur/1:2,S' },
      { dir: '', from: 'cur/2:2,', to: 'cur/2:2,S' },
    ];
    expect(await renameNoClobber(side, pairs, {})).toEqual([pairs[0]]);
    expect(await readFile(path.join(side.root, 'cur/2:2,S'), 'utf8')).toBe('2:2,S');
  });
});

describe('removeDeadStagingDirs', () => {
  it("removes the staging folders in tmp/ of runs whose process is gone, and nothing else (a live run's, other names, links)", async () => {
    const side = await localSide();
    const tmp = path.join(side.root, 'tmp');
    const outside = path.join(side.root, 'elsewhere');
    await mkdir(outside);
    await writeFile(path.join(outside, 'keep'), 'x');
    const dead = buildStagingDirName(999_001, 1_700_000_000_000);
    const live = buildStagingDirName(999_002, 1_700_000_000_000);
    for (const dir of [dead, live, '.mailshift-resync-x', 'not-ours']) {
      await mkdir(path.join(tmp, dir, 'cur'), { recursive: true });
      await writeFile(path.join(tmp, dir, 'cur', '1.M1.host:2,S'), 'a message');
    }
    await symlink(outside, path.join(tmp, buildStagingDirName(999_003, 1_700_000_000_000)));
    const removed = await removeDeadStagingDirs(side, (pid) => pid === 999_002);
    expect(removed).toBe(1);
    expect((await readdir(tmp)).sort()).toEqual([buildStagingDirName(999_003, 1_700_000_000_000), '.mailshift-resync-x', live, 'not-ours'].sort());
    expect(await readFile(path.join(outside, 'keep'), 'utf8')).toBe('x');
  });

  it('finds nothing to remove where the target has no tmp/ yet', async () => {
    const side = await localSide();
    expect(await removeDeadStagingDirs(side, () => false)).toBe(0);
  });
});
