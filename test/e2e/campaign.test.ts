import { existsSync, readFileSync } from 'node:fs';
import { appendFile, lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteState } from '../../src/campaign/state/sqlite.js';
import type { Stage, StageRecord } from '../../src/campaign/state/types.js';
import {
  changeFlags,
  countMboxMessages,
  deliverMail,
  editPlanRows,
  escapingLink,
  eventsOf,
  findRepeated,
  flagsOf,
  generateFleet,
  hostileUser,
  mailDirOf,
  makeTargetRoot,
  mboxUser,
  parseEvents,
  readMessageNames,
  startCampaign,
  targetQuota,
  unsafeFolder,
  waitForEvents,
  whaleUser,
  type CampaignEventLine,
  type Fleet,
} from '../support/campaign-fleet.js';
import { descendantPids, isAlive, signalPid, waitForExit } from '../support/process.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { runCli } from './cli.js';

/**
 * `mailshift campaign` on a generated cPanel server of 50 accounts (47 ordinary ones of skewed sizes, a whale over
 * the target quota, a hostile account, an mbox account converted by a hand-written row), migrated to a second root:
 * prestage, new mail and changed flags on the source, cutover, verify; then the same server again with the campaign
 * killed (SIGKILL) five times across the run. What the campaign says (--json events, its state database) is checked
 * against the mail on disk, counted independently: no message may be on the target twice.
 */
const regularAccounts = 47;
/** Long enough for a loaded 2-core machine; a run takes 20-60 s. */
const runTimeoutMs = 420_000;

let temp: TempDir;
let fleet: Fleet;
const orphans: ProcessIdentity[] = [];

beforeAll(async () => {
  temp = await makeTempDir('campaign', { mode: 0o755 });
  fleet = generateFleet(path.join(temp.path, 'server'), { regular: regularAccounts, seed: 15, whale: true, hostile: true, mbox: true });
});
afterAll(async () => {
  // A SIGKILLed campaign leaves its rsync children to finish alone; none may outlive the test.
  for (const each of orphans) if (isSameProcessAlive(each)) signalPid(each.pid, 'SIGKILL');
  await temp?.cleanup();
});

/** The plan `mailshift plan` writes for the server, plus the hand-written row that converts the mbox account. */
async function writePlan(name: string, targetRoot: string, edit: (row: Record<string, string>) => Record<string, string> = (row) => row): Promise<string> {
  await makeTargetRoot(fleet.root, targetRoot);
  const plan = path.join(temp.path, `${name}.csv`);
  const result = await runCli(['plan', '--from-cpanel', fleet.root, '--to', targetRoot, '--target-quota', targetQuota, plan]);
  // The mbox account is named as not planned (exit 3); the whale is planned and named as too big for the quota.
  expect(result.code, result.stderr).toBe(3);
  expect(result.stderr).toContain(`${mboxUser}: not planned: `);
  expect(result.stderr).toMatch(new RegExp(`${whaleUser}: its largest mailbox holds .* more than the target quota of 500 KB`));
  await writeFile(plan, editPlanRows(await readFile(plan, 'utf8'), edit));
  await appendFile(plan, `${mboxUser},${mailDirOf(fleet.root, mboxUser)},${mailDirOf(targetRoot, mboxUser)},,local,0,,,,,,,\n`);
  return plan;
}

function campaignArgs(plan: string, stage: Stage | 'all'): string[] {
  return ['--json', 'campaign', plan, '--stage', stage, '--concurrency', '4', '--per-group', '4'];
}

function stateFileOf(plan: string): string {
  return path.join(plan.replace(/\.csv$/, '.campaign'), 'campaign.sqlite');
}

/** The campaign's state, read while no campaign runs. */
function readStages(plan: string): StageRecord[] {
  const state = openSqliteState(stateFileOf(plan), { readOnly: true });
  try {
    return state.listStages();
  } finally {
    state.close();
  }
}

function readSkipped(plan: string, id: string, stage: Stage): { item: string; reason: string }[] {
  const state = openSqliteState(stateFileOf(plan), { readOnly: true });
  try {
    return state.listSkipped(id, stage);
  } finally {
    state.close();
  }
}

function stageOf(stages: readonly StageRecord[], id: string, stage: Stage): StageRecord | undefined {
  return stages.find((each) => each.accountId === id && each.stage === stage);
}

/** The mail of every maildir account on the target is the source's, each message once (the whale never copied). */
async function expectEveryMessageOnce(targetRoot: string): Promise<void> {
  for (const user of fleet.maildirUsers) {
    if (user === whaleUser) continue;
    const source = await readMessageNames(mailDirOf(fleet.root, user));
    const target = await readMessageNames(mailDirOf(targetRoot, user));
    expect(findRepeated(source), user).toEqual([]);
    expect(findRepeated(target), `${user}: on the target twice`).toEqual([]);
    // The hostile account's folder named "..hidden" is refused (listed), never copied.
    expect(target, user).toEqual(user === hostileUser ? source.filter((name) => !name.startsWith(`${unsafeFolder}|`)) : source);
  }
  expect(existsSync(path.join(targetRoot, 'home', whaleUser)), 'the whale was never copied').toBe(false);
  const converted = mailDirOf(targetRoot, mboxUser);
  const names = await readMessageNames(converted);
  const inbox = await countMboxMessages(path.join(mailDirOf(fleet.root, mboxUser), 'inbox'));
  const archive = await countMboxMessages(path.join(mailDirOf(fleet.root, mboxUser), 'Archive'));
  expect(findRepeated(names)).toEqual([]);
  expect(names).toHaveLength(inbox + archive);
  expect(names.filter((name) => name.startsWith('|'))).toHaveLength(inbox);
  expect(names.filter((name) => name.startsWith('.Archive|'))).toHaveLength(archive);
}

describe('mailshift campaign on a 50-account cPanel server', () => {
  it(
    'prestages, then cutover brings what arrived and the changed flags, and verify finds every account complete; the whale is refused, never started',
    async () => {
      const targetRoot = path.join(temp.path, 'new-server');
      // Two accounts take the source's flags at cutover (a row option); the others keep the target's (the default).
      const flagsFromSource = new Set(['u01', 'u02']);
      const plan = await writePlan('migration', targetRoot, (row) => (flagsFromSource.has(row['id']!) ? { ...row, options: '--flags source' } : row));
      const logs = path.join(temp.path, 'migration.campaign', 'logs');

      const prestage = await runCli(campaignArgs(plan, 'prestage'));
      expect(prestage.code, prestage.stderr).toBe(1);
      const events = parseEvents(prestage.stdout);
      expect(eventsOf(events, 'campaign-start')[0]).toMatchObject({ stages: ['prestage'], accounts: 50, resumed: [] });
      const refused = eventsOf(events, 'account-refused');
      const whaleLine = (await readFile(plan, 'utf8')).split('\n').findIndex((line) => line.startsWith(`${whaleUser},`)) + 1;
      expect(refused).toEqual([expect.objectContaining({ id: whaleUser, line: whaleLine, reason: expect.stringMatching(/holds 781 KB, more than the target quota of 500 KB/) })]);
      // Smallest first: in one group, accounts start in the order of their planned sizes (the unsized mbox row last).
      const starts = eventsOf(events, 'account-start');
      expect(starts).toHaveLength(49);
      const sizes = starts.map((start) => start.sizeBytes ?? Infinity);
      expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
      expect(starts.at(-1)!.id).toBe(mboxUser);
      const ends = eventsOf(events, 'account-end');
      expect(ends.filter((end) => end.status !== 'done').map((end) => [end.id, end.status])).toEqual([[hostileUser, 'done-with-skips']]);
      expect(eventsOf(events, 'campaign-end')[0]).toMatchObject({ exitCode: 1, interrupted: false, counts: { done: 48, 'done-with-skips': 1, failed: 1 } });
      // The hostile account's refused items are listed with their reasons; the link's target was never copied.
      const hostileSkips = readSkipped(plan, hostileUser, 'prestage');
      expect(hostileSkips).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ item: expect.stringContaining(escapingLink), reason: expect.stringMatching(/symlink .*outside the copied tree; not copied, never followed/) }),
          expect.objectContaining({ item: expect.stringContaining(unsafeFolder), reason: expect.stringMatching(/unsafe as a path/) }),
        ]),
      );
      await expect(lstat(path.join(mailDirOf(targetRoot, hostileUser), 'cur', escapingLink))).rejects.toThrow(/ENOENT/);

      // After the prestage: mail arrives, a mail client changes flags, and the mbox account gets one more message.
      const delivered = new Map<string, string[]>();
      for (const [user, count] of [['u00', 2], ['u03', 1], ['u07', 3], ['u46', 2], [hostileUser, 1]] as const) delivered.set(user, await deliverMail(fleet.root, user, count, 'cutover'));
      const flagged = new Map<string, string[]>();
      for (const user of ['u01', 'u02', 'u04']) flagged.set(user, await changeFlags(fleet.root, user, 1, 'FS'));
      const flagsBefore = new Map<string, string | undefined>();
      for (const [user, [base]] of flagged) flagsBefore.set(user, await flagsOf(mailDirOf(targetRoot, user), base!));
      await appendFile(path.join(mailDirOf(fleet.root, mboxUser), 'inbox'), 'From late@example.net Mon Dec  1 10:00:00 2025\nFrom: late@example.net\nSubject: mbox after the prestage\n\nlate\n\n');

      const cutover = await runCli(campaignArgs(plan, 'cutover'));
      expect(cutover.code, cutover.stderr).toBe(1);
      const cutoverEvents = parseEvents(cutover.stdout);
      expect(eventsOf(cutoverEvents, 'account-start').map((start) => start.id)).not.toContain(whaleUser);
      for (const [user, names] of delivered) {
        const target = await readMessageNames(mailDirOf(targetRoot, user));
        expect(target, user).toEqual(expect.arrayContaining(names));
      }
      for (const [user, [base]] of flagged) {
        // --flags source renames the target's file; by default the target's flags stay (users may have read it there).
        expect(await flagsOf(mailDirOf(targetRoot, user), base!), user).toBe(flagsFromSource.has(user) ? 'FS' : flagsBefore.get(user));
      }

      const verify = await runCli(campaignArgs(plan, 'verify'));
      expect(verify.code, verify.stderr).toBe(1);
      const verifyEvents = parseEvents(verify.stdout);
      expect(eventsOf(verifyEvents, 'campaign-end')[0]).toMatchObject({ exitCode: 1, counts: { done: 48, 'done-with-skips': 1, failed: 1, planned: 0, 'timed-out': 0 } });
      const stages = readStages(plan);
      for (const user of [...fleet.maildirUsers, mboxUser].filter((each) => each !== whaleUser)) {
        expect(stageOf(stages, user, 'verify')?.status, user).toBe(user === hostileUser ? 'done-with-skips' : 'done');
      }
      expect(readSkipped(plan, hostileUser, 'verify')).toEqual([expect.objectContaining({ item: expect.stringContaining(unsafeFolder) })]);
      // The report says the same as the state: the hostile account complete with exceptions, the whale failed.
      const report = JSON.parse(await readFile(path.join(path.dirname(logs), 'report', 'report.json'), 'utf8')) as { accounts: { id: string; verdict: string }[] };
      expect(report.accounts.filter((account) => account.verdict !== 'complete').map((account) => [account.id, account.verdict]).sort()).toEqual([[hostileUser, 'complete-with-exceptions'], [whaleUser, 'incomplete']].sort());
      // The whale: failed with its reason in every stage run, and never started (no event, no log, nothing copied).
      for (const stage of ['prestage', 'cutover', 'verify'] as const) {
        expect(stageOf(stages, whaleUser, stage), stage).toMatchObject({ status: 'failed', failureKind: 'permanent', attempts: 0, lastError: expect.stringMatching(/^refused before it started: .*more than the target quota/) });
      }
      for (const run of [events, cutoverEvents, verifyEvents]) expect(eventsOf(run, 'account-start').filter((start) => start.id === whaleUser)).toEqual([]);
      expect(await readdir(logs)).not.toContain(`${whaleUser}.log`);
      expect(stageOf(stages, mboxUser, 'prestage')).toMatchObject({ status: 'done', route: expect.stringMatching(/^convert/) });

      await expectEveryMessageOnce(targetRoot);
    },
    runTimeoutMs,
  );

  it(
    'killed with SIGKILL at five moments across the run, then run to the end: every account verified, no message twice, no finished stage redone',
    async () => {
      const targetRoot = path.join(temp.path, 'crash-server');
      const plan = await writePlan('crash', targetRoot);
      const stateFile = stateFileOf(plan);
      // Finished stages and their attempts, as the state had them before each run.
      const finishedBefore = (): Map<string, number> => {
        if (!existsSync(stateFile)) return new Map();
        return new Map(readStages(plan).filter((each) => each.status === 'done' || each.status === 'done-with-skips').map((each) => [`${each.accountId}/${each.stage}`, each.attempts]));
      };
      const expectNothingFinishedRestarted = (runEvents: readonly CampaignEventLine[], finished: ReadonlyMap<string, number>): void => {
        const restarted = eventsOf(runEvents, 'account-start').filter((start) => finished.has(`${start.id}/${start.stage}`));
        expect(restarted).toEqual([]);
      };

      for (let kill = 1; kill <= 5; kill++) {
        const finished = finishedBefore();
        // A random moment once the run is under way: after 1-12 account stages ended in this run, then a pause. At
        // most a third of the stages still to run, and a pause of at most 5 ms per stage left after those (1.5 s at
        // most; a stage takes tens of ms here), so that the later runs, with less left to do, are still under way
        // when the kill comes (faster copies twice let the fifth run end first). 49 accounts have three stages each.
        const stillToRun = 49 * 3 - finished.size;
        const endsToWait = 1 + Math.floor(Math.random() * Math.min(12, Math.max(1, Math.floor(stillToRun / 3))));
        const extraMs = Math.floor(Math.random() * Math.max(0, Math.min(1500, 5 * (stillToRun - endsToWait))));
        const { child, stdout } = startCampaign(campaignArgs(plan, 'all'));
        await waitForEvents(child, stdout, 'account-end', endsToWait);
        await new Promise((resolve) => setTimeout(resolve, extraMs));
        // Only the campaign is killed, as kill -9 does: its rsync children live on alone while the next run starts.
        orphans.push(...descendantPids(child.pid!).flatMap((pid) => identify(pid) ?? []));
        child.kill('SIGKILL');
        expect(await waitForExit(child, 10_000)).toBe(true);
        expect(child.signalCode, `kill ${kill} came after the campaign had ended (after ${endsToWait} ends + ${extraMs} ms)`).toBe('SIGKILL');
        expectNothingFinishedRestarted(parseEvents(stdout()), finished);
      }

      const finished = finishedBefore();
      // The kills came while the run was under way: some stages had finished, far from all of them.
      expect(finished.size).toBeGreaterThanOrEqual(5);
      expect(finished.size).toBeLessThan(49 * 3);
      const final = await runCli(campaignArgs(plan, 'all'));
      expect(final.code, final.stderr).toBe(1);
      const events = parseEvents(final.stdout);
      expectNothingFinishedRestarted(events, finished);
      expect(eventsOf(events, 'campaign-start')[0]!.alreadyDone).toBe([...finished.keys()].filter((key) => key.endsWith('/verify')).length);
      expect(eventsOf(events, 'campaign-end')[0]).toMatchObject({ exitCode: 1, interrupted: false, counts: { done: 48, 'done-with-skips': 1, failed: 1, planned: 0, running: 0, 'timed-out': 0 } });
      const stages = readStages(plan);
      for (const [key, attempts] of finished) {
        const [id, stage] = key.split('/') as [string, Stage];
        expect(stageOf(stages, id, stage)?.attempts, `${key} was redone`).toBe(attempts);
      }
      for (const user of [...fleet.maildirUsers, mboxUser].filter((each) => each !== whaleUser)) {
        expect(stageOf(stages, user, 'verify')?.status, user).toBe(user === hostileUser ? 'done-with-skips' : 'done');
      }
      await expectEveryMessageOnce(targetRoot);
      // The killed campaigns' children ended on their own (their parent's pipes closed): none hangs on.
      expect(orphans.filter(isSameProcessAlive)).toEqual([]);
    },
    runTimeoutMs,
  );

  it(
    'refuses a second campaign on the same directory (exit 75, naming the first), and Ctrl-C stops the first with exit 130',
    async () => {
      const plan = path.join(temp.path, 'crash.csv');
      // A forced verify of every account, one at a time: long enough to hold the lock while the second one starts.
      const first = startCampaign(['--json', 'campaign', plan, '--stage', 'verify', '--force', '--concurrency', '1']);
      await waitForEvents(first.child, first.stdout, 'account-start');
      const second = await runCli(['--json', 'campaign', plan, '--stage', 'verify']);
      expect(second.code, second.stderr).toBe(75);
      const error = (JSON.parse(second.stdout) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe('MAILSHIFT_CAMPAIGN_LOCKED');
      expect(error.message).toContain(`pid ${first.child.pid}`);
      expect(second.stderr).toContain(`pid ${first.child.pid}`);

      first.child.kill('SIGINT');
      expect(await waitForExit(first.child, 60_000)).toBe(true);
      expect(first.child.exitCode).toBe(130);
      expect(eventsOf(parseEvents(first.stdout()), 'campaign-end')[0]).toMatchObject({ exitCode: 130, interrupted: true });
      // Stopped at a safe point: nothing left running in the state, and the lock is free again.
      expect(readStages(plan).filter((each) => each.status === 'running')).toEqual([]);
      expect(existsSync(path.join(temp.path, 'crash.campaign', 'campaign.lock'))).toBe(false);
    },
    runTimeoutMs,
  );

  it('refuses a plan with a duplicate id or an unknown column before anything starts (exit 2, with line numbers)', async () => {
    const row = (id: string) => `${id},cpanel:${fleet.root}#${id},cpanel:${path.join(temp.path, 'never')}#${id}`;
    const duplicate = path.join(temp.path, 'duplicate.csv');
    await writeFile(duplicate, ['# two rows with one id', 'id,source,target', row('u00'), row('u01'), row('u00'), ''].join('\n'));
    const twice = await runCli(['campaign', duplicate]);
    expect(twice.code, twice.stderr).toBe(2);
    expect(twice.stderr).toContain('line 5: id "u00" is used twice (first on line 3)');
    expect(existsSync(path.join(temp.path, 'duplicate.campaign'))).toBe(false);

    const unknown = path.join(temp.path, 'unknown.csv');
    await writeFile(unknown, ['id,source,target,colour', `${row('u00')},blue`, ''].join('\n'));
    const column = await runCli(['campaign', unknown]);
    expect(column.code, column.stderr).toBe(2);
    expect(column.stderr).toContain('line 1: unknown column "colour"');
    expect(existsSync(path.join(temp.path, 'unknown.campaign'))).toBe(false);
    expect(existsSync(path.join(temp.path, 'never'))).toBe(false);
  });

  it('stops with exit 78 on a campaign directory whose state is not a database, touching no account', async () => {
    const plan = path.join(temp.path, 'damaged.csv');
    await writeFile(plan, ['id,source,target', `u00,cpanel:${fleet.root}#u00,cpanel:${path.join(temp.path, 'never')}#u00`, ''].join('\n'));
    await mkdir(path.join(temp.path, 'damaged.campaign'));
    await writeFile(path.join(temp.path, 'damaged.campaign', 'campaign.sqlite'), 'not a database\n'.repeat(100));
    const result = await runCli(['--json', 'campaign', plan]);
    expect(result.code, result.stderr).toBe(78);
    expect((JSON.parse(result.stdout) as { error: { code: string } }).error.code).toBe('MAILSHIFT_CAMPAIGN_STATE');
    expect(existsSync(path.join(temp.path, 'never'))).toBe(false);
    expect(existsSync(path.join(temp.path, 'damaged.campaign', 'campaign.lock'))).toBe(false);
  });
});

/** A process by pid and start time (field 22 of /proc/PID/stat), so a pid the system gave to another is never signalled. */
interface ProcessIdentity {
  readonly pid: number;
  readonly startTicks: string;
}

function identify(pid: number): ProcessIdentity | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return { pid, startTicks: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]! };
  } catch {
    return undefined;
  }
}

function isSameProcessAlive(each: ProcessIdentity): boolean {
  return isAlive(each.pid) && identify(each.pid)?.startTicks === each.startTicks;
}
