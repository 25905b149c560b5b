import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { accountsCsvColumns, formatAccountsCsvHeader, formatAccountsCsvRow, formatFailuresCsv } from '../../../src/campaign/report/csv.js';
import type { AccountSummary } from '../../../src/campaign/report/model.js';
import { parsePlan, type PlanRow } from '../../../src/campaign/plan-file.js';
import { planRow, planRows } from '../../support/campaign-state.js';

function summary(overrides: Partial<AccountSummary> = {}): AccountSummary {
  const row = planRow('alice');
  return {
    index: 0,
    row,
    source: 'imaps://alice@source-host',
    target: 'imaps://alice@target-host',
    group: 'source-host',
    stages: [],
    verdict: { verdict: 'complete', outcome: 'complete', reason: 'Verified: every source message is on the target.', status: 'done', hasSkips: false },
    counts: { copiedItems: 15, copiedBytes: 150_000, skippedItems: 0, sourceMessages: 15, targetMessages: 15, missing: 0 },
    attempts: 3,
    durationMs: 4550,
    ...overrides,
  };
}

describe('accounts.csv', () => {
  it('has the documented columns, one row per account, durations in seconds', () => {
    expect(formatAccountsCsvHeader()).toBe(`${accountsCsvColumns.join(',')}\n`);
    const [cells] = parse(formatAccountsCsvRow(summary())) as string[][];
    expect(Object.fromEntries(accountsCsvColumns.map((column, i) => [column, cells![i]]))).toEqual({
      id: 'alice',
      source: 'imaps://alice@source-host',
      target: 'imaps://alice@target-host',
      status: 'done',
      verdict: 'complete',
      copied_items: '15',
      copied_bytes: '150000',
      skipped_items: '0',
      source_messages: '15',
      target_messages: '15',
      missing: '0',
      duration_s: '4.6',
      attempts: '3',
      first_error: '',
    });
  });

  it('leaves the verify columns empty before verify ran, rather than claiming zero', () => {
    const [cells] = parse(formatAccountsCsvRow(summary({ counts: { copiedItems: 1, copiedBytes: 1, skippedItems: 0, sourceMessages: null, targetMessages: null, missing: null } }))) as string[][];
    expect(cells!.slice(8, 11)).toEqual(['', '', '']);
  });

  it('quotes an error with commas, quotes and a newline, and defuses one a spreadsheet would run as a formula', () => {
    const quoted = parse(formatAccountsCsvRow(summary({ firstError: 'refused, "really"\nsecond line' }))) as string[][];
    expect(quoted[0]!.at(-1)).toBe('refused, "really"\nsecond line');
    const formula = parse(formatAccountsCsvRow(summary({ firstError: '=HYPERLINK("http://evil.example","click")' }))) as string[][];
    expect(formula[0]!.at(-1)).toBe(`'=HYPERLINK("http://evil.example","click")`);
  });
});

describe('failures.csv', () => {
  it('is a plan of the given rows, verbatim, that parsePlan reads back as the same rows', () => {
    const rows: PlanRow[] = planRows([
      planRow('carol', { timeoutS: 600, sourceCredential: 'carol.source', options: '--exclude Trash' }),
      planRow('dave', { rename: { from: 'dave', to: 'david' }, sizeBytes: 1234 }),
    ]);
    const text = formatFailuresCsv(rows, '2026-12-07T05:00:00.000Z', 300);
    expect(text.split('\n')[0]).toBe('# mailshift report, 2026-12-07T05:00:00.000Z: the 2 of 300 plan row(s) whose account failed, timed out or did not finish.');
    const again = parsePlan(text);
    expect(again.errors).toEqual([]);
    expect(again.rows.map(({ line: _line, ...row }) => row)).toEqual(rows.map(({ line: _line, ...row }) => row));
  });

  it('is a plan with no rows when nothing needs running again', () => {
    const again = parsePlan(formatFailuresCsv([], '2026-12-07T05:00:00.000Z', 3));
    expect(again).toEqual({ rows: [], errors: [] });
  });
});
