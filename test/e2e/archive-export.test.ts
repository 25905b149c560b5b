import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aliceFiles, archivedName, fixtureUser, packCpmove, writeCpmoveTree } from '../support/cpmove.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { writeTree } from '../support/tree.js';
import { runCli } from './cli.js';

const run = promisify(execFile);

let tmp: TempDir;
let sourceRoot: string;

/** A cPanel root as the target server has it before a restore. */
async function makeCpanelRoot(name: string): Promise<string> {
  const root = path.join(tmp.path, name);
  await writeTree(root, {
    'etc/userdomains': `example.com: ${fixtureUser}\n`,
    'etc/passwd': `${fixtureUser}:x:0:0::/home/${fixtureUser}:/bin/bash\n`,
    'etc/group': 'mail:x:12:\n',
    [`home/${fixtureUser}/mail`]: { type: 'dir' },
  });
  return root;
}

const ids = ['--uid', '0', '--gid', '0', '--mail-gid', '12'];

beforeAll(async () => {
  tmp = await makeTempDir('archive-export');
  const tree = await writeCpmoveTree(path.join(tmp.path, 'src'));
  const backup = path.join(tmp.path, 'backup.tar');
  await packCpmove(tree, backup, { format: 'gnu', gzip: false });
  // The source account: a cPanel root restored from the generator's backup.
  sourceRoot = await makeCpanelRoot('source-root');
  const restored = await runCli(['copy', backup, `cpanel:${sourceRoot}#${fixtureUser}`, ...ids]);
  expect(restored.code, restored.stderr).toBe(3);
});

afterAll(async () => {
  await tmp?.cleanup();
});

describe('mailshift export', () => {
  it('writes a cPanel account as a pax tar that a restore turns back into the same mail (verify exits 0)', async () => {
    const archive = path.join(tmp.path, 'cpmove-bob.tar.gz');
    const exported = await runCli(['export', `cpanel:${sourceRoot}#${fixtureUser}`, archive, '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    const doc = JSON.parse(exported.stdout) as { files: number; links: number };
    expect(doc.links).toBe(2);
    const target = await makeCpanelRoot('round-trip');
    const restored = await runCli(['copy', archive, `cpanel:${target}#${fixtureUser}`, ...ids, '--json']);
    expect(restored.code, restored.stderr).toBe(0);
    const verify = await runCli(['verify', `cpanel:${sourceRoot}#${fixtureUser}`, `cpanel:${target}#${fixtureUser}`]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const alice = (root: string) => path.join(root, 'home/bob/mail/example.com/alice');
    for (const rel of Object.keys(aliceFiles)) {
      expect(await readFile(path.join(alice(target), rel), 'utf8')).toBe(await readFile(path.join(alice(sourceRoot), rel), 'utf8'));
      // pax keeps the fraction of a second.
      expect((await stat(path.join(alice(target), rel))).mtimeMs).toBeCloseTo((await stat(path.join(alice(sourceRoot), rel))).mtimeMs, 3);
    }
    expect(await readFile(path.join(target, 'home/bob/etc/example.com/passwd'), 'utf8')).toContain('alice:');
    expect(await readFile(path.join(target, 'etc/valiases/example.com'), 'utf8')).toContain('alice@example.com');
  });

  it('is listed and extracted by GNU tar: long UTF-8 names, hard links as links', async () => {
    const archive = path.join(tmp.path, 'for-gnu-tar.tar');
    expect((await runCli(['export', `cpanel:${sourceRoot}#${fixtureUser}`, archive])).code).toBe(0);
    const listing = (await run('tar', ['-tvf', archive], { maxBuffer: 1 << 24 })).stdout;
    expect(listing).toContain('cpmove-bob/homedir/mail/example.com/alice/.Entw\u00fcrfe/cur/1700000100.M7777');
    expect(listing).toMatch(/^h.* link to cpmove-bob\/homedir\/mail\//m);
    const out = path.join(tmp.path, 'gnu-extract');
    await run('mkdir', ['-p', out]);
    await run('tar', ['-xf', archive, '-C', out]);
    const extracted = path.join(out, 'cpmove-bob/homedir/mail/example.com/alice');
    for (const [rel, file] of Object.entries(aliceFiles)) expect(await readFile(path.join(extracted, rel), 'utf8')).toBe(file.content);
    const a = await stat(path.join(extracted, `cur/${archivedName}`));
    const b = await stat(path.join(extracted, `.Archive/cur/${archivedName}`));
    expect(a.ino).toBe(b.ino);
  });

  it('exports one maildir as a mailbox of the backup, and never writes over an existing file', async () => {
    const archive = path.join(tmp.path, 'alice.tar');
    const maildir = path.join(sourceRoot, 'home/bob/mail/example.com/alice');
    expect((await runCli(['export', maildir, archive, '--mailbox', 'alice@example.com', '--user', 'bob'])).code).toBe(0);
    const listing = (await run('tar', ['-tf', archive])).stdout;
    expect(listing).toContain('cpmove-bob/homedir/mail/example.com/alice/cur/');
    const again = await runCli(['export', maildir, archive, '--mailbox', 'alice@example.com']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('never writes over');
    const noMailbox = await runCli(['export', maildir, path.join(tmp.path, 'x.tar')]);
    expect(noMailbox.code).toBe(2);
    expect(noMailbox.stderr).toContain('--mailbox');
  });
});
