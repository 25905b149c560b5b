import { UsageError } from '../../core/errors.js';
import type { PlanRow } from '../plan-file.js';
import type { CampaignEvent, CampaignRunResult } from '../run.js';
import type { CampaignState, Stage } from '../state/types.js';
import { buildRedisOptions, checkRedisReachable, parseQueueUrl } from './connection.js';
import { runQueueCampaign } from './coordinator.js';
import { buildCampaignId } from './jobs.js';

/** What `mailshift campaign PLAN --queue URL` hands over: its own options, as parsed, and where the campaign lives. */
export interface QueueCampaignSettings {
  readonly queue: string;
  readonly stages: readonly Stage[];
  /** The campaign directory (absolute): the campaign's id in Redis derives from it. */
  readonly directory: string;
  readonly concurrency: number;
  readonly perGroup: number;
  readonly largestFirst?: boolean;
  readonly accountTimeout: number;
  readonly retries: number;
  readonly retryDelay: number;
  readonly force?: boolean;
  readonly maxLoad?: number;
  readonly env: NodeJS.ProcessEnv;
  readonly onEvent: (event: CampaignEvent) => void;
  readonly signal: AbortSignal;
}

/** The campaign command's one branch for the queue: the coordinator instead of the in-process runner, same state. */
export async function runCampaignOnQueue(rows: readonly PlanRow[], state: CampaignState, settings: QueueCampaignSettings): Promise<CampaignRunResult> {
  if (settings.maxLoad !== undefined) throw new UsageError('--max-load is not read with --queue: the workers run on other hosts', 'limit each source with --per-group (its group queue admits no more at once)');
  const address = parseQueueUrl(settings.queue);
  const connection = buildRedisOptions(address, settings.env);
  await checkRedisReachable(address, connection);
  return runQueueCampaign(rows, state, {
    connection,
    campaignId: buildCampaignId(settings.directory),
    stages: settings.stages,
    limits: { global: settings.concurrency, perGroup: settings.perGroup },
    largestFirst: Boolean(settings.largestFirst),
    accountTimeoutMs: settings.accountTimeout * 1000,
    retries: settings.retries,
    retryBaseMs: settings.retryDelay,
    force: Boolean(settings.force),
    onEvent: settings.onEvent,
    signal: settings.signal,
  });
}
