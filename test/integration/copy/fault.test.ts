import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { sleep } from '../../support/process.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree, type TreeManifest } from '../../support/tree.js';
import { messageBaseNames, sshOptionsFor } from './helpers.js';

/**
 * The ssh connection dies in the middle of a copy (every per-connection sshd process is SIGKILLed while rsync is
 * sending): the copy retries with back-off, finishes, and verify finds every message exactly once.
 */
let temp: TempDir;
let sshd: Sshd;
const messages = 400;

beforeAll(async () => {
  temp = await makeTempDir('copy-fault', { mode: 0o755 });
  const manifest: Record<string, TreeManifest[string]> = { 'new': { type: 'dir' }, 'tmp': { type: 'dir' }, '.Sent/cur': { type: 'dir' } };
  for (let i = 0; i < messages; i++) {
    const body = `Subject: message ${i}\n\n${'x'.repeat(8000)}\n`;
    manifest[`cur/${1700000000 + i}.M${i}P1.host,S=${body.length}:2,S`] = { content: body, mtime: 1700000000 + i };
  }
  manifest['dovecot-uidlist'] = `3 V1700000000 N${messages + 1}\n${Array.from({ length: messages }, (_, i) => `${i + 1} :${1700000000 + i}.M${i}P1.host,S=${`Subject: message ${i}\n\n`.length + 8001}`).join('\n')}\n`;
  await writeTree(path.join(temp.path, 'src'), manifest);
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
  await temp?.cleanup();
});

describe('a connection killed mid-copy', () => {
  it('is retried, and the copy completes with every message exactly once', async () => {
    const src = path.join(temp.path, 'src');
    const dst = path.join(temp.path, 'dst');
    const remoteDst = `ssh://root@127.0.0.1:${sshd.port}${dst}`;
    // ~3.3 MB at 600 KiB/s: about 5.5 s of transfer, so the kill lands in the middle.
    const copy = runCli(['--json', 'copy', '--bwlimit', '600', '--retry-delay', '300', '--retries', '4', ...sshOptionsFor(sshd), src, remoteDst]);
    let killed = 0;
    let copyEnded = false;
    void copy.finally(() => { copyEnded = true; });
    // Waits for the first arrivals as long as the copy runs (under load the CLI and ssh can take seconds to start;
    // a fixed 4 s window made the kill miss), then kills once.
    const deadline = Date.now() + 60_000;
    while (killed === 0 && !copyEnded && Date.now() < deadline) {
      await sleep(100);
      const arrived = await readdir(path.join(dst, 'cur')).catch(() => []);
      if (arrived.length >= 20) killed = await sshd.killConnections();
    }
    expect(killed, 'the kill must land while rsync is running').toBeGreaterThan(0);
    const arrivedAtKill = (await readdir(path.join(dst, 'cur'))).filter((n) => !n.startsWith('.')).length;
    expect(arrivedAtKill).toBeLessThan(messages);

    const result = await copy;
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { jobs: { attempts: number; outcome: string }[] };
    expect(report.jobs[0]!.outcome).toBe('ok');
    expect(report.jobs[0]!.attempts).toBeGreaterThanOrEqual(2);
    expect(result.stderr).toMatch(/retry 1/);

    const copied = await messageBaseNames(dst);
    expect(copied).toEqual(await messageBaseNames(src));
    expect(new Set(copied).size).toBe(messages);

    const verify = await runCli(['--json', 'verify', ...sshOptionsFor(sshd), src, remoteDst]);
    expect(verify.code, verify.stdout).toBe(0);
    expect(JSON.parse(verify.stdout).totals).toMatchObject({ sourceMessages: messages, targetMessages: messages, missing: 0, duplicates: 0, foldersWithChangedUids: 0 });
  });
});
