import { type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../e2e/cli.js';
import { startImapServer, type DovecotMessage, type ImapServer } from '../../support/dovecot.js';
import { waitFor, waitForExit } from '../../support/process.js';
import { startRedis, type RedisServer } from '../../support/redis.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';
import { buildSeedManifest } from '../imap/fixture.js';

/**
 * IMAP to IMAP on the queue, against a real Dovecot: three workers that hold the passwords in their environment
 * (none in Redis), one killed with kill -9 as it starts an account; every account ends verified and every
 * message is on the target exactly once (the seed's two identical messages stay two, the one without a
 * Message-ID is not doubled).
 */
const accounts = 8;
let temp: TempDir;
let redis: RedisServer;
let server: ImapServer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  temp = await makeTempDir('queue-imap');
  redis = await startRedis();
  const users = Array.from({ length: accounts }, (_, i) => [`src${i}`, `dst${i}`]).flat();
  server = await startImapServer({ users });
  for (let i = 0; i < accounts; i++) {
    const source = server.users.find((user) => user.user === `src${i}`)!;
    await writeTree(source.maildir, buildSeedManifest());
    await server.fixOwnership(`src${i}`);
  }
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await server?.stop();
  await redis?.stop();
  await temp?.cleanup();
});

/** What a mailbox holds, comparable across servers: mailbox, Message-ID and size of each message, sorted. */
function summarize(messages: readonly DovecotMessage[]): string[] {
  return messages.map((message) => `${message.mailbox} ${message.messageId} ${message.sizeBytes}`).sort();
}

describe('mailshift campaign --queue, IMAP to IMAP', () => {
  it('copies every message exactly once when a worker is killed with kill -9 while it runs an account', async () => {
    const plan = path.join(temp.path, 'imap.csv');
    const rows = Array.from({ length: accounts }, (_, i) => `a${i},imap://src${i}@127.0.0.1:${server.port},imap://dst${i}@127.0.0.1:${server.port},src${i},dst${i}`);
    writeFileSync(plan, `id,source,target,source_credential,target_credential\n${rows.join('\n')}\n`);
    const secrets: Record<string, string> = {};
    for (const user of server.users) secrets[user.user] = user.password;
    // The coordinator's preflight checks the names against a credentials file; the workers get the secrets from their environment.
    writeFileSync(`${plan}.credentials.json`, JSON.stringify({ version: 1, credentials: secrets }), { mode: 0o600 });
    const workerEnv = Object.fromEntries(Object.entries(secrets).map(([name, secret]) => [`MAILSHIFT_CREDENTIAL_${name}`, secret]));

    const workers = new Map<string, ChildProcess>();
    const activityOf = (name: string): string => path.join(temp.path, `${name}.activity.jsonl`);
    for (const name of ['w1', 'w2', 'w3']) {
      const child = spawnCli(['worker', '--queue', redis.url, '--name', name, '--dir', path.join(temp.path, name), '--lock-duration', '4000', '--activity-log', activityOf(name)], workerEnv);
      child.stdout!.resume();
      child.stderr!.resume();
      children.push(child);
      workers.set(name, child);
    }
    const coordinator = spawnCli(['--json', 'campaign', plan, '--queue', redis.url, '--concurrency', '4', '--per-group', '4']);
    children.push(coordinator);
    let events = '';
    let stderr = '';
    coordinator.stdout!.on('data', (chunk: Buffer) => (events += chunk.toString()));
    coordinator.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

    const starts = (): { job: string; worker: string; stage: string }[] =>
      ['w1', 'w2', 'w3'].flatMap((name) => {
        try {
          return readFileSync(activityOf(name), 'utf8')
            .split('\n')
            .filter((line) => line.includes('"event":"start"'))
            .map((line) => JSON.parse(line) as { job: string; worker: string; stage: string });
        } catch {
          return [];
        }
      });
    const victim = await waitFor(() => starts().find((entry) => entry.stage === 'prestage'), 60_000, () => `no account started: ${stderr}`);
    workers.get(victim.worker)!.kill('SIGKILL');
    await waitFor(() => starts().find((entry) => entry.job === victim.job && entry.worker !== victim.worker), 30_000, () => `nobody took over ${victim.job}`);

    expect(await waitForExit(coordinator, 180_000), `coordinator still running: ${stderr}`).toBe(true);
    expect(coordinator.exitCode, stderr).toBe(0);
    const end = events.split('\n').find((line) => line.includes('"campaign-end"'));
    expect(JSON.parse(end!)).toMatchObject({ counts: { done: accounts, failed: 0 } });

    for (let i = 0; i < accounts; i++) {
      const source = summarize(await server.mail(`src${i}`).readMessages());
      const target = summarize(await server.mail(`dst${i}`).readMessages());
      expect(target, `dst${i}`).toEqual(source);
    }
    for (const [name, child] of workers) if (name !== victim.worker) child.kill('SIGINT');
    for (const [name, child] of workers) if (name !== victim.worker) expect(await waitForExit(child, 30_000)).toBe(true);
  }, 300_000);
});
