import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { mountTmpfs } from '../../support/tmpfs.js';
import { writeTree, type TreeManifest } from '../../support/tree.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { generate, makeTargetRoot, sshOptionsFor } from './helpers.js';

/**
 * A 6 MB maildir copied onto a 2 MB tmpfs: rsync dies with "No space left on device" in its receiver and a "Broken
 * pipe" in its sender. The report must name the full disk, count only what is really on the target, and exit 1 (the
 * documented code for a target that cannot be written, as convert does).
 */
let temp: TempDir;
let unmount: (() => Promise<void>) | undefined;
let unmountAccount: (() => Promise<void>) | undefined;
let unmountRemote: (() => Promise<void>) | undefined;
let sshd: Sshd | undefined;
let skipReason: string | undefined;
const messages = 300;

beforeAll(async () => {
  temp = await makeTempDir('copy-disk-full', { mode: 0o755 });
  const manifest: Record<string, TreeManifest[string]> = { 'new': { type: 'dir' }, 'tmp': { type: 'dir' } };
  for (let i = 0; i < messages; i++) {
    const body = `Subject: message ${i}\nMessage-ID: <m${i}@example.com>\n\n${'x'.repeat(20_000)}\n`;
    manifest[`cur/${1700000000 + i}.M${i}P1.host,S=${body.length}:2,S`] = { content: body, mtime: 1700000000 + i };
  }
  await writeTree(path.join(temp.path, 'src'), manifest);
  const mounted = await mountTmpfs(path.join(temp.path, 'small'));
  if (mounted.ok) unmount = mounted.unmount;
  else skipReason = mounted.reason;
  // A whole account (about 650 KB with its account files) into a 120 KB cPanel root.
  const account = await mountTmpfs(path.join(temp.path, 'account-root'), { sizeBytes: 120 * 1024 });
  if (account.ok) unmountAccount = account.unmount;
  const remote = await mountTmpfs(path.join(temp.path, 'small-remote'));
  if (remote.ok) unmountRemote = remote.unmount;
});
afterAll(async () => {
  await sshd?.stop();
  await unmountRemote?.();
  await unmountAccount?.();
  await unmount?.();
  await temp?.cleanup();
});

async function messagesOn(dir: string): Promise<number> {
  const names = await readdir(path.join(dir, 'cur')).catch(() => [] as string[]);
  return names.filter((n) => !n.startsWith('.')).length;
}

describe('a target disk that fills up', () => {
  it('copy names the full disk and counts the files that arrived instead of "Copied 0 files"', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const src = path.join(temp.path, 'src');
    const dst = path.join(temp.path, 'small', 'dst');
    const result = await runCli(['--json', 'copy', src, dst]);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as { ok: boolean; jobs: { outcome: string; meaning: string; files: number; bytes: number; hint?: string }[] };
    const arrived = await messagesOn(dst);
    expect(arrived).toBeGreaterThan(0);
    expect(arrived).toBeLessThan(messages);
    expect(report.ok).toBe(false);
    expect(report.jobs[0]!.files).toBe(arrived);
    expect(report.jobs[0]!.bytes).toBeGreaterThan(0);
    expect(report.jobs[0]!.meaning).toMatch(/target is full.*No space left on device/);
    expect(report.jobs[0]!.hint).toMatch(/full.*free space and run again/);
    expect(result.stderr).not.toMatch(/Broken pipe/);

    const text = await runCli(['copy', src, dst]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^Copied 0 files/);
    expect(text.stdout).toMatch(/hint: the target filesystem is full/);
  });

  it('resync does not count messages that never arrived as copied, and says the disk is full', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const src = path.join(temp.path, 'src');
    const dst = path.join(temp.path, 'small', 'dst');
    const before = await messagesOn(dst);
    expect(before).toBeGreaterThan(0);
    const result = await runCli(['--json', 'resync', src, dst]);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as { totals: { copied: number; notCopied: number; alreadyPresent: number }; rsync: { meaning: string; hint?: string } };
    const after = await messagesOn(dst);
    expect(report.totals.copied).toBe(after - before);
    expect(report.totals.alreadyPresent).toBe(before);
    expect(report.totals.copied + report.totals.notCopied).toBe(messages - before);
    expect(report.rsync.meaning).toMatch(/target is full/);
    expect(report.rsync.hint).toMatch(/free space and run again/);
  });
});

describe('a whole account into a cPanel root that fills up', () => {
  it('copy of an account still reports what arrived, and lists the account files it could not write', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const manifest = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../../fixtures/cpanel/basic.json'), 'utf8')) as unknown;
    const tree = generate(manifest, path.join(temp.path, 'gen'));
    const target = path.join(temp.path, 'account-root');
    await makeTargetRoot(target, [{ user: 'alice', uid: 2001 }]);
    const result = await runCli(['--json', 'copy', `cpanel:${tree.root}#alice`, `cpanel:${target}#alice`, '--uid', '2001', '--gid', '2001', '--mail-gid', '8']);
    expect(result.stderr).not.toMatch(/this is a bug in mailshift/);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as { jobs: { label: string; meaning: string; files: number; hint?: string }[]; merges: { path: string; action: string; reason?: string }[] };
    expect(report.jobs.some((j) => /target is full/.test(j.meaning) && j.hint)).toBe(true);
    const defaultBox = report.jobs.find((j) => j.label === 'alice (default mailbox)')!;
    expect(defaultBox.files).toBeGreaterThan(0);
    expect(report.merges.some((m) => m.action === 'skipped')).toBe(true);
    for (const merge of report.merges) {
      // Account files are written here in-process (hosts/transfer-local.ts): the file system's own words, with the file.
      if (merge.action === 'skipped') expect(merge.reason).toMatch(/^not written: target .*: the filesystem is full$/);
    }
  });
});

describe('a remote target disk that fills up', () => {
  it('copy over ssh names the full disk (not the closed connection), does not retry it, and counts what arrived', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    sshd = await startSshd();
    const dst = path.join(temp.path, 'small-remote', 'dst');
    const result = await runCli(['--json', 'copy', '--retry-delay', '100', ...sshOptionsFor(sshd), path.join(temp.path, 'src'), `ssh://root@127.0.0.1:${sshd.port}${dst}`]);
    expect(result.code, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as { jobs: { meaning: string; files: number; attempts: number; hint?: string }[] };
    expect(report.jobs[0]!.meaning).toMatch(/target is full/);
    expect(report.jobs[0]!.hint).toMatch(/free space and run again/);
    expect(report.jobs[0]!.attempts).toBe(1);
    const arrived = await messagesOn(dst);
    expect(arrived).toBeGreaterThan(0);
    expect(report.jobs[0]!.files).toBe(arrived);
  }, 300_000);
});
