import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readItemsFromOutput } from '../../../src/transport/rsync/output-file.js';
import { runRsync } from '../../../src/transport/rsync/run.js';

/**
 * The runner with a stand-in program (a shell script playing rsync's exit codes and output), so retry and
 * classification are checked without a network. The real rsync is exercised in test/integration/copy.
 */
let dir: string;
let fake: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailshift-fake-rsync-'));
  fake = path.join(dir, 'fake-rsync');
  // Exit codes are taken from a list, one per call, counted in a file; output shaped like rsync's.
  await writeFile(
    fake,
    `#!/bin/sh
n=$(cat "$0.count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$0.count"
code=$(echo "$FAKE_CODES" | cut -d, -f$n)
printf '>f+++++++++ cur/%s.M1:2,S\\n      1,024 100%%    1.00MB/s    0:00:00 (xfr#1, to-chk=0/3)\\r' $n
# A dying rsync prints no --stats (FAKE_STATS_ON_FAILURE=no).
[ "$code" != 0 ] && [ "$FAKE_STATS_ON_FAILURE" = no ] || printf 'Number of regular files transferred: %s\\nTotal transferred file size: 1,024 bytes\\n' $n
[ "$code" = 0 ] || echo "rsync: connection unexpectedly closed ($n)" >&2
exit $code
`,
  );
  await chmod(fake, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(codes: string, retries: number) {
  await rm(`${fake}.count`, { force: true });
  const retriesSeen: number[] = [];
  const items: string[] = [];
  const result = await runRsync({
    argv: [fake],
    retries,
    retryBaseDelayMs: 1,
    env: { FAKE_CODES: codes },
    onRetry: ({ attempt }) => retriesSeen.push(attempt),
    onItem: (item) => items.push(item.path),
  });
  return { result, retriesSeen, items };
}

describe('runRsync', () => {
  it('retries a dropped connection and reports the attempts', async () => {
    const { result, retriesSeen, items } = await run('12,255,0', 3);
    expect(result.exit.outcome).toBe('ok');
    expect(result.attempts).toBe(3);
    expect(retriesSeen).toEqual([1, 2]);
    expect(items).toEqual(['cur/1.M1:2,S', 'cur/2.M1:2,S', 'cur/3.M1:2,S']);
    expect(result.stats).toMatchObject({ regularFilesTransferred: 3, transferredFileSizeBytes: 1024 });
  });

  it('gives up after the allowed retries with the network outcome', async () => {
    const { result } = await run('30,30,30', 2);
    expect(result.exit.outcome).toBe('network');
    expect(result.attempts).toBe(3);
    expect(result.stderrTail).toMatch(/connection unexpectedly closed \(3\)/);
  });

  it('does not retry a partial transfer or vanished files', async () => {
    expect((await run('23,0', 3)).result).toMatchObject({ attempts: 1, exit: { outcome: 'partial' } });
    expect((await run('24,0', 3)).result).toMatchObject({ attempts: 1, exit: { outcome: 'vanished' } });
  });

  it("with an output file, reads the last attempt's --stats from it and the items only when asked", async () => {
    await rm(`${fake}.count`, { force: true });
    const outputFile = path.join(dir, 'output-ok');
    const result = await runRsync({ argv: [fake], retries: 3, retryBaseDelayMs: 1, env: { FAKE_CODES: '12,0' }, outputFile });
    expect(result).toMatchObject({ attempts: 2, exit: { outcome: 'ok' }, stats: { regularFilesTransferred: 2, transferredFileSizeBytes: 1024 } });
    expect(result.items).toBeUndefined();
    const items: string[] = [];
    await readItemsFromOutput(outputFile, (item) => items.push(item.path));
    expect(items).toEqual(['cur/1.M1:2,S', 'cur/2.M1:2,S']);
  });

  it('with an output file, never takes an earlier attempt\'s --stats for the last one, and counts the items when no stats came', async () => {
    await rm(`${fake}.count`, { force: true });
    const outputFile = path.join(dir, 'output-failed');
    const result = await runRsync({ argv: [fake], retries: 1, retryBaseDelayMs: 1, env: { FAKE_CODES: '12,23', FAKE_STATS_ON_FAILURE: 'no' }, outputFile });
    expect(result).toMatchObject({ attempts: 2, exit: { outcome: 'partial' }, stats: {} });
    expect(result.items).toMatchObject({ files: 2 });
  });

  it('with an output file, still gives a progress bar its figures', async () => {
    await rm(`${fake}.count`, { force: true });
    const seen: number[] = [];
    const result = await runRsync({ argv: [fake], env: { FAKE_CODES: '0' }, outputFile: path.join(dir, 'output-progress'), onProgress: (p) => seen.push(p.bytes) });
    expect(result.exit.outcome).toBe('ok');
    expect(seen.at(-1)).toBe(1024);
  });

  it('refuses an output file together with a per-item hook', async () => {
    await expect(runRsync({ argv: [fake], outputFile: path.join(dir, 'x'), onItem: () => undefined })).rejects.toThrow(/outputFile/);
  });

  it('says rsync is missing with a configuration error', async () => {
    await expect(runRsync({ argv: [path.join(dir, 'no-such-rsync')] })).rejects.toMatchObject({ code: 'MAILSHIFT_RSYNC_MISSING', exitCode: 78 });
  });
});
