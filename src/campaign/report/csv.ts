import { stringify } from 'csv-stringify/sync';
import { formatPlan, type PlanRow } from '../plan-file.js';
import { toSeconds, type AccountSummary } from './model.js';

/**
 * accounts.csv (one row per account, for a spreadsheet) and failures.csv (a plan of the rows to run again). csv-stringify
 * quotes what needs quoting; in accounts.csv it also defuses cells a spreadsheet would run as a formula (an error text
 * or a path that starts with "=", "+", "-" or "@" gets a leading "'"), since the cells are data from the servers.
 */

export const accountsCsvColumns = [
  'id',
  'source',
  'target',
  'status',
  'verdict',
  'copied_items',
  'copied_bytes',
  'skipped_items',
  'source_messages',
  'target_messages',
  'missing',
  'duration_s',
  'attempts',
  'first_error',
] as const;

export function formatAccountsCsvHeader(): string {
  return stringify([[...accountsCsvColumns]]);
}

export function formatAccountsCsvRow(summary: AccountSummary): string {
  const { counts } = summary;
  const record = [
    summary.row.id,
    summary.source,
    summary.target,
    summary.verdict.status,
    summary.verdict.verdict,
    counts.copiedItems,
    counts.copiedBytes,
    counts.skippedItems,
    counts.sourceMessages ?? '',
    counts.targetMessages ?? '',
    counts.missing ?? '',
    toSeconds(summary.durationMs),
    summary.attempts,
    summary.firstError ?? '',
  ];
  return stringify([record.map(String)], { escape_formulas: true });
}

/**
 * failures.csv: the plan's own rows (verbatim, hosts and credential names included: it is for the admin, to run
 * again, not for the customer) of the accounts that failed or did not finish.
 */
export function formatFailuresCsv(rows: readonly PlanRow[], generatedAt: string, planSize: number): string {
  const comment = [
    `mailshift report, ${generatedAt}: the ${rows.length} of ${planSize} plan row(s) whose account failed, timed out or did not finish.`,
    'This file is a plan: run it again with the same campaign directory (--dir) to retry only these accounts.',
  ].join('\n');
  return formatPlan(rows, comment);
}
