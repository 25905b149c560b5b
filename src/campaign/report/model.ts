import type { PlanRow } from '../plan-file.js';
import { accountStatuses, stages, type AccountStatus, type CampaignState, type FolderComparison, type FolderTotals, type Stage, type StageRecord } from '../state/types.js';
import type { ReportMask } from './mask.js';
import { decideAccountVerdict, verdicts, type AccountVerdict, type Verdict } from './verdict.js';

/**
 * The report's model of one account, read from the campaign state: a summary (what the account table, accounts.csv,
 * failures.csv and the totals need; kept for every account while a report is written) and the detail (folders,
 * skipped items, warnings; read when the account's part of report.json or report.html is written, then dropped), so a
 * 25,000-account report never holds every account's detail at once. Everything shown is passed through the mask
 * first (customer reports show no hostnames).
 */

export interface AccountCounts {
  /** Messages (or files) and bytes the copy stages (pre-stage, cutover) moved. */
  readonly copiedItems: number;
  readonly copiedBytes: number;
  /** Items skipped in any stage, each listed with its reason. */
  readonly skippedItems: number;
  /** What verify counted, summed over its folders; null before verify has compared the account. */
  readonly sourceMessages: number | null;
  readonly targetMessages: number | null;
  readonly missing: number | null;
}

export interface AccountSummary {
  /** Position in the plan (0-based). */
  readonly index: number;
  readonly row: PlanRow;
  /** The row's source, target and group as the report shows them (masked). */
  readonly source: string;
  readonly target: string;
  readonly group: string;
  /** Stage records in stage order, their error and route lines masked. */
  readonly stages: readonly StageRecord[];
  readonly verdict: AccountVerdict;
  readonly counts: AccountCounts;
  readonly attempts: number;
  readonly durationMs: number;
  readonly startedAt?: string;
  readonly endedAt?: string;
  /** The error of the first stage (in stage order) that has one. */
  readonly firstError?: string;
}

export interface SkippedItem {
  readonly stage: Stage;
  readonly item: string;
  readonly reason: string;
}

export interface AccountDetail {
  /** Verify's folder comparison, folder names masked. */
  readonly folders: readonly FolderComparison[];
  readonly skipped: readonly SkippedItem[];
  readonly warnings: readonly { readonly stage: Stage; readonly text: string }[];
}

/**
 * What a caller that writes every account's summary has read for all of them at once (one query each for the
 * campaign, instead of several per account): `stages`, the account's stage records (state.listStages()); `verifyTotals`,
 * verify's folder totals of every account (state.listFolderTotals('verify')). What is not given is read here.
 */
export interface KnownForSummary {
  readonly stages?: readonly StageRecord[];
  readonly verifyTotals?: ReadonlyMap<string, FolderTotals>;
}

export function readAccountSummary(state: CampaignState, row: PlanRow, index: number, mask: ReportMask, known: KnownForSummary = {}): AccountSummary {
  const records: StageRecord[] = [];
  for (const stage of stages) {
    const record = known.stages ? known.stages.find((each) => each.stage === stage) : state.getStage(row.id, stage);
    if (record) records.push(maskStage(record, mask));
  }
  const isVerified = records.some((record) => record.stage === 'verify');
  const totals = !isVerified ? undefined : known.verifyTotals ? known.verifyTotals.get(row.id) : sumFolders(state.listFolders(row.id, 'verify'));
  const compared = totals !== undefined && totals.folders > 0;
  const missing = totals?.missing ?? 0;
  const verdict = decideAccountVerdict({ stages: records, missing, missingFolders: totals?.missingFolders ?? 0 });
  const copyStages = records.filter((record) => record.stage !== 'verify');
  const started = records.map((record) => record.startedAt).filter((at) => at !== undefined).sort();
  const ended = records.map((record) => record.endedAt).filter((at) => at !== undefined).sort();
  const firstError = records.find((record) => record.lastError !== undefined)?.lastError;
  return {
    index,
    row,
    source: mask.text(row.source),
    target: mask.text(row.target),
    group: mask.text(row.group),
    stages: records,
    verdict,
    counts: {
      copiedItems: sum(copyStages, (record) => record.items),
      copiedBytes: sum(copyStages, (record) => record.bytes),
      skippedItems: sum(records, (record) => record.skipped),
      sourceMessages: compared ? totals.sourceMessages : null,
      targetMessages: compared ? totals.targetMessages : null,
      missing: compared ? missing : null,
    },
    attempts: sum(records, (record) => record.attempts),
    durationMs: sum(records, (record) => record.durationMs),
    ...(started.length > 0 ? { startedAt: started[0]! } : {}),
    ...(ended.length > 0 ? { endedAt: ended.at(-1)! } : {}),
    ...(firstError !== undefined ? { firstError } : {}),
  };
}

/** A stage's folders summed, as state.listFolderTotals gives them for every account at once. */
export function sumFolders(folders: readonly FolderComparison[]): FolderTotals {
  return {
    folders: folders.length,
    sourceMessages: sum(folders, (folder) => folder.sourceMessages),
    targetMessages: sum(folders, (folder) => folder.targetMessages),
    missing: sum(folders, (folder) => folder.missing),
    missingFolders: folders.filter((folder) => folder.missing > 0).length,
  };
}

/** `withWarnings`: the accounts that have warnings (state.listAccountsWithWarnings()), when the caller read them; the others are not asked. */
export function readAccountDetail(state: CampaignState, summary: AccountSummary, mask: ReportMask, withWarnings?: ReadonlySet<string>): AccountDetail {
  const id = summary.row.id;
  const ran = summary.stages.map((record) => record.stage);
  const folders = ran.includes('verify') ? state.listFolders(id, 'verify').map((folder) => ({ ...folder, folder: mask.text(folder.folder) })) : [];
  const skipped: SkippedItem[] = [];
  const warnings: { stage: Stage; text: string }[] = [];
  for (const record of summary.stages) {
    // The record counts its skipped items: no query for the (usual) stage that skipped nothing.
    if (record.skipped > 0) for (const entry of state.listSkipped(id, record.stage)) skipped.push({ stage: record.stage, item: mask.text(entry.item), reason: mask.text(entry.reason) });
    if (withWarnings && !withWarnings.has(id)) continue;
    for (const text of state.listWarnings(id, record.stage)) warnings.push({ stage: record.stage, text: mask.text(text) });
  }
  return { folders, skipped, warnings };
}

/** One element of report.json's `accounts` (schema mailshift.report/1; names in snake_case, as in accounts.csv). */
export function buildAccountJson(summary: AccountSummary, detail: AccountDetail): Record<string, unknown> {
  const { counts } = summary;
  return {
    id: summary.row.id,
    line: summary.row.line,
    source: summary.source,
    target: summary.target,
    group: summary.group,
    status: summary.verdict.status,
    verdict: summary.verdict.verdict,
    verdict_reason: summary.verdict.reason,
    attempts: summary.attempts,
    started: summary.startedAt ?? null,
    ended: summary.endedAt ?? null,
    duration_s: toSeconds(summary.durationMs),
    counts: {
      copied_items: counts.copiedItems,
      copied_bytes: counts.copiedBytes,
      skipped_items: counts.skippedItems,
      source_messages: counts.sourceMessages,
      target_messages: counts.targetMessages,
      missing: counts.missing,
    },
    stages: summary.stages.map((record) => ({
      stage: record.stage,
      status: record.status,
      attempts: record.attempts,
      items: record.items,
      bytes: record.bytes,
      skipped: record.skipped,
      started: record.startedAt ?? null,
      ended: record.endedAt ?? null,
      duration_s: toSeconds(record.durationMs),
      exit_code: record.exitCode ?? null,
      error: record.lastError ?? null,
      failure_kind: record.failureKind ?? null,
      route: record.route ?? null,
    })),
    folders: detail.folders.map((folder) => ({
      name: folder.folder,
      source_messages: folder.sourceMessages,
      target_messages: folder.targetMessages,
      difference: folder.targetMessages - folder.sourceMessages,
      missing: folder.missing,
    })),
    skipped: detail.skipped,
    warnings: detail.warnings,
  };
}

export interface ReportTotals {
  readonly accounts: number;
  readonly byStatus: Readonly<Record<AccountStatus, number>>;
  readonly byVerdict: Readonly<Record<Verdict, number>>;
  readonly copiedItems: number;
  readonly copiedBytes: number;
  readonly skippedItems: number;
  /** Over the accounts verify compared. */
  readonly missing: number;
}

export function buildTotals(summaries: Iterable<AccountSummary>): ReportTotals {
  const byStatus = Object.fromEntries(accountStatuses.map((status) => [status, 0])) as Record<AccountStatus, number>;
  const byVerdict = Object.fromEntries(verdicts.map((verdict) => [verdict, 0])) as Record<Verdict, number>;
  let accounts = 0;
  let copiedItems = 0;
  let copiedBytes = 0;
  let skippedItems = 0;
  let missing = 0;
  for (const summary of summaries) {
    accounts += 1;
    byStatus[summary.verdict.status] += 1;
    byVerdict[summary.verdict.verdict] += 1;
    copiedItems += summary.counts.copiedItems;
    copiedBytes += summary.counts.copiedBytes;
    skippedItems += summary.counts.skippedItems;
    missing += summary.counts.missing ?? 0;
  }
  return { accounts, byStatus, byVerdict, copiedItems, copiedBytes, skippedItems, missing };
}

/** Seconds with a tenth, as the CSV and JSON give durations. */
export function toSeconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

function maskStage(record: StageRecord, mask: ReportMask): StageRecord {
  return {
    ...record,
    ...(record.lastError !== undefined ? { lastError: mask.text(record.lastError) } : {}),
    ...(record.route !== undefined ? { route: mask.text(record.route) } : {}),
  };
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}
