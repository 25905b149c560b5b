import { appendFileSync } from 'node:fs';
import { Worker, type Job, type RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { ExitCode } from '../../core/exit-codes.js';
import { classifyFailure } from '../classify.js';
import { throttleProgress, type StageExecutor } from '../run.js';
import { isFinished, type StageOutcome } from '../state/types.js';
import { queueRegistryKey, type StageJobData, type StageJobProgress, type StageJobResult } from './jobs.js';

/**
 * `mailshift worker`: runs the campaign jobs of every queue a coordinator lists in Redis, through the same stage
 * executor as the single-machine campaign (account-stage.ts). Any number of workers on any number of hosts; BullMQ
 * hands each job to one of them, renews its lock while it runs, and gives the job of a worker that died (kill -9, a
 * host gone) to another one once the lock has run out (lockDuration, checked every stalledInterval).
 */
export interface QueueWorkerOptions {
  readonly connection: RedisOptions;
  readonly executeStage: StageExecutor;
  /** Shown by the coordinator next to the account this worker runs. */
  readonly workerName: string;
  /** Jobs at once per queue (one queue per group of a campaign). */
  readonly concurrency: number;
  /**
   * How long a job's lock lasts without renewal (renewed every half of it): the longest a dead worker's job waits
   * before another worker takes it, and longer than any stretch the event loop may be blocked.
   */
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  /** How often the list of queues is read again. */
  readonly discoverIntervalMs?: number;
  /** One JSON line per job start and end (time, job, group, worker): an audit trail of who ran what when. */
  readonly activityLog?: string;
  readonly onLog: (line: string) => void;
  readonly signal: AbortSignal;
}

/** A queue no longer listed is closed only after this long: after a Redis restart the list is empty until the coordinator writes it again. */
const unlistedGraceMs = 30_000;

/** Serves queues until the signal; then lets the jobs it holds finish (a second Ctrl-C kills it; its jobs go to other workers). */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<void> {
  const registry = new Redis(options.connection);
  let registryDown = false;
  registry.on('error', (err: Error) => {
    if (!registryDown) options.onLog(`Redis: ${err.message}; reconnecting`);
    registryDown = true;
  });
  registry.on('ready', () => {
    if (registryDown) options.onLog('Redis: connected again');
    registryDown = false;
  });
  const workers = new Map<string, { worker: Worker; unlistedSince?: number }>();
  const processor = buildStageJobProcessor(options);

  const discover = async (): Promise<void> => {
    const names = new Set(await registry.smembers(queueRegistryKey));
    for (const name of names) {
      const known = workers.get(name);
      if (known) {
        delete known.unlistedSince;
        continue;
      }
      const worker = new Worker<StageJobData, StageJobResult>(name, processor, {
        connection: options.connection,
        concurrency: options.concurrency,
        lockDuration: options.lockDurationMs,
        // Renewed every quarter of its duration, not BullMQ's half. A lock renewed just before Redis goes away lives
        // for the lock's duration; the first renewal after Redis is back comes up to one interval later. With half,
        // even a short restart could let the lock run out and another worker start a job this one still runs; with a
        // quarter, any outage shorter than half the lock (5 s by default) passes unnoticed.
        lockRenewTime: Math.floor(options.lockDurationMs / 4),
        stalledInterval: options.stalledIntervalMs,
        // A Redis restart can make a running job look stalled once; twice more and it is failed (and reported).
        maxStalledCount: 2,
        name: options.workerName,
      });
      worker.on('error', (err) => options.onLog(`queue ${name}: ${err.message}`));
      // A job whose lock could not be renewed (Redis was out of reach longer than the lock lasts) may already run on
      // another worker: this copy stops at its next safe point instead of running the account twice at once.
      worker.on('lockRenewalFailed', (jobIds) => {
        for (const jobId of jobIds) {
          if (worker.cancelJob(jobId, 'lock lost')) options.onLog(`job ${jobId}: its lock was lost (Redis out of reach for too long); stopped here, another worker takes it`);
        }
      });
      workers.set(name, { worker });
      options.onLog(`serving queue ${name}`);
    }
    for (const [name, known] of workers) {
      if (names.has(name)) continue;
      known.unlistedSince ??= Date.now();
      if (Date.now() - known.unlistedSince < unlistedGraceMs) continue;
      workers.delete(name);
      await known.worker.close();
      options.onLog(`queue ${name} is no longer listed: closed`);
    }
  };

  const stopped = new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve();
    else options.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  while (!options.signal.aborted) {
    await discover().catch((err: Error) => options.onLog(`reading the queue list: ${err.message}`));
    await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, options.discoverIntervalMs ?? 2000).unref())]);
  }
  options.onLog(`stopping: the jobs running here finish first (Ctrl-C again stops at once; other workers then take them over)`);
  await Promise.all([...workers.values()].map((each) => each.worker.close()));
  registry.disconnect();
}

/**
 * One job: the stage through the executor, under the stage's time limit. The stage's outcome is the job's value, so
 * the coordinator records exactly what the in-process campaign would (folders, skipped items, the error). Only a
 * temporary failure with tries left is thrown, for BullMQ to retry after its exponential back-off; a permanent
 * failure or a timeout is returned as an outcome and never retried (UnrecoverableError would fail the job too, but
 * would lose the outcome's details, which the report needs).
 */
export function buildStageJobProcessor(options: Pick<QueueWorkerOptions, 'executeStage' | 'workerName' | 'activityLog'>): (job: Job<StageJobData, StageJobResult>, token?: string, cancel?: AbortSignal) => Promise<StageJobResult> {
  return async (job, _token, cancel) => {
    const { row, stage, timeoutMs } = job.data;
    const attempt = Math.max(job.attemptsStarted, job.attemptsMade + 1);
    const report = (progress: Omit<StageJobProgress, 'worker' | 'attempt'>): void => {
      const value: StageJobProgress = { worker: options.workerName, attempt, ...progress };
      // Progress is for the display: a lost update (Redis restarting) must not fail the account.
      job.updateProgress(value).catch(() => undefined);
    };
    writeActivity(options.activityLog, { event: 'start', job: job.id ?? '', queue: job.queueName, group: row.group, row: row.id, stage, worker: options.workerName, attempt });
    report({ bytes: 0, items: 0 });
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    timer.unref?.();
    const signal = cancel ? AbortSignal.any([cancel, timeout.signal]) : timeout.signal;
    const startedAt = Date.now();
    let outcome: StageOutcome;
    try {
      outcome = await options.executeStage(row, stage, signal, throttleProgress(report));
    } catch (err) {
      const failure = classifyFailure(err);
      outcome = { status: 'failed', items: 0, bytes: 0, exitCode: ExitCode.failed, durationMs: Date.now() - startedAt, skipped: [], warnings: [], error: failure.message, failureKind: failure.kind };
    } finally {
      clearTimeout(timer);
    }
    if (signal.aborted && !isFinished(outcome.status)) {
      if (!timeout.signal.aborted) {
        // Cancelled because the job is no longer ours (its lock was lost): whoever holds it now reports it.
        writeActivity(options.activityLog, { event: 'end', job: job.id ?? '', queue: job.queueName, group: row.group, row: row.id, stage, worker: options.workerName, attempt, status: 'lock-lost' });
        throw new Error('this worker lost the job (its lock could not be renewed); another worker runs it');
      }
      const { failureKind: _dropped, ...rest } = outcome;
      outcome = { ...rest, status: 'timed-out', error: `stopped after its time limit of ${Math.round(timeoutMs / 1000)} s; the next run resumes it` };
    }
    writeActivity(options.activityLog, { event: 'end', job: job.id ?? '', queue: job.queueName, group: row.group, row: row.id, stage, worker: options.workerName, attempt, status: outcome.status });
    const attemptsAllowed = job.opts.attempts ?? 1;
    if (outcome.status === 'failed' && outcome.failureKind === 'temporary' && job.attemptsMade + 1 < attemptsAllowed) throw new Error(outcome.error ?? 'temporary failure');
    return { worker: options.workerName, attempt, outcome };
  };
}

function writeActivity(file: string | undefined, entry: Record<string, string | number>): void {
  if (!file) return;
  // Synchronous and appended line by line, so the trail of a worker killed with kill -9 ends at its last start.
  appendFileSync(file, `${JSON.stringify({ at: Date.now(), ...entry })}\n`);
}
