import { createHash } from 'node:crypto';
import type { PlanRow } from '../plan-file.js';
import type { Stage, StageOutcome } from '../state/types.js';

/**
 * What travels through Redis between the coordinator (`mailshift campaign --queue`) and the workers, and the names
 * it travels under. Pure. The contract: a job carries a plan row and a stage, never a secret (the row names its
 * credentials; each worker resolves the names from its own file or environment); its id is derived from the
 * campaign, the stage and the row, so adding it again while it exists does nothing (BullMQ ignores a job id it has).
 */

/** The Redis set the coordinator lists its group queues in; workers read it to know which queues to serve. */
export const queueRegistryKey = 'mailshift:campaign-queues';

export interface StageJobData {
  readonly campaignId: string;
  readonly row: PlanRow;
  readonly stage: Stage;
  /** The stage's time limit: when it runs out, the job ends as timed-out (resumable) and is not retried. */
  readonly timeoutMs: number;
}

/** What a worker reports while a job runs (job.updateProgress), and first of all who it is. */
export interface StageJobProgress {
  readonly worker: string;
  /** 1 for the first try, counting tries BullMQ started (a stalled job taken over by another worker counts too). */
  readonly attempt: number;
  readonly bytes: number;
  readonly items: number;
  readonly totalBytes?: number;
}

/** A job's value when it ends: the stage's outcome as the in-process campaign would have recorded it. */
export interface StageJobResult {
  readonly worker: string;
  /** Which try of the job this was (as in StageJobProgress). */
  readonly attempt: number;
  readonly outcome: StageOutcome;
}

/**
 * The campaign's id in Redis: from its directory (where its state lives), so that the same campaign run again from
 * the same directory finds its jobs, and two campaigns sharing a Redis never share a job.
 */
export function buildCampaignId(campaignDirectory: string): string {
  return `c${createHash('sha256').update(campaignDirectory).digest('hex').slice(0, 12)}`;
}

/** One queue per group: its global concurrency is the group's limit, which BullMQ enforces across all workers. */
export function buildQueueName(campaignId: string, group: string): string {
  return `mailshift-${campaignId}-${buildSafeName(group)}`;
}

export function buildJobId(campaignId: string, rowId: string, stage: Stage): string {
  return `${campaignId}-${stage}-${buildSafeName(rowId)}`;
}

/**
 * BullMQ refuses ':' in queue names and job ids (they separate its Redis keys) and treats an all-digit id as its own.
 * A name made safe gets a short hash of the original, so two names that differ only in replaced characters stay apart.
 */
function buildSafeName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 80);
  return safe === name ? name : `${safe}~${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/** Reads a job's progress value back; anything else (a number from another tool) is not ours and gives undefined. */
export function parseStageJobProgress(value: unknown): StageJobProgress | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const progress = value as Partial<StageJobProgress>;
  if (typeof progress.worker !== 'string' || typeof progress.attempt !== 'number' || typeof progress.bytes !== 'number' || typeof progress.items !== 'number') return undefined;
  return progress as StageJobProgress;
}

export function parseStageJobResult(value: unknown): StageJobResult | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const result = value as Partial<StageJobResult>;
  if (typeof result.worker !== 'string' || typeof result.attempt !== 'number' || typeof result.outcome !== 'object' || result.outcome === null || typeof result.outcome.status !== 'string') return undefined;
  return result as StageJobResult;
}
