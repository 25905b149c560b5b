import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, sleep, waitFor } from '../support/process.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { buildSource, deliver, setFlags } from '../integration/resync/scenario.js';
import { runCli, spawnCli } from './cli.js';

/** The built CLI: `mailshift resync` and `mailshift watch` as a user runs them (exit codes, --json, Ctrl-C). */

let temp: TempDir;

beforeAll(async () => {
  temp = await makeTempDir('e2e-resync', { mode: 0o755 });
});
afterAll(async () => {
  await temp?.cleanup();
});

async function copiedPair(name: string): Promise<{ src: string; dst: string }> {
  const src = path.join(temp.path, `${name}-src`);
  const dst = path.join(temp.path, `${name}-dst`);
  await buildSource(src);
  await runCommand('rsync', ['-a', `${src}/`, `${dst}/`]);
  return { src, dst };
}

describe('mailshift resync (built CLI)', () => {
  it('prints a JSON report, exits 0 in sync, and a second run copies nothing', async () => {
    const { src, dst } = await copiedPair('json');
    await deliver(src, '', 'after-copy');
    const [first] = (await readdir(path.join(src, 'cur'))).sort();
    await setFlags(src, `cur/${first}`, 'FRS');
    const run = await runCli(['--json', 'resync', src, dst]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { ok: boolean; command: string; totals: Record<string, number>; exitCode: number };
    expect(report).toMatchObject({ ok: true, command: 'resync', exitCode: 0 });
    expect(report.totals).toMatchObject({ copied: 1, duplicatesSkipped: 0, flagDifferences: 1, flagsApplied: 0, foldersAdded: 0 });
    const again = await runCli(['resync', src, dst]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/: 0 copied, 54 already present, 0 duplicates skipped, 1 flag difference \(target kept\), 0 folders added/);
    expect(again.stdout).toMatch(/In sync\./);
  });

  it('exits 78 with a hint when the target does not exist, and 2 for an mbox', async () => {
    const { src } = await copiedPair('missing');
    const run = await runCli(['--json', 'resync', src, path.join(temp.path, 'nowhere')]);
    expect(run.code).toBe(78);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { code: 'MAILSHIFT_RESYNC_NO_TARGET' } });
    expect(run.stderr).toMatch(/run mailshift copy first/);
    const mbox = await runCli(['resync', `mbox:${src}`, path.join(temp.path, 'x')]);
    expect(mbox.code).toBe(2);
  });
});

describe('mailshift watch (built CLI)', () => {
  it('copies a delivery while running and exits 130 on Ctrl-C with a summary', async () => {
    const { src, dst } = await copiedPair('watch');
    const child = spawnCli(['watch', '--full-every', '0', src, dst]);
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await waitFor(() => (stderr.includes('watching ') ? true : undefined), 20_000, () => `no "watching" line: ${stderr}`);
      await sleep(300);
      const rel = await deliver(src, '', 'seen-by-watch');
      const base = path.basename(rel);
      await waitFor(async () => ((await readdir(path.join(dst, 'new'))).includes(base) ? true : undefined), 5000, () => `not copied: ${stderr}`);
      await sleep(300);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(130);
    expect(stdout).toMatch(/^stopped: \d+ run\(s\), 1 copied/m);
  });
});
