import { execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../../e2e/cli.js';
import { waitFor, waitForExit } from '../../support/process.js';
import { startRedis, type RedisServer } from '../../support/redis.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

/**
 * The campaign on BullMQ and a real Redis: `mailshift campaign PLAN --queue` coordinates, three `mailshift worker`
 * processes run the accounts (cPanel root to cPanel root over the file engine). One worker is killed with kill -9
 * while it runs an account, Redis is restarted once, and the campaign still ends with every account verified, no
 * message twice, and never more accounts of a group at once than --per-group.
 */
const repo = path.resolve(import.meta.dirname, '../../..');
let temp: TempDir;
let redis: RedisServer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  temp = await makeTempDir('queue-campaign');
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await redis?.stop();
  await temp?.cleanup();
});

interface Activity {
  readonly at: number;
  readonly event: 'start' | 'end';
  readonly job: string;
  readonly group: string;
  readonly row: string;
  readonly stage: string;
  readonly worker: string;
}

function readActivity(file: string): Activity[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Activity);
  } catch {
    return [];
  }
}

/** The most jobs of one group that ran at the same time; a job of a killed worker ends when it was killed. */
function maxOverlapByGroup(entries: readonly Activity[], killed: { worker: string; at: number } | undefined): Map<string, number> {
  const points: { at: number; group: string; delta: number }[] = [];
  const open = new Map<string, Activity>();
  for (const entry of [...entries].sort((a, b) => a.at - b.at)) {
    const key = `${entry.worker} ${entry.job}`;
    if (entry.event === 'start') {
      open.set(key, entry);
      points.push({ at: entry.at, group: entry.group, delta: 1 });
    } else if (open.delete(key)) {
      points.push({ at: entry.at, group: entry.group, delta: -1 });
    }
  }
  for (const entry of open.values()) points.push({ at: entry.worker === killed?.worker ? killed.at : Infinity, group: entry.group, delta: -1 });
  // An end and a start at the same millisecond: the end first.
  points.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const running = new Map<string, number>();
  const max = new Map<string, number>();
  for (const point of points) {
    const now = (running.get(point.group) ?? 0) + point.delta;
    running.set(point.group, now);
    max.set(point.group, Math.max(max.get(point.group) ?? 0, now));
  }
  return max;
}

/** Maildir base names (before ':2,') per folder of an account's mail directory. */
function listBaseNames(mailDir: string): Map<string, string[]> {
  const folders = new Map<string, string[]>();
  const walk = (dir: string, folder: string): void => {
    const names: string[] = [];
    for (const sub of ['cur', 'new']) {
      for (const name of readdirSync(path.join(dir, sub))) names.push(name.split(':2,')[0]!);
    }
    folders.set(folder, names);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name.startsWith('.')) walk(path.join(dir, entry.name), entry.name);
    }
  };
  walk(mailDir, 'INBOX');
  return folders;
}

describe('mailshift campaign --queue with mailshift worker', () => {
  it('ends with every account verified and no message twice when a worker is killed with kill -9 and Redis restarts, within the per-group limit', async () => {
    redis = await startRedis({ persistent: true });
    const work = temp.path;
    execFileSync(process.execPath, [path.join(repo, 'scripts/gen-cpanel-tree.mjs'), '--scale', '40x1x3', '--out', path.join(work, 'old')]);
    mkdirSync(path.join(work, 'new/etc'), { recursive: true });
    copyFileSync(path.join(work, 'old/root/etc/passwd'), path.join(work, 'new/etc/passwd'));
    const planFile = path.join(work, 'plan.csv');
    const planned = spawnCli(['plan', planFile, '--from-cpanel', path.join(work, 'old/root'), '--to', path.join(work, 'new')]);
    expect(await waitForExit(planned, 30_000)).toBe(true);
    expect(planned.exitCode).toBe(0);
    // Two groups (two source hosts, as far as the limits go), and a few slow accounts (rsync --bwlimit) so that the
    // kill lands while an account is being copied.
    const lines = readFileSync(planFile, 'utf8').split('\n');
    let dataRow = 0;
    const slow = new Set<string>();
    const edited = lines.map((line) => {
      if (line.startsWith('#') || line.startsWith('id,') || line === '') return line;
      const cells = line.split(',');
      cells[4] = dataRow % 2 === 0 ? 'east' : 'west';
      if (dataRow % 8 === 3) {
        cells[7] = '--bwlimit 2';
        slow.add(cells[0]!);
      }
      dataRow++;
      return cells.join(',');
    });
    expect(dataRow).toBe(40);
    writeFileSync(planFile, edited.join('\n'));

    const workers = new Map<string, ChildProcess>();
    const activityOf = (name: string): string => path.join(work, `${name}.activity.jsonl`);
    for (const name of ['w1', 'w2', 'w3']) {
      // The default lock (10 s, renewed every 2.5 s, stalled jobs looked for every 5 s), as in production.
      const child = spawnCli(['worker', '--queue', redis.url, '--name', name, '--dir', path.join(work, name), '--activity-log', activityOf(name)]);
      child.stderr!.resume();
      child.stdout!.resume();
      children.push(child);
      workers.set(name, child);
    }
    const coordinator = spawnCli(['--json', 'campaign', planFile, '--queue', redis.url, '--concurrency', '5', '--per-group', '2', '--retry-delay', '500']);
    children.push(coordinator);
    let events = '';
    let stderr = '';
    coordinator.stdout!.on('data', (chunk: Buffer) => (events += chunk.toString()));
    coordinator.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const allActivity = (): Activity[] => ['w1', 'w2', 'w3'].flatMap((name) => readActivity(activityOf(name)));

    // kill -9 the worker that has started copying a slow account.
    const victim = await waitFor(() => allActivity().find((entry) => entry.event === 'start' && entry.stage === 'prestage' && slow.has(entry.row)), 90_000, () => `no slow account started; coordinator said: ${stderr}`);
    workers.get(victim.worker)!.kill('SIGKILL');
    const killed = { worker: victim.worker, at: Date.now() };
    expect(await waitForExit(workers.get(victim.worker)!, 5000)).toBe(true);
    // Another worker takes its job within seconds: once its lock has run out (10 s) at the next stalled check (5 s).
    const takenOver = await waitFor(
      () => allActivity().find((entry) => entry.event === 'start' && entry.job === victim.job && entry.worker !== victim.worker),
      30_000,
      () => `nobody took over ${victim.job} from ${victim.worker}`,
    );
    expect(takenOver.at - killed.at).toBeLessThan(20_000);

    // Redis restarted once, mid-run (with its append-only file, as production runs it), down for less than half a
    // lock: longer, and a running job may look abandoned and run a second time at once (safe, but it would count
    // against the group's limit below).
    await waitFor(() => (events.match(/"type":"account-end","id":"[^"]+","stage":"verify"/g)?.length ?? 0) >= 10 || undefined, 120_000, () => `not 10 accounts verified yet: ${stderr}`);
    await redis.restart(500);

    expect(await waitForExit(coordinator, 240_000), `coordinator still running: ${stderr}`).toBe(true);
    expect(coordinator.exitCode, stderr).toBe(0);
    const end = events
      .split('\n')
      .filter((line) => line.includes('"campaign-end"'))
      .map((line) => JSON.parse(line) as { counts: Record<string, number> })[0];
    expect(end?.counts).toMatchObject({ done: 40, failed: 0, planned: 0, 'timed-out': 0 });
    // Which worker ran what is in the events, and the survivors did the work.
    expect(events).toMatch(/"type":"account-start"[^\n]*"worker":"w[123]"/);

    // The state (not Redis) holds every outcome: every account's verify is done.
    const db = new Database(path.join(work, 'plan.campaign/campaign.sqlite'), { readonly: true });
    try {
      const verify = db.prepare("SELECT account_id, status FROM stages WHERE stage = 'verify'").all() as { account_id: string; status: string }[];
      expect(verify).toHaveLength(40);
      expect(verify.filter((row) => row.status !== 'done')).toEqual([]);
    } finally {
      db.close();
    }

    // Every message exactly once, folder by folder, as many as the source has.
    for (const user of readdirSync(path.join(work, 'old/root/home'))) {
      const source = listBaseNames(path.join(work, 'old/root/home', user, 'mail'));
      const target = listBaseNames(path.join(work, 'new/home', user, 'mail'));
      for (const [folder, names] of source) {
        const copied = target.get(folder) ?? [];
        expect(new Set(copied).size, `${user} ${folder}: a message twice`).toBe(copied.length);
        expect([...copied].sort(), `${user} ${folder}`).toEqual([...names].sort());
      }
    }

    // The per-group limit held across all workers, and was reached (so it is what held the fleet back).
    const overlap = maxOverlapByGroup(allActivity(), killed);
    expect(Object.fromEntries(overlap), JSON.stringify(allActivity().sort((a, b) => a.at - b.at))).toEqual({ east: 2, west: 2 });

    for (const [name, child] of workers) if (name !== victim.worker) child.kill('SIGINT');
    for (const [name, child] of workers) if (name !== victim.worker) expect(await waitForExit(child, 30_000)).toBe(true);
  }, 400_000);
});
