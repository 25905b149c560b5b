import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { runCli } from './cli.js';

/**
 * A campaign row whose source is a cPanel backup: prestage restores it, cutover restores it again (a backup never
 * changes, so nothing is added), and verify is a dry run of the restore that must find nothing to add.
 */
let temp: TempDir;
let plan: string;
let target: string;

beforeAll(async () => {
  temp = await makeTempDir('campaign-backup');
  const source = path.join(temp.path, 'source');
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(source, sub), { recursive: true });
  for (const n of [1, 2, 3]) {
    const message = `From: a@example.com\nTo: alice@example.com\nSubject: m${n}\nMessage-ID: <m${n}@example.com>\nDate: Mon, 7 Dec 2026 10:00:00 +0000\n\nbody ${n}\n`;
    await writeFile(path.join(source, 'cur', `170000000${n}.M${n}P1.host,S=${message.length}:2,S`), message);
  }
  const backup = path.join(temp.path, 'cpmove-bob.tar.gz');
  const exported = await runCli(['export', source, backup, '--mailbox', 'alice@example.com', '--user', 'bob']);
  expect(exported.code, exported.stderr).toBe(0);
  target = path.join(temp.path, 'restored-alice');
  plan = path.join(temp.path, 'plan.csv');
  await writeFile(plan, `id,source,target\nalice,cpmove:${backup}#alice@example.com,${target}\n`);
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('mailshift campaign with a cPanel backup as a row source', () => {
  it('runs all three stages: restores, adds nothing at cutover, and verifies by comparing every message', async () => {
    const result = await runCli(['campaign', plan]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).toMatch(/alice: cutover done: 0 item\(s\)/);
    expect(result.stdout + result.stderr).toMatch(/alice: verify done/);
    expect((await readdir(path.join(target, 'cur'))).length).toBe(3);
  });

  it('fails verify when a message of the backup is missing on the target, and passes again once it is restored', async () => {
    const [gone] = (await readdir(path.join(target, 'cur'))).sort();
    await rm(path.join(target, 'cur', gone!));
    const verify = await runCli(['campaign', plan, '--stage', 'verify', '--force']);
    expect(verify.code).toBe(1);
    expect(verify.stdout + verify.stderr).toMatch(/alice: verify failed: .*differences/);
    // Named, as a verify of live trees names what is missing: in the report, with its folder and base name.
    const report = await readFile(path.join(`${plan.replace(/\.csv$/, '')}.campaign`, 'report', 'report.json'), 'utf8');
    expect(report).toContain(`INBOX ${gone!.split(':')[0]}`);
    expect(report).toContain('missing on the target');
    expect((await runCli(['campaign', plan, '--stage', 'prestage', '--force'])).code).toBe(0);
    const again = await runCli(['campaign', plan, '--stage', 'verify', '--force']);
    expect(again.code, again.stderr).toBe(0);
    expect((await readdir(path.join(target, 'cur'))).length).toBe(3);
  });
});
