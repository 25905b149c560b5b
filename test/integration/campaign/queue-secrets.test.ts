import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../e2e/cli.js';
import { waitFor, waitForExit } from '../../support/process.js';
import { startRedis, type RedisServer } from '../../support/redis.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

/** The queue never carries a password: the jobs name credentials, each worker holds the secrets. */
let temp: TempDir;
let redis: RedisServer;
beforeAll(async () => {
  temp = await makeTempDir('queue-secrets');
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
  await temp?.cleanup();
});

/** Every value Redis holds, as text, whatever the key's type. */
async function dumpRedis(server: RedisServer): Promise<string> {
  const keys = (await server.cli('--scan')).split('\n').filter((key) => key !== '');
  const values: string[] = [];
  for (const key of keys) {
    const type = (await server.cli('type', key)).trim();
    const read: Record<string, string[]> = { string: ['get', key], hash: ['hgetall', key], list: ['lrange', key, '0', '-1'], set: ['smembers', key], zset: ['zrange', key, '0', '-1'], stream: ['xrange', key, '-', '+'] };
    values.push(key, await server.cli(...(read[type] ?? ['type', key])));
  }
  return values.join('\n');
}

describe('mailshift campaign --queue', () => {
  it('puts jobs in Redis that name the credentials and hold none of the secrets', async () => {
    const plan = path.join(temp.path, 'imap.csv');
    writeFileSync(plan, 'id,source,target,source_credential,target_credential\nalice,imaps://alice@old.example,imaps://alice@new.example,alice-old,alice-new\nbob,imaps://bob@old.example,imaps://bob@new.example,bob-old,bob-new\n');
    writeFileSync(`${plan}.credentials.json`, JSON.stringify({ version: 1, credentials: { 'alice-old': 'Secret-A1', 'alice-new': 'Secret-A2', 'bob-old': 'Secret-B1', 'bob-new': 'Secret-B2' } }), { mode: 0o600 });
    // No worker runs: the jobs wait in Redis, where we read them.
    const coordinator = spawnCli(['--json', 'campaign', plan, '--queue', redis.url]);
    let stderr = '';
    coordinator.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    coordinator.stdout!.resume();
    const dump = await waitFor(
      async () => {
        const text = await dumpRedis(redis);
        return text.includes('alice-new') && text.includes('bob-new') ? text : undefined;
      },
      30_000,
      () => `no job in Redis: ${stderr}`,
    );
    expect(dump).toContain('imaps://alice@old.example');
    for (const secret of ['Secret-A1', 'Secret-A2', 'Secret-B1', 'Secret-B2']) expect(dump).not.toContain(secret);

    // Ctrl-C: the jobs no worker took are taken out of the queue; the campaign exits 130, resumable.
    coordinator.kill('SIGINT');
    expect(await waitForExit(coordinator, 20_000)).toBe(true);
    expect(coordinator.exitCode, stderr).toBe(130);
    expect(await redis.cli('--scan', '--pattern', '*prestage-alice')).toBe('');
  });
});
