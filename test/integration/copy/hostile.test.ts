import { existsSync } from 'node:fs';
import { link, lstat, readFile, rm, symlink, truncate, writeFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { generate, makeTargetRoot, messageBaseNames, ownerOf, sshOptionsFor, symlinksLeavingTree, type GeneratedTree } from './helpers.js';

/**
 * fixtures/cpanel/hostile.json (links out of the tree, a FIFO, an 8 GiB sparse file, mode-000 files, names with
 * newlines and shell syntax, a passwd line with "..") plus folders named after commands that would create a canary
 * file if any shell ever evaluated them. Copy, verify and chown must neither break nor touch anything outside.
 */
const hostile = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../../fixtures/cpanel/hostile.json'), 'utf8')) as { raw: unknown[] };
const canaryName = `mailshift-canary-${randomBytes(6).toString('hex')}`;
let temp: TempDir;
let sshd: Sshd;

function manifestWithCanaries(canaryPath: string): unknown {
  const message = (dir: string) => ({ path: `home/mallory/mail/${dir}/cur/1717000100.M1P1.host,S=5:2,S`, content: 'hello' });
  return {
    ...hostile,
    raw: [
      ...hostile.raw,
      message(`.$(touch ${canaryPath})`),
      message(`.$(touch\${IFS}${canaryName})`),
      message('.`touch ${HOME}/' + canaryName + '`'),
      message('.a b [c] * ?'),
    ],
  };
}

function expectNoCanary(canaryPath: string): void {
  expect(existsSync(canaryPath), canaryPath).toBe(false);
  for (const dir of [os.homedir(), '/root', process.cwd(), '/']) {
    expect(existsSync(path.join(dir, canaryName)), dir).toBe(false);
    expect(existsSync(path.join(dir, 'pwned')), `${dir}/pwned`).toBe(false);
  }
}

async function snapshotOutside(tree: GeneratedTree): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const s = await lstat(p);
      out.push(`${path.relative(tree.outside, p)} ${s.uid}:${s.gid} ${s.mode.toString(8)} ${s.mtimeMs} ${e.isFile() ? (await readFile(p)).toString('base64') : ''}`);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(tree.outside);
  return out.sort();
}

beforeAll(async () => {
  temp = await makeTempDir('copy-hostile', { mode: 0o755 });
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
  await temp?.cleanup();
});

async function copyAndCheck(name: string, remote: boolean): Promise<void> {
  const canaryPath = path.join(temp.path, `${name}-canary`);
  const tree = generate(manifestWithCanaries(canaryPath), path.join(temp.path, name));
  // The fixture's 8 GiB sparse message costs rsync a full read and checksum (about 45 s here) and would cross ssh
  // as 8 GiB of zeros: the local run shrinks it to 256 MiB of holes (still sparse), the ssh run drops it.
  const sparseFile = path.join(tree.root, 'home/mallory/mail/cur/1717000003.M3P1.mail.example.com:2,S');
  if (remote) await rm(sparseFile);
  else await truncate(sparseFile, 256 * 1024 * 1024);
  const before = await snapshotOutside(tree);
  const target = path.join(temp.path, `${name}-target`);
  await makeTargetRoot(target, [{ user: 'mallory', uid: 4001 }]);
  const targetSpec = remote ? `cpanel:ssh://root@127.0.0.1:${sshd.port}${target}#mallory` : `cpanel:${target}#mallory`;
  const ssh = remote ? sshOptionsFor(sshd) : [];

  const result = await runCli(['--json', 'copy', ...ssh, `cpanel:${tree.root}#mallory`, targetSpec]);
  // What discover reports as unsafe is left behind and listed: a partial copy (test/integration/copy/unsafe.test.ts).
  expect(result.code, result.stderr).toBe(3);
  const report = JSON.parse(result.stdout) as { jobs: { outcome: string }[]; merges: { path: string; action: string }[]; chown: { failed: unknown[] }; skipped: { path: string }[] };
  expect(report.jobs.every((j) => j.outcome === 'ok')).toBe(true);
  expect(report.chown.failed).toEqual([]);
  // A routing table that is a link out of the tree is not read and not written.
  expect(report.merges.find((m) => m.path === 'etc/vfilters/mallory.example')!.action).toBe('skipped');

  const mail = path.join(target, 'home/mallory/mail');
  expect(await symlinksLeavingTree(target)).toEqual([]);
  expect(existsSync(path.join(mail, '.Leak'))).toBe(false);
  expect(existsSync(path.join(mail, 'mallory.example/stolen'))).toBe(false);
  expect(existsSync(path.join(mail, 'mallory.example/thief/new/fifo-message'))).toBe(false);
  expect(await readFile(path.join(mail, '.$(touch${IFS}' + canaryName + ')/cur/1717000100.M1P1.host,S=5:2,S'), 'utf8')).toBe('hello');
  expect(await readFile(path.join(mail, '.a b [c] * ?/cur/1717000100.M1P1.host,S=5:2,S'), 'utf8')).toBe('hello');
  // "$(touch /tmp/...)" as a folder name is the folder ".$(touch " with "tmp/..." below it: by maildir rules that is
  // the folder's tmp/ (deliveries in progress), which is not copied. Everything else is.
  const inFolderTmp = (entry: string) => /^(\.[^/|]*\/)?tmp\//.test(entry);
  const sourceMessages = await messageBaseNames(path.join(tree.root, 'home/mallory/mail'));
  expect(sourceMessages.filter(inFolderTmp)).toHaveLength(1);
  // Refused as unsafe: the message whose name holds a newline and (locally) the sparse one.
  const refused = new Set(report.skipped.map((s) => `|${path.basename(s.path).split(':')[0]}`));
  const isRefused = (entry: string) => entry.startsWith('|') && refused.has(entry);
  expect(sourceMessages.filter(isRefused)).toHaveLength(remote ? 1 : 2);
  expect(await messageBaseNames(mail)).toEqual(sourceMessages.filter((entry) => !inFolderTmp(entry) && !isRefused(entry)));
  expect(existsSync(path.join(mail, 'cur/1717000003.M3P1.mail.example.com:2,S'))).toBe(false);
  expect(await ownerOf(path.join(mail, '.Private/cur/1717000005.M5P1.mail.example.com,S=7:2,S'))).toBe('4001:4001 0640');
  expect(await snapshotOutside(tree)).toEqual(before);
  expectNoCanary(canaryPath);

  const verify = await runCli(['--json', 'verify', ...ssh, `cpanel:${tree.root}#mallory`, targetSpec]);
  // verify tells the truth about what copy refused: those messages are missing on the target (4, which wins over
  // the 3 of "..hidden", never read and so never compared, but listed).
  expect(verify.code, verify.stdout + verify.stderr).toBe(4);
  const v = JSON.parse(verify.stdout) as { totals: Record<string, number>; skippedFolders: { directory: string }[] };
  expect(v.totals.missing).toBe(remote ? 1 : 2);
  expect(v.totals.duplicates).toBe(0);
  expect(v.skippedFolders.map((s) => s.directory)).toEqual(expect.arrayContaining(['..hidden']));
  expectNoCanary(canaryPath);

  // Links planted in the TARGET: chown changes the link itself, never what it points to, and leaves a file
  // hard-linked from outside alone.
  const outsideFile = path.join(temp.path, `${name}-outside-shadow`);
  await writeFile(outsideFile, 'root:secret:::\n', { mode: 0o600 });
  await symlink(outsideFile, path.join(mail, '.Shadow'));
  await link(outsideFile, path.join(mail, 'cur', 'hardlinked-from-outside'));
  const chown = await runCli(['--json', 'chown', ...ssh, targetSpec]);
  expect(chown.code, chown.stderr).toBe(0);
  const c = JSON.parse(chown.stdout) as { skipped: { path: string; reason: string }[] };
  expect(c.skipped.some((s) => s.path.endsWith('cur/hardlinked-from-outside') && /hard-linked/.test(s.reason))).toBe(true);
  expect(await ownerOf(outsideFile)).toBe('0:0 0600');
  expect((await lstat(path.join(mail, '.Shadow'))).uid).toBe(4001);
}

describe('hostile trees', () => {
  it('a local copy, verify and chown stay inside the tree and run no names', async () => {
    await copyAndCheck('local', false);
  });

  it('the same over ssh', async () => {
    await copyAndCheck('remote', true);
  });
});
