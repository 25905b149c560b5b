import { decideBackoffMs } from '../core/async.js';
import { ExitCode, type ExitCodeValue } from '../core/exit-codes.js';
import { classifyFailure } from './classify.js';
import { reconcileVerifyWithCopySkips } from './reconcile.js';
import { decideExitCodeByTally } from './report/verdict.js';
import { findQuotaProblem, type PlanRow } from './plan-file.js';
import { StartQueue, type Limits, type QueueEntry } from './schedule.js';
import { isFinished, type AccountStatus, type CampaignState, type Stage, type StageOutcome } from './state/types.js';

/**
 * Runs stages of a plan for every row: bounded concurrency (global and per group), smallest first, a time limit per
 * account, retries with back-off for temporary failures, no new account while the source is too busy, and the state
 * of each account written to the campaign's database at every change, so that a killed campaign resumes where it was
 * and never redoes a finished account. What a stage does to an account is not decided here: `executeStage` calls the
 * same engine operations as the single commands (account-stage.ts); tests give a fake one.
 */
export interface StageProgress {
  readonly bytes: number;
  readonly items: number;
  readonly totalBytes?: number;
}

export type StageExecutor = (row: PlanRow, stage: Stage, signal: AbortSignal, progress: (done: StageProgress) => void) => Promise<StageOutcome>;

/** Everything a campaign tells its watcher; the CLI draws it (terminal), logs it (one line per change) or prints it (--json). */
export type CampaignEvent =
  | { readonly type: 'campaign-start'; readonly stages: readonly Stage[]; readonly accounts: number; readonly toRun: number; readonly alreadyDone: number; readonly bytesTotal: number; readonly resumed: readonly string[] }
  | { readonly type: 'account-start'; readonly id: string; readonly stage: Stage; readonly attempt: number; readonly sizeBytes?: number; /** Who runs it, on the queue (mailshift worker). */ readonly worker?: string }
  | { readonly type: 'account-progress'; readonly id: string; readonly stage: Stage; readonly bytes: number; readonly items: number; readonly totalBytes?: number }
  | { readonly type: 'account-end'; readonly id: string; readonly stage: Stage; readonly status: AccountStatus; readonly items: number; readonly bytes: number; readonly skipped: number; readonly durationMs: number; readonly error?: string }
  | { readonly type: 'account-retry'; readonly id: string; readonly stage: Stage; readonly attempt: number; readonly delayMs: number; readonly error: string }
  | { readonly type: 'account-refused'; readonly id: string; readonly line: number; readonly reason: string }
  | { readonly type: 'waiting-for-load'; readonly group: string; readonly load: number; readonly maxLoad: number }
  | { readonly type: 'campaign-end'; readonly exitCode: ExitCodeValue; readonly counts: Readonly<Record<AccountStatus, number>>; readonly interrupted: boolean };

export interface CampaignRunOptions {
  readonly stages: readonly Stage[];
  readonly limits: Limits;
  readonly largestFirst: boolean;
  /** Per account and run, unless its row has its own timeout. */
  readonly accountTimeoutMs: number;
  /** Further tries of a stage that failed for a temporary reason. */
  readonly retries: number;
  readonly retryBaseMs: number;
  /** Redo stages already finished. */
  readonly force: boolean;
  /** No new account of a group starts while its source's load (1-minute load average per CPU) is above this. */
  readonly maxLoad?: number;
  /** The source's load for a group, or undefined when it cannot be read (then nothing waits for it). */
  readonly readLoad?: (group: string) => Promise<number | undefined>;
  readonly executeStage: StageExecutor;
  readonly onEvent: (event: CampaignEvent) => void;
  readonly signal: AbortSignal;
  readonly now?: () => number;
}

export interface CampaignRunResult {
  readonly exitCode: ExitCodeValue;
  readonly counts: Readonly<Record<AccountStatus, number>>;
  readonly interrupted: boolean;
}

export interface PendingAccount extends QueueEntry {
  readonly row: PlanRow;
  readonly stages: Stage[];
  /** Tries of the current (first) stage so far in this run. */
  readonly tries: number;
}

const loadRecheckMs = 15_000;
const progressIntervalMs = 500;

export async function runCampaign(rows: readonly PlanRow[], state: CampaignState, options: CampaignRunOptions): Promise<CampaignRunResult> {
  const now = options.now ?? Date.now;
  const { pending, refused, alreadyDone, bytesTotal, resumed } = prepareCampaignRun(rows, state, options, now);
  options.onEvent({ type: 'campaign-start', stages: options.stages, accounts: rows.length, toRun: pending.length, alreadyDone, bytesTotal, resumed });
  for (const event of refused) options.onEvent(event);

  const queue = new StartQueue(pending, options.largestFirst);
  const runningByGroup = new Map<string, number>();
  const running = new Set<Promise<void>>();
  const loads = new LoadWatch(options, now);

  const runAccount = async (entry: PendingAccount): Promise<void> => {
    const retry = await runAccountStages(entry, state, options, now);
    if (retry) queue.add(retry);
  };

  const aborted = abortPromise(options.signal);
  while (!options.signal.aborted) {
    const blocked = await loads.blockedGroups(queue.groups(), runningByGroup);
    const pick = queue.takeNext(runningByGroup, running.size, options.limits, now(), blocked);
    if ('entry' in pick) {
      const entry = pick.entry;
      runningByGroup.set(entry.group, (runningByGroup.get(entry.group) ?? 0) + 1);
      const task: Promise<void> = runAccount(entry).finally(() => {
        runningByGroup.set(entry.group, runningByGroup.get(entry.group)! - 1);
        running.delete(task);
      });
      running.add(task);
      continue;
    }
    if (pick.wait === 'empty' && running.size === 0) break;
    // Something must change before another account can start: one ends, a back-off runs out, the load is read again.
    let wakeInMs: number | undefined;
    if (pick.wait === 'back-off') wakeInMs = Math.max(0, pick.untilMs! - now());
    if (blocked.size > 0) wakeInMs = Math.min(wakeInMs ?? Infinity, loadRecheckMs);
    await raceWithTimer([...running, aborted], wakeInMs);
  }
  // Ctrl-C: the running accounts got the same signal and stop at a safe point; their state is written before we end.
  await Promise.allSettled([...running]);

  const interrupted = options.signal.aborted;
  const counts = countStatuses(state, rows, options.stages);
  const exitCode = interrupted ? ExitCode.interrupted : decideRunExitCode(counts);
  options.onEvent({ type: 'campaign-end', exitCode, counts, interrupted });
  return { exitCode, counts, interrupted };
}

/** What a run starts from: the accounts to run (with the stages each still needs) and those refused or done already. */
export interface PreparedRun {
  readonly pending: PendingAccount[];
  readonly refused: CampaignEvent[];
  readonly alreadyDone: number;
  readonly bytesTotal: number;
  readonly resumed: string[];
}

/**
 * The start of every run, whichever scheduler runs it (this one, or the queue's coordinator): the plan's rows into the
 * state, accounts a dead process left running taken back, and for each row the stages it still needs; a row that
 * cannot fit its target is refused (recorded as failed) before anything starts.
 */
export function prepareCampaignRun(rows: readonly PlanRow[], state: CampaignState, options: Pick<CampaignRunOptions, 'stages' | 'force'>, now: () => number): PreparedRun {
  state.syncAccounts(rows.map((row) => ({ id: row.id, source: row.source, target: row.target, group: row.group, priority: row.priority, ...(row.sizeBytes !== undefined ? { sizeBytes: row.sizeBytes } : {}), line: row.line })));
  const resumed = state.recoverInterrupted('the campaign stopped while this ran (killed or crashed): resumed on the next run');

  const pending: PendingAccount[] = [];
  const refused: CampaignEvent[] = [];
  let alreadyDone = 0;
  let bytesTotal = 0;
  // One read of every status, not one query per account and stage: at 25,000 accounts those were a sixth of a resume.
  const statuses = state.listStageStatuses();
  rows.forEach((row, index) => {
    const todo = options.stages.filter((stage) => options.force || !isFinished(statuses.get(row.id)?.get(stage) ?? 'planned'));
    if (todo.length === 0) {
      alreadyDone++;
      return;
    }
    const refusal = findQuotaProblem(row);
    if (refusal) {
      refuse(state, row, todo[0]!, refusal, now());
      refused.push({ type: 'account-refused', id: row.id, line: row.line, reason: refusal });
      return;
    }
    bytesTotal += row.sizeBytes ?? 0;
    pending.push({ id: row.id, group: row.group, priority: row.priority, ...(row.sizeBytes !== undefined ? { sizeBytes: row.sizeBytes } : {}), index, row, stages: todo, tries: 0 });
  });
  return { pending, refused, alreadyDone, bytesTotal, resumed };
}

/**
 * One account's stages of this run, in order; a stage that does not finish stops the account's later stages.
 * Returns the account again when a temporary failure is to be retried after its back-off.
 */
async function runAccountStages(entry: PendingAccount, state: CampaignState, options: CampaignRunOptions, now: () => number): Promise<PendingAccount | undefined> {
  const timeoutMs = entry.row.timeoutS !== undefined ? entry.row.timeoutS * 1000 : options.accountTimeoutMs;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  timer.unref?.();
  const signal = AbortSignal.any([options.signal, timeout.signal]);
  try {
    for (const [position, stage] of entry.stages.entries()) {
      const startedAt = now();
      state.markRunning(entry.id, stage, new Date(startedAt).toISOString());
      const attempt = state.getStage(entry.id, stage)?.attempts ?? 1;
      options.onEvent({ type: 'account-start', id: entry.id, stage, attempt, ...(entry.sizeBytes !== undefined ? { sizeBytes: entry.sizeBytes } : {}) });
      let outcome: StageOutcome;
      try {
        outcome = await options.executeStage(entry.row, stage, signal, throttleProgress((done) => options.onEvent({ type: 'account-progress', id: entry.id, stage, ...done })));
        if (stage === 'verify') outcome = reconcileVerifyWithCopySkips(outcome, [...state.listSkipped(entry.id, 'prestage'), ...state.listSkipped(entry.id, 'cutover')]);
      } catch (err) {
        const failure = classifyFailure(err);
        outcome = { status: 'failed', items: 0, bytes: 0, exitCode: ExitCode.failed, durationMs: now() - startedAt, skipped: [], warnings: [], error: failure.message, failureKind: failure.kind };
      }
      // Stopped from outside: by its time limit (resumable, not failed data) or by Ctrl-C (planned again).
      if (signal.aborted && !isFinished(outcome.status)) {
        const byTimeout = timeout.signal.aborted && !options.signal.aborted;
        outcome = {
          ...outcome,
          status: byTimeout ? 'timed-out' : 'planned',
          error: byTimeout ? `stopped after its time limit of ${Math.round(timeoutMs / 1000)} s; the next run resumes it` : 'stopped by Ctrl-C; the next run resumes it',
        };
        delete (outcome as { failureKind?: unknown }).failureKind;
      }
      const tries = position === 0 ? entry.tries + 1 : 1;
      const willRetry = outcome.status === 'failed' && outcome.failureKind === 'temporary' && tries <= options.retries && !signal.aborted;
      const recorded: StageOutcome = willRetry ? { ...outcome, status: 'planned' } : outcome;
      state.recordOutcome(entry.id, stage, recorded, new Date(now()).toISOString());
      if (willRetry) {
        const delayMs = decideBackoffMs(tries, options.retryBaseMs, 30 * 60_000);
        options.onEvent({ type: 'account-retry', id: entry.id, stage, attempt: tries, delayMs, error: outcome.error ?? 'temporary failure' });
        return { ...entry, stages: entry.stages.slice(position), tries, notBefore: now() + delayMs };
      }
      options.onEvent({
        type: 'account-end',
        id: entry.id,
        stage,
        status: recorded.status,
        items: recorded.items,
        bytes: recorded.bytes,
        skipped: recorded.skipped.length,
        durationMs: recorded.durationMs,
        ...(recorded.error ? { error: recorded.error } : {}),
      });
      if (!isFinished(recorded.status)) return undefined;
    }
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** A row refused before it starts (it cannot fit its target): recorded as failed, with the reason, never attempted. */
function refuse(state: CampaignState, row: PlanRow, stage: Stage, reason: string, at: number): void {
  const when = new Date(at).toISOString();
  state.recordOutcome(row.id, stage, { status: 'failed', items: 0, bytes: 0, exitCode: ExitCode.usage, durationMs: 0, skipped: [{ item: row.id, reason: `not started: ${reason}` }], warnings: [], error: `refused before it started: ${reason}`, failureKind: 'permanent' }, when);
}

/** Each account's status over the stages of this run: the first stage not finished, or the last one. */
export function countStatuses(state: CampaignState, rows: readonly PlanRow[], stagesRun: readonly Stage[]): Record<AccountStatus, number> {
  const counts: Record<AccountStatus, number> = { planned: 0, running: 0, done: 0, 'done-with-skips': 0, failed: 0, 'timed-out': 0 };
  const statuses = state.listStageStatuses();
  for (const row of rows) {
    let status: AccountStatus = 'done';
    for (const stage of stagesRun) {
      const record = statuses.get(row.id)?.get(stage) ?? 'planned';
      if (!isFinished(record)) {
        status = record;
        break;
      }
      if (record === 'done-with-skips') status = 'done-with-skips';
    }
    counts[status]++;
  }
  return counts;
}

/**
 * The campaign's exit code from its accounts: 1 when any failed; 75 when any is not finished (planned, timed out:
 * another pass is needed); 3 when some finished with skipped items; 0 when every account finished with nothing skipped.
 */
export function decideRunExitCode(counts: Readonly<Record<AccountStatus, number>>): ExitCodeValue {
  return decideExitCodeByTally({ failed: counts.failed, notFinished: counts.planned + counts.running + counts['timed-out'], withExceptions: counts['done-with-skips'] });
}

/** Progress reaches the watcher at most twice a second per account: a fleet of small copies would otherwise flood it. */
export function throttleProgress(emit: (done: StageProgress) => void): (done: StageProgress) => void {
  let last = 0;
  return (done) => {
    const at = Date.now();
    if (at - last < progressIntervalMs) return;
    last = at;
    emit(done);
  };
}

/** The source loads, read at most every 15 s per group; a group above --max-load starts nothing new. */
class LoadWatch {
  private readonly readings = new Map<string, { load: number | undefined; at: number }>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly options: CampaignRunOptions,
    private readonly now: () => number,
  ) {}

  async blockedGroups(waitingGroups: Iterable<string>, runningByGroup: ReadonlyMap<string, number>): Promise<Set<string>> {
    const blocked = new Set<string>();
    const { maxLoad, readLoad } = this.options;
    if (maxLoad === undefined || !readLoad) return blocked;
    for (const group of waitingGroups) {
      if ((runningByGroup.get(group) ?? 0) >= this.options.limits.perGroup) continue;
      let reading = this.readings.get(group);
      if (!reading || this.now() - reading.at >= loadRecheckMs) {
        reading = { load: await readLoad(group).catch(() => undefined), at: this.now() };
        this.readings.set(group, reading);
      }
      if (reading.load !== undefined && reading.load > maxLoad) {
        blocked.add(group);
        if (!this.reported.has(group)) this.options.onEvent({ type: 'waiting-for-load', group, load: reading.load, maxLoad });
        this.reported.add(group);
      } else {
        this.reported.delete(group);
      }
    }
    return blocked;
  }
}

/** The first of `waits` to settle, or `ms` passing; the timer is cleared either way, so none outlives the campaign. */
async function raceWithTimer(waits: readonly Promise<unknown>[], ms: number | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timed = ms === undefined ? [] : [new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))];
  try {
    await Promise.race([...waits.map((each) => each.catch(() => undefined)), ...timed]);
  } finally {
    clearTimeout(timer);
  }
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
