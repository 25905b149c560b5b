import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteState } from '../../../src/campaign/state/sqlite.js';
import { runCli } from '../../e2e/cli.js';
import { changeFlags, deliverMail, editPlanRows, eventsOf, findRepeated, generateFleet, mailDirOf, makeTargetRoot, parseEvents, readMessageNames, startCampaign, waitForEvents, type Fleet } from '../../support/campaign-fleet.js';
import { waitForExit } from '../../support/process.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { sshOptionsFor } from '../copy/helpers.js';

/**
 * The campaign with its source read over ssh (a real sshd on 127.0.0.1): the plan's rows name the old server as
 * cpanel:ssh://root@127.0.0.1:PORT/ROOT#USER, so the group of every row is that host and --per-group limits what it
 * serves at once. Prestage, new mail and changed flags, cutover, verify: every account complete, each message once.
 */
/** Small: every account costs many ssh commands per stage (discover, checks, rsync, merges), and CPU on both ends. */
const accounts = 4;
/** A run takes 10-30 s here, minutes on a loaded machine. */
const testTimeoutMs = 600_000;

let temp: TempDir;
let sshd: Sshd;
let fleet: Fleet;

beforeAll(async () => {
  temp = await makeTempDir('campaign-ssh', { mode: 0o755 });
  fleet = generateFleet(path.join(temp.path, 'old'), { regular: accounts, seed: 16 });
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
  await temp?.cleanup();
});

describe('mailshift campaign from a cPanel root read over ssh', () => {
  it(`migrates ${accounts} accounts: prestage, cutover after new mail and flag changes, verify; at most --per-group at once from the host`, async () => {
    const targetRoot = path.join(temp.path, 'new');
    await makeTargetRoot(fleet.root, targetRoot);
    const plan = path.join(temp.path, 'plan.csv');
    const planned = await runCli(['plan', '--from-cpanel', fleet.root, '--to', targetRoot, plan]);
    expect(planned.code, planned.stderr).toBe(0);
    // discover reads a root on this machine; the campaign reads the same root as the old server, over ssh. An empty
    // group is the source's host.
    const remoteRoot = `ssh://root@127.0.0.1:${sshd.port}${fleet.root}`;
    await writeFile(plan, editPlanRows(await readFile(plan, 'utf8'), (row) => ({ ...row, source: row['source']!.replace(`cpanel:${fleet.root}#`, `cpanel:${remoteRoot}#`), group: '' })));
    expect((await readFile(plan, 'utf8')).match(/cpanel:ssh:\/\//g)).toHaveLength(accounts);
    const campaign = (stage: string, ...more: string[]) => ['--json', 'campaign', plan, '--stage', stage, '--concurrency', '6', '--per-group', '2', ...sshOptionsFor(sshd), ...more];

    // The old server's load is read over ssh: above --max-load, nothing starts (Ctrl-C ends the wait, exit 130).
    const waiting = startCampaign(campaign('prestage', '--max-load', '0.001'));
    await waitForEvents(waiting.child, waiting.stdout, 'waiting-for-load');
    waiting.child.kill('SIGINT');
    expect(await waitForExit(waiting.child, 30_000)).toBe(true);
    expect(waiting.child.exitCode).toBe(130);
    const waited = parseEvents(waiting.stdout());
    expect(eventsOf(waited, 'waiting-for-load')[0]).toMatchObject({ group: '127.0.0.1', maxLoad: 0.001, load: expect.any(Number) });
    expect(eventsOf(waited, 'account-start')).toEqual([]);

    const prestage = await runCli(campaign('prestage'));
    expect(prestage.code, prestage.stderr).toBe(0);
    const events = parseEvents(prestage.stdout);
    expect(eventsOf(events, 'account-end').map((end) => end.status)).toEqual(Array(accounts).fill('done'));
    expect(maxRunningAtOnce(events)).toBe(2);

    const delivered = new Map<string, string[]>();
    for (const user of ['u00', 'u02']) delivered.set(user, await deliverMail(fleet.root, user, 2, 'ssh'));
    await changeFlags(fleet.root, 'u03', 1, 'FRS');
    const cutover = await runCli(campaign('cutover'));
    expect(cutover.code, cutover.stderr).toBe(0);
    for (const [user, names] of delivered) {
      const copied = eventsOf(parseEvents(cutover.stdout), 'account-end').find((end) => end.id === user)!;
      expect(copied.items, user).toBeGreaterThanOrEqual(names.length);
      expect(await readMessageNames(mailDirOf(targetRoot, user)), user).toEqual(expect.arrayContaining(names));
    }

    const verify = await runCli(campaign('verify'));
    expect(verify.code, verify.stderr).toBe(0);
    expect(eventsOf(parseEvents(verify.stdout), 'campaign-end')[0]).toMatchObject({ exitCode: 0, counts: { done: accounts, failed: 0, planned: 0, 'timed-out': 0 } });

    const state = openSqliteState(path.join(temp.path, 'plan.campaign', 'campaign.sqlite'), { readOnly: true });
    try {
      expect(state.listAccounts().map((account) => account.group)).toEqual(Array(accounts).fill('127.0.0.1'));
      expect(state.listStages().filter((stage) => stage.stage === 'verify').map((stage) => stage.status)).toEqual(Array(accounts).fill('done'));
    } finally {
      state.close();
    }
    for (const user of fleet.regularUsers) {
      const source = await readMessageNames(mailDirOf(fleet.root, user));
      const target = await readMessageNames(mailDirOf(targetRoot, user));
      expect(findRepeated(target), `${user}: on the target twice`).toEqual([]);
      expect(target, user).toEqual(source);
    }
  }, testTimeoutMs);
});

/** The most account stages running at the same moment, from the order of the start and end events. */
function maxRunningAtOnce(events: ReturnType<typeof parseEvents>): number {
  let running = 0;
  let most = 0;
  for (const event of events) {
    if (event.type === 'account-start') most = Math.max(most, ++running);
    if (event.type === 'account-end') running--;
  }
  return most;
}
