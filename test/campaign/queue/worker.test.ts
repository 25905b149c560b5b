import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StageJobData, StageJobResult } from '../../../src/campaign/queue/jobs.js';
import { buildStageJobProcessor } from '../../../src/campaign/queue/worker.js';
import type { StageExecutor } from '../../../src/campaign/run.js';
import type { PlanRow } from '../../../src/campaign/plan-file.js';
import { MailshiftError } from '../../../src/core/errors.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

/** One job as a worker runs it: the same executor as the in-process campaign, BullMQ's job object faked. */
const row: PlanRow = { id: 'alice', source: '/src/alice', target: '/dst/alice', group: 'old.example', priority: 0, line: 2 };
const done = { status: 'done', items: 3, bytes: 300, exitCode: 0, durationMs: 5, skipped: [], warnings: [] } as const;

function fakeJob(attempt: { started: number; made: number; allowed: number }, timeoutMs = 60_000): { job: Job<StageJobData, StageJobResult>; progress: unknown[] } {
  const progress: unknown[] = [];
  const job = {
    id: 'c1-prestage-alice',
    queueName: 'mailshift-c1-old.example',
    data: { campaignId: 'c1', row, stage: 'prestage', timeoutMs },
    attemptsStarted: attempt.started,
    attemptsMade: attempt.made,
    opts: { attempts: attempt.allowed },
    updateProgress: async (value: unknown) => void progress.push(value),
  };
  return { job: job as unknown as Job<StageJobData, StageJobResult>, progress };
}

let temp: TempDir;
beforeAll(async () => {
  temp = await makeTempDir('queue-worker');
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('buildStageJobProcessor', () => {
  it("returns the stage's outcome as the job's value, says who runs it, and logs the start and end", async () => {
    const activityLog = path.join(temp.path, 'activity.jsonl');
    const executeStage: StageExecutor = async (_row, _stage, _signal, progress) => {
      progress({ bytes: 100, items: 1 });
      return done;
    };
    const { job, progress } = fakeJob({ started: 1, made: 0, allowed: 3 });
    const result = await buildStageJobProcessor({ executeStage, workerName: 'w1', activityLog })(job);
    expect(result).toEqual({ worker: 'w1', attempt: 1, outcome: done });
    expect(progress[0]).toEqual({ worker: 'w1', attempt: 1, bytes: 0, items: 0 });
    const lines = (await readFile(activityLog, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.event, line.group, line.row, line.worker])).toEqual([
      ['start', 'old.example', 'alice', 'w1'],
      ['end', 'old.example', 'alice', 'w1'],
    ]);
  });

  it('throws a temporary failure while tries are left, so that BullMQ retries it after its back-off', async () => {
    const executeStage: StageExecutor = async () => {
      throw Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET' });
    };
    const { job } = fakeJob({ started: 1, made: 0, allowed: 3 });
    await expect(buildStageJobProcessor({ executeStage, workerName: 'w1' })(job)).rejects.toThrow(/ECONNRESET/);
  });

  it('returns the temporary failure on the last try, with its reason, for the report', async () => {
    const executeStage: StageExecutor = async () => {
      throw Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET' });
    };
    const { job } = fakeJob({ started: 3, made: 2, allowed: 3 });
    const result = await buildStageJobProcessor({ executeStage, workerName: 'w1' })(job);
    expect(result.outcome).toMatchObject({ status: 'failed', failureKind: 'temporary', error: expect.stringContaining('ECONNRESET') });
  });

  it('never retries a permanent failure: its outcome is the value at the first try', async () => {
    const executeStage: StageExecutor = async () => {
      throw new MailshiftError('MAILSHIFT_IMAP_AUTH', 'login refused for alice');
    };
    const { job } = fakeJob({ started: 1, made: 0, allowed: 3 });
    const result = await buildStageJobProcessor({ executeStage, workerName: 'w1' })(job);
    expect(result.outcome).toMatchObject({ status: 'failed', failureKind: 'permanent', error: expect.stringContaining('login refused') });
  });

  it('stops a stage at its time limit and returns it as timed-out (resumable), not as a failure to retry', async () => {
    const executeStage: StageExecutor = (_row, _stage, signal) =>
      new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new MailshiftError('MAILSHIFT_INTERRUPTED', 'interrupted', { retry: 'later' })), { once: true }));
    const { job } = fakeJob({ started: 1, made: 0, allowed: 3 }, 50);
    const result = await buildStageJobProcessor({ executeStage, workerName: 'w1' })(job);
    expect(result.outcome).toMatchObject({ status: 'timed-out', error: expect.stringContaining('time limit') });
    expect(result.outcome).not.toHaveProperty('failureKind');
  });

  it('stops a stage whose lock was lost (another worker may run it now) and gives no result for it', async () => {
    const executeStage: StageExecutor = (_row, _stage, signal) =>
      new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new MailshiftError('MAILSHIFT_INTERRUPTED', 'interrupted', { retry: 'later' })), { once: true }));
    const { job } = fakeJob({ started: 1, made: 0, allowed: 3 });
    const lockLost = new AbortController();
    const running = buildStageJobProcessor({ executeStage, workerName: 'w1' })(job, 'token', lockLost.signal);
    lockLost.abort();
    await expect(running).rejects.toThrow(/lost the job/);
  });
});
