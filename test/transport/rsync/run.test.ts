import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
printf '>f+++++++++ cur/1.M1:2,S\\n      1,024 100%%    1.00MB/s    0:00:00 (xfr#1, to-chk=0/3)\\rNumber of regular files transferred: 1\\nTotal transferred file size: 1,024 bytes\\n'
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
    expect(items).toEqual(['cur/1.M1:2,S', 'cur/1.M1:2,S', 'cur/1.M1:2,S']);
    expect(result.stats).toMatchObject({ regularFilesTransferred: 1, transferredFileSizeBytes: 1024 });
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

  it('says rsync is missing with a configuration error', async () => {
    await expect(runRsync({ argv: [path.join(dir, 'no-such-rsync')] })).rejects.toMatchObject({ code: 'MAILSHIFT_RSYNC_MISSING', exitCode: 78 });
  });
});
