import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePlan, type PlanRow } from '../../src/campaign/plan-file.js';
import { runCampaign, type CampaignEvent, type CampaignRunOptions, type StageExecutor } from '../../src/campaign/run.js';
import { openSqliteState } from '../../src/campaign/state/sqlite.js';
import type { CampaignState, Stage, StageOutcome } from '../../src/campaign/state/types.js';
import { MailshiftError } from '../../src/core/errors.js';

// The runner with a fake stage (a unit test: no engine, no server) over the real SQLite state.
let dir: string;
let state: CampaignState;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'campaign-run-'));
  state = openSqliteState(path.join(dir, 'campaign.sqlite'));
});
afterEach(async () => {
  state.close();
  await rm(dir, { recursive: true, force: true });
});

function plan(text: string): PlanRow[] {
  const parsed = parsePlan(`id,source,target,group,size,largest,quota,timeout\n${text}`);
  expect(parsed.errors).toEqual([]);
  return parsed.rows;
}

const done = (fields: Partial<StageOutcome> = {}): StageOutcome => ({ status: 'done', items: 1, bytes: 10, exitCode: 0, durationMs: 1, skipped: [], warnings: [], ...fields });

function options(executeStage: StageExecutor, fields: Partial<CampaignRunOptions> = {}): CampaignRunOptions & { events: CampaignEvent[] } {
  const events: CampaignEvent[] = [];
  return {
    stages: ['prestage'],
    limits: { global: 6, perGroup: 2 },
    largestFirst: false,
    accountTimeoutMs: 60_000,
    retries: 2,
    retryBaseMs: 1,
    force: false,
    executeStage,
    onEvent: (event) => events.push(event),
    signal: new AbortController().signal,
    events,
    ...fields,
  };
}

describe('runCampaign', () => {
  it('runs every stage asked for, for every row, in order per account, and exits 0 when all finished', async () => {
    const calls: string[] = [];
    const rows = plan('a,/s/a,/t/a,g,,,,\nb,/s/b,/t/b,g,,,,\n');
    const result = await runCampaign(rows, state, options(async (row, stage) => (calls.push(`${row.id}:${stage}`), done()), { stages: ['prestage', 'cutover', 'verify'], limits: { global: 1, perGroup: 1 } }));
    expect(result.exitCode).toBe(0);
    expect(calls).toEqual(['a:prestage', 'a:cutover', 'a:verify', 'b:prestage', 'b:cutover', 'b:verify']);
    expect(state.getStage('b', 'verify')).toMatchObject({ status: 'done', attempts: 1, items: 1, bytes: 10 });
  });

  it('never redoes a finished account on the next run, unless forced', async () => {
    const rows = plan('a,/s/a,/t/a,g,,,,\n');
    let calls = 0;
    const stage: StageExecutor = async () => (calls++, done());
    await runCampaign(rows, state, options(stage));
    const again = options(stage);
    await runCampaign(rows, state, again);
    expect(calls).toBe(1);
    expect(again.events.find((e) => e.type === 'campaign-start')).toMatchObject({ toRun: 0, alreadyDone: 1 });
    await runCampaign(rows, state, options(stage, { force: true }));
    expect(calls).toBe(2);
    expect(state.getStage('a', 'prestage')?.attempts).toBe(2);
  });

  it('starts the smallest first and keeps to the per-group limit', async () => {
    const rows = plan('big,/s/1,/t/1,h1,900,,,\nsmall,/s/2,/t/2,h1,1,,,\nmid,/s/3,/t/3,h1,50,,,\nother,/s/4,/t/4,h2,2000,,,\n');
    let running = new Map<string, number>();
    let most = 0;
    const started: string[] = [];
    const stage: StageExecutor = async (row) => {
      started.push(row.id);
      running.set(row.group, (running.get(row.group) ?? 0) + 1);
      most = Math.max(most, running.get('h1') ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running.set(row.group, running.get(row.group)! - 1);
      return done();
    };
    await runCampaign(rows, state, options(stage, { limits: { global: 6, perGroup: 1 } }));
    expect(started.slice(0, 2)).toEqual(['small', 'other']);
    expect(started.indexOf('mid')).toBeLessThan(started.indexOf('big'));
    expect(most).toBe(1);
    running = new Map();
  });

  it('retries a temporary failure with back-off, and a permanent one never', async () => {
    const rows = plan('flaky,/s/a,/t/a,g,,,,\nrefused,/s/b,/t/b,g,,,,\n');
    const tries = new Map<string, number>();
    const stage: StageExecutor = async (row) => {
      tries.set(row.id, (tries.get(row.id) ?? 0) + 1);
      if (row.id === 'refused') throw new MailshiftError('MAILSHIFT_IMAP_AUTH', 'login refused');
      if (tries.get(row.id)! < 3) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      return done();
    };
    const run = options(stage);
    const result = await runCampaign(rows, state, run);
    expect(tries).toEqual(new Map([['flaky', 3], ['refused', 1]]));
    expect(run.events.filter((e) => e.type === 'account-retry').map((e) => (e as { id: string }).id)).toEqual(['flaky', 'flaky']);
    expect(state.getStage('flaky', 'prestage')).toMatchObject({ status: 'done', attempts: 3 });
    expect(state.getStage('refused', 'prestage')).toMatchObject({ status: 'failed', failureKind: 'permanent', lastError: 'MAILSHIFT_IMAP_AUTH: login refused' });
    expect(result.exitCode).toBe(1);
  });

  it('gives up on a temporary failure after the retries, as failed', async () => {
    const rows = plan('down,/s/a,/t/a,g,,,,\n');
    const result = await runCampaign(rows, state, options(async () => { throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }); }, { retries: 1 }));
    expect(state.getStage('down', 'prestage')).toMatchObject({ status: 'failed', failureKind: 'temporary', attempts: 2 });
    expect(result.exitCode).toBe(1);
  });

  it('stops an account at its time limit: timed out, resumable, exit 75; the next run resumes it', async () => {
    const rows = plan('slow,/s/a,/t/a,g,,,,1\nquick,/s/b,/t/b,g,,,,\n');
    const waitForAbort: StageExecutor = (row, _stage, signal) =>
      row.id === 'quick' ? Promise.resolve(done()) : new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    const result = await runCampaign(rows, state, options(waitForAbort));
    expect(state.getStage('slow', 'prestage')).toMatchObject({ status: 'timed-out', lastError: expect.stringMatching(/time limit of 1 s/) });
    expect(result.exitCode).toBe(75);
    const resumed = await runCampaign(rows, state, options(async () => done()));
    expect(resumed.exitCode).toBe(0);
    expect(state.getStage('slow', 'prestage')).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('on Ctrl-C stops the running accounts, leaves them planned, starts no other, and exits 130', async () => {
    const rows = plan('a,/s/a,/t/a,g,,,,\nb,/s/b,/t/b,g,,,,\nc,/s/c,/t/c,g,,,,\n');
    const controller = new AbortController();
    const started: string[] = [];
    const stage: StageExecutor = (row, _stage, signal) => {
      started.push(row.id);
      setTimeout(() => controller.abort(), 10);
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ...done(), status: 'planned', exitCode: 130 })));
    };
    const result = await runCampaign(rows, state, options(stage, { signal: controller.signal, limits: { global: 1, perGroup: 1 } }));
    expect(result).toMatchObject({ exitCode: 130, interrupted: true });
    expect(started).toEqual(['a']);
    expect(state.getStage('a', 'prestage')).toMatchObject({ status: 'planned', lastError: 'stopped by Ctrl-C; the next run resumes it' });
  });

  it('takes back an account a killed campaign left running', async () => {
    const rows = plan('a,/s/a,/t/a,g,,,,\n');
    state.syncAccounts([{ id: 'a', source: '/s/a', target: '/t/a', group: 'g', priority: 0, line: 2 }]);
    state.markRunning('a', 'prestage', new Date().toISOString());
    const run = options(async () => done());
    await runCampaign(rows, state, run);
    expect(run.events[0]).toMatchObject({ type: 'campaign-start', resumed: ['a'] });
    expect(state.getStage('a', 'prestage')).toMatchObject({ status: 'done', attempts: 2 });
  });

  it('refuses a row whose largest mailbox cannot fit the target quota, with its line, and runs the others', async () => {
    const rows = plan('whale,/s/a,/t/a,g,5G,3G,1G,\nfits,/s/b,/t/b,g,5G,900M,1G,\n');
    const ran: string[] = [];
    const run = options(async (row) => (ran.push(row.id), done()));
    const result = await runCampaign(rows, state, run);
    expect(ran).toEqual(['fits']);
    expect(run.events).toContainEqual(expect.objectContaining({ type: 'account-refused', id: 'whale', line: 2 }));
    expect(state.getStage('whale', 'prestage')).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/^refused before it started: its largest mailbox holds 3\.0 GB/) });
    expect(state.listSkipped('whale', 'prestage')).toHaveLength(1);
    expect(result.exitCode).toBe(1);
  });

  it('starts nothing new in a group whose source is above --max-load, and the rest goes on', async () => {
    const rows = plan('busy,/s/a,/t/a,loaded,,,,\nidle,/s/b,/t/b,calm,,,,\n');
    const ran: string[] = [];
    const controller = new AbortController();
    const run = options(
      async (row) => {
        ran.push(row.id);
        setTimeout(() => controller.abort(), 20);
        return done();
      },
      { maxLoad: 0.7, readLoad: async (group: string) => (group === 'loaded' ? 3.5 : 0.1), signal: controller.signal },
    );
    await runCampaign(rows, state, run);
    expect(ran).toEqual(['idle']);
    expect(run.events).toContainEqual({ type: 'waiting-for-load', group: 'loaded', load: 3.5, maxLoad: 0.7 });
  });

  it('exits 3 when an account finished with skipped items, which are kept with their reasons', async () => {
    const rows = plan('a,/s/a,/t/a,g,,,,\n');
    const result = await runCampaign(rows, state, options(async () => done({ status: 'done-with-skips', exitCode: 3, skipped: [{ item: 'INBOX UID 7', reason: 'larger than --max-size' }] })));
    expect(result.exitCode).toBe(3);
    expect(state.listSkipped('a', 'prestage')).toEqual([{ item: 'INBOX UID 7', reason: 'larger than --max-size' }]);
  });

  it('stops an account at the first stage that does not finish', async () => {
    const rows = plan('a,/s/a,/t/a,g,,,,\n');
    const stagesRun: Stage[] = [];
    await runCampaign(rows, state, options(async (_row, stage) => (stagesRun.push(stage), stage === 'cutover' ? done({ status: 'failed', exitCode: 1, error: 'boom', failureKind: 'permanent' }) : done()), { stages: ['prestage', 'cutover', 'verify'] }));
    expect(stagesRun).toEqual(['prestage', 'cutover']);
  });
});

describe('a refused row', () => {
  it('is never counted as attempted, however often the campaign runs', async () => {
    const rows = plan('whale,/s/a,/t/a,g,5G,3G,1G,\n');
    await runCampaign(rows, state, options(async () => done()));
    await runCampaign(rows, state, options(async () => done()));
    expect(state.getStage('whale', 'prestage')).toMatchObject({ status: 'failed', attempts: 0 });
  });
});
