import { Queue, QueueEvents, type Job, type RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { ExitCode } from '../../core/exit-codes.js';
import type { PlanRow } from '../plan-file.js';
import { countStatuses, decideRunExitCode, prepareCampaignRun, type CampaignRunOptions, type CampaignRunResult, type PendingAccount } from '../run.js';
import { StartQueue, type Limits, type NextStart } from '../schedule.js';
import { isFinished, type CampaignState, type Stage, type StageOutcome } from '../state/types.js';
import { buildJobId, buildQueueName, parseStageJobProgress, parseStageJobResult, queueRegistryKey, type StageJobData, type StageJobResult } from './jobs.js';

/**
 * `mailshift campaign PLAN --queue redis://…`: the second scheduler. The same run as runCampaign (same preparation,
 * same order, same limits, same state, same events, same exit code), but each stage of each account is a BullMQ job
 * that any `mailshift worker` runs.
 *
 * Why the coordinator admits jobs instead of adding all of them at once: BullMQ (without its commercial Pro groups)
 * limits concurrency per queue only. One queue per group with a global concurrency gives the per-group limit, enforced
 * by Redis across all workers; the campaign-wide limit is kept here, by adding a job only when the StartQueue (the
 * in-process scheduler's own decision) says an account may start, so no more than --concurrency jobs are ever waiting
 * or running. It also keeps smallest-first and a stage after the one before. When the groups' limits add up to no
 * more than --concurrency, Redis's per-group limits keep the global one by themselves: then each group gets as many
 * jobs again waiting in its queue (decideAdmission), so a worker that finishes one takes the next at once instead of
 * waiting for the coordinator to hear of it and add one.
 *
 * The outcomes go into the campaign's SQLite state as they arrive, so the report never depends on how long Redis keeps
 * finished jobs. Job ids come from the campaign, stage and row: run again (after a crash of this process, a Redis
 * restart that lost the queue, a Ctrl-C), the coordinator finds each job it had added and adopts it, or its result,
 * instead of adding it twice.
 */
export interface QueueCampaignOptions extends Pick<CampaignRunOptions, 'stages' | 'limits' | 'largestFirst' | 'accountTimeoutMs' | 'retries' | 'retryBaseMs' | 'force' | 'onEvent' | 'signal'> {
  readonly connection: RedisOptions;
  readonly campaignId: string;
  /** How often jobs in flight are read back (events wake it sooner); also how soon a lost job is added again. */
  readonly pollIntervalMs?: number;
  /** How long Redis keeps a finished job (s): while it does, adding it again is a no-op. */
  readonly keepFinishedS?: number;
}

interface InFlight {
  readonly entry: PendingAccount;
  stageIndex: number;
  jobId: string;
  /** The last attempt whose start was recorded (markRunning), and the last failed try reported as a retry. */
  attemptSeen: number;
  retriesSeen: number;
  /** What the account's finished stages of this run took: the next stage's job gets what is left of its time limit. */
  spentMs: number;
  worker?: string;
  /** The state's end time of this stage before the job was added: a finished job newer than this is a result not yet recorded. */
  readonly recordedEndMs: number;
}

export async function runQueueCampaign(rows: readonly PlanRow[], state: CampaignState, options: QueueCampaignOptions): Promise<CampaignRunResult> {
  const now = Date.now;
  const { pending, refused, alreadyDone, bytesTotal, resumed } = prepareCampaignRun(rows, state, options, now);
  options.onEvent({ type: 'campaign-start', stages: options.stages, accounts: rows.length, toRun: pending.length, alreadyDone, bytesTotal, resumed });
  for (const event of refused) options.onEvent(event);

  // Jobs an event said ended or went back to wait: read first, without waiting for the full poll of everything in flight.
  const changed = new Set<string>();
  /** Results the 'completed' event brought: recorded without reading the job back. */
  const arrived = new Map<string, StageJobResult>();
  const fleet = new GroupQueues(options, (jobId, returnvalue) => {
    changed.add(jobId);
    const result = parseStageJobResult(returnvalue);
    if (result) arrived.set(jobId, result);
    wake();
  });
  const inFlight = new Map<string, InFlight>();
  /** Jobs added and not yet ended, per group: running, or waiting in the queue. */
  const runningByGroup = new Map<string, number>();
  /** Their sum, kept beside the map: summing it for every start would cost as many steps as there are groups. */
  let admitted = 0;
  const admission = decideAdmission(options.limits, new Set(pending.map((entry) => entry.group)).size);
  const waiting = new StartQueue(pending, options.largestFirst);
  let wake: () => void = () => {};

  const stageOf = (flight: InFlight): Stage => flight.entry.stages[flight.stageIndex]!;

  /** The stage's job: adopted when it is still queued or running, its result adopted when not yet recorded, else added. */
  const submit = async (flight: InFlight): Promise<void> => {
    const stage = stageOf(flight);
    const queue = await fleet.queueFor(flight.entry.group);
    flight.jobId = buildJobId(options.campaignId, flight.entry.id, stage);
    inFlight.set(flight.jobId, flight);
    // A queue empty when this run began holds no earlier job of this id (each stage of a row is added once per run).
    const existing = fleet.wasEmptyAtStart(flight.entry.group) ? undefined : await queue.getJob(flight.jobId);
    if (existing) {
      const jobState = await existing.getState();
      const isEnded = jobState === 'completed' || jobState === 'failed';
      if (!isEnded) return;
      if (!options.force && (existing.finishedOn ?? 0) > flight.recordedEndMs) return;
      await existing.remove();
    }
    await addJob(queue, flight);
  };

  const addJob = async (queue: Queue, flight: InFlight): Promise<void> => {
    const limitMs = flight.entry.row.timeoutS !== undefined ? flight.entry.row.timeoutS * 1000 : options.accountTimeoutMs;
    const data: StageJobData = { campaignId: options.campaignId, row: flight.entry.row, stage: stageOf(flight), timeoutMs: decideStageTimeoutMs(limitMs, flight.spentMs) };
    const keep = { age: options.keepFinishedS ?? 7 * 86_400 };
    await queue.add(stageOf(flight), data, {
      jobId: flight.jobId,
      attempts: options.retries + 1,
      backoff: { type: 'exponential', delay: Math.max(1, options.retryBaseMs) },
      removeOnComplete: keep,
      removeOnFail: keep,
    });
  };

  const noteStart = (flight: InFlight, attempt: number, worker: string | undefined, startedAtMs: number): void => {
    if (attempt <= flight.attemptSeen) return;
    flight.attemptSeen = attempt;
    if (worker) flight.worker = worker;
    state.markRunning(flight.entry.id, stageOf(flight), new Date(startedAtMs).toISOString());
    const { entry } = flight;
    options.onEvent({ type: 'account-start', id: entry.id, stage: stageOf(flight), attempt, ...(entry.sizeBytes !== undefined ? { sizeBytes: entry.sizeBytes } : {}), ...(flight.worker ? { worker: flight.worker } : {}) });
  };

  const finish = async (flight: InFlight, outcome: StageOutcome, endedAtMs: number): Promise<void> => {
    const stage = stageOf(flight);
    state.recordOutcome(flight.entry.id, stage, outcome, new Date(endedAtMs).toISOString());
    options.onEvent({ type: 'account-end', id: flight.entry.id, stage, status: outcome.status, items: outcome.items, bytes: outcome.bytes, skipped: outcome.skipped.length, durationMs: outcome.durationMs, ...(outcome.error ? { error: outcome.error } : {}) });
    inFlight.delete(flight.jobId);
    arrived.delete(flight.jobId);
    if (isFinished(outcome.status) && flight.stageIndex + 1 < flight.entry.stages.length) {
      // The next stage keeps the account's slot, as in the in-process campaign.
      flight.stageIndex++;
      flight.spentMs += outcome.durationMs;
      flight.attemptSeen = 0;
      flight.retriesSeen = 0;
      await submit(flight);
      return;
    }
    runningByGroup.set(flight.entry.group, runningByGroup.get(flight.entry.group)! - 1);
    admitted -= 1;
  };

  /**
   * Reads jobs in flight back from Redis and records what changed: those an event named, and every one of them once
   * per poll interval (an event lost while Redis restarted, a job Redis lost).
   */
  let lastFullPollMs = now();
  const poll = async (): Promise<void> => {
    const isFull = now() - lastFullPollMs >= (options.pollIntervalMs ?? 1000);
    if (isFull) {
      lastFullPollMs = now();
      await fleet.refresh();
    }
    const flights = isFull ? [...inFlight.values()] : [...changed].flatMap((jobId) => inFlight.get(jobId) ?? []);
    changed.clear();
    await Promise.all(flights.map((flight) => readBack(flight)));
  };

  /** One job in flight read back (or its result taken from the event that brought it), and what changed recorded. */
  const readBack = async (flight: InFlight): Promise<void> => {
    const result = arrived.get(flight.jobId);
    if (result) {
      arrived.delete(flight.jobId);
      noteStart(flight, Math.max(result.attempt, flight.attemptSeen, 1), result.worker, now());
      await finish(flight, result.outcome, now());
      return;
    }
    const queue = await fleet.queueFor(flight.entry.group);
    // The state first, then the job: read the other way round, a job that ends in between looks completed without its value.
    const jobState = await queue.getJobState(flight.jobId);
    const job: Job<StageJobData, StageJobResult> | undefined = jobState === 'unknown' ? undefined : await queue.getJob(flight.jobId);
    if (!job) {
      // Gone: Redis restarted without its data (or someone removed it). The stage's operations are idempotent; run it again.
      await addJob(queue, flight);
      return;
    }
    if (job.attemptsStarted > 0 && (jobState === 'active' || jobState === 'completed' || jobState === 'failed')) noteStart(flight, job.attemptsStarted, job.processedBy, job.processedOn ?? now());
    if (jobState === 'completed') {
      const result = parseStageJobResult(job.returnvalue);
      await finish(flight, result?.outcome ?? lostOutcome('the job ended without a result'), job.finishedOn ?? now());
    } else if (jobState === 'failed') {
      await finish(flight, lostOutcome(`the queue failed the job: ${job.failedReason}`), job.finishedOn ?? now());
    } else if (jobState === 'delayed' && job.attemptsMade > flight.retriesSeen) {
      flight.retriesSeen = job.attemptsMade;
      const error = job.failedReason || 'temporary failure';
      state.recordOutcome(flight.entry.id, stageOf(flight), { ...lostOutcome(error), status: 'planned', exitCode: ExitCode.tempFail, failureKind: 'temporary' }, new Date(now()).toISOString());
      options.onEvent({ type: 'account-retry', id: flight.entry.id, stage: stageOf(flight), attempt: job.attemptsMade, delayMs: Math.max(0, job.timestamp + job.delay - now()), error });
    }
  };

  fleet.onProgress = (jobId, value) => {
    const flight = inFlight.get(jobId);
    const progress = parseStageJobProgress(value);
    if (!flight || !progress) return;
    noteStart(flight, progress.attempt, progress.worker, now());
    options.onEvent({ type: 'account-progress', id: flight.entry.id, stage: stageOf(flight), bytes: progress.bytes, items: progress.items, ...(progress.totalBytes !== undefined ? { totalBytes: progress.totalBytes } : {}) });
  };

  const aborted = new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve();
    else options.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    while (!options.signal.aborted) {
      // Every account that may start now, added side by side: one at a time, each add's round trip to Redis would
      // hold the whole fleet back.
      const starts: InFlight[] = [];
      let pick: NextStart<PendingAccount>;
      for (;;) {
        pick = waiting.takeNext(runningByGroup, admitted, admission, now());
        if (!('entry' in pick)) break;
        const entry = pick.entry;
        runningByGroup.set(entry.group, (runningByGroup.get(entry.group) ?? 0) + 1);
        admitted += 1;
        const recorded = state.getStage(entry.id, entry.stages[0]!)?.endedAt;
        starts.push({ entry, stageIndex: 0, jobId: '', attemptSeen: 0, retriesSeen: 0, spentMs: 0, recordedEndMs: recorded ? Date.parse(recorded) : 0 });
      }
      if (starts.length > 0) {
        await Promise.all(starts.map((flight) => submit(flight)));
        continue;
      }
      if (pick.wait === 'empty' && inFlight.size === 0) break;
      if (changed.size === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, lastFullPollMs + (options.pollIntervalMs ?? 1000) - now()));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          void aborted.then(wake);
        });
        wake = () => {};
      }
      if (!options.signal.aborted) await poll();
    }
    if (options.signal.aborted) await stopInFlight([...inFlight.values()]);
  } finally {
    await fleet.close(!options.signal.aborted);
  }

  const interrupted = options.signal.aborted;
  const counts = countStatuses(state, rows, options.stages);
  const exitCode = interrupted ? ExitCode.interrupted : decideRunExitCode(counts);
  options.onEvent({ type: 'campaign-end', exitCode, counts, interrupted });
  return { exitCode, counts, interrupted };

  /**
   * Ctrl-C: nothing new starts. Jobs not started yet are taken out of the queue; a job a worker runs finishes there,
   * and the next run of the campaign adopts its result (its id is the same). Both are 'planned' in the state meanwhile.
   */
  async function stopInFlight(flights: readonly InFlight[]): Promise<void> {
    for (const flight of flights) {
      const queue = await fleet.queueFor(flight.entry.group);
      const job = await queue.getJob(flight.jobId);
      const jobState = job ? await job.getState() : 'unknown';
      if (job && (jobState === 'waiting' || jobState === 'delayed' || jobState === 'prioritized')) await job.remove().catch(() => undefined);
      if (flight.attemptSeen > 0) {
        const note = jobState === 'active' ? 'the campaign was stopped (Ctrl-C) while a worker ran this; the next run takes its result from the queue' : 'stopped by Ctrl-C; the next run resumes it';
        state.recordOutcome(flight.entry.id, stageOf(flight), { ...lostOutcome(note), status: 'planned' }, new Date(now()).toISOString());
      }
    }
  }
}

/**
 * How many jobs may be in the queues at once (running or waiting), in total and per group. Redis runs no more than
 * the group's limit of them at once. Waiting jobs beyond that are safe only when the groups' limits add up to no more
 * than the global one: one more waiting job per running one then keeps every worker slot fed.
 */
export function decideAdmission(limits: Limits, groups: number): Limits {
  if (groups * limits.perGroup > limits.global) return limits;
  return { global: groups * limits.perGroup * 2, perGroup: limits.perGroup * 2 };
}

/**
 * The time limit of one stage's job: the account's limit less what its earlier stages of this run took, as in the
 * in-process campaign, where one timer covers all of an account's stages. At least 1 ms: an account with no time left
 * is stopped by its job at once and reported timed out, resumable, like any other.
 */
export function decideStageTimeoutMs(accountLimitMs: number, spentMs: number): number {
  return Math.max(1, accountLimitMs - spentMs);
}

/** An outcome the coordinator writes itself, when the job has none to give. */
function lostOutcome(error: string): StageOutcome {
  return { status: 'failed', items: 0, bytes: 0, exitCode: ExitCode.failed, durationMs: 0, skipped: [], warnings: [], error, failureKind: 'temporary' };
}

/** The campaign's queues, one per group, each with the group's limit as its global concurrency, listed for the workers. */
class GroupQueues {
  private readonly queues = new Map<string, { queue: Queue; events: QueueEvents }>();
  private readonly registry: Redis;
  onProgress: (jobId: string, value: unknown) => void = () => {};

  constructor(
    private readonly options: QueueCampaignOptions,
    private readonly wake: (jobId: string, returnvalue?: unknown) => void,
  ) {
    this.registry = new Redis(options.connection);
    this.registry.on('error', () => {});
  }

  private readonly emptyAtStart = new Set<string>();

  wasEmptyAtStart(group: string): boolean {
    return this.emptyAtStart.has(group);
  }

  async queueFor(group: string): Promise<Queue> {
    const known = this.queues.get(group);
    if (known) return known.queue;
    const name = buildQueueName(this.options.campaignId, group);
    const queue = new Queue<StageJobData, StageJobResult>(name, { connection: this.options.connection });
    const events = new QueueEvents(name, { connection: this.options.connection });
    queue.on('error', () => {});
    events.on('error', () => {});
    events.on('progress', ({ jobId, data }) => this.onProgress(jobId, data));
    events.on('completed', ({ jobId, returnvalue }) => this.wake(jobId, returnvalue));
    events.on('failed', ({ jobId }) => this.wake(jobId));
    events.on('delayed', ({ jobId }) => this.wake(jobId));
    this.queues.set(group, { queue, events });
    const counts = await queue.getJobCounts();
    if (Object.values(counts).every((count) => count === 0)) this.emptyAtStart.add(group);
    await this.register(name, queue);
    return queue;
  }

  /** Again at every poll: a Redis restarted without its data has forgotten the list and the limits. */
  async refresh(): Promise<void> {
    for (const [group, { queue }] of this.queues) await this.register(buildQueueName(this.options.campaignId, group), queue);
  }

  private async register(name: string, queue: Queue): Promise<void> {
    await queue.setGlobalConcurrency(this.options.limits.perGroup);
    await this.registry.sadd(queueRegistryKey, name);
  }

  /** At the end of a campaign its queues are unlisted (workers stop serving them); interrupted, they stay for the running jobs. */
  async close(isEnded: boolean): Promise<void> {
    for (const [group, { queue, events }] of this.queues) {
      if (isEnded) await this.registry.srem(queueRegistryKey, buildQueueName(this.options.campaignId, group)).catch(() => undefined);
      await events.close();
      await queue.close();
    }
    this.registry.disconnect();
  }
}
