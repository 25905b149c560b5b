import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError, systemErrorCode } from '../../core/errors.js';
import { reportDirectoryIn } from '../directory.js';
import type { PlanRow } from '../plan-file.js';
import type { CampaignState, RunRecord, StageRecord } from '../state/types.js';
import { AtomicTextFile, removeStaleTemporaries } from './atomic-text-file.js';
import { formatAccountsCsvHeader, formatAccountsCsvRow, formatFailuresCsv } from './csv.js';
import { formatHtmlAccountDetail, formatHtmlAccountRow, formatHtmlBetween, formatHtmlEnd, formatHtmlStart, type HtmlPageFacts } from './html.js';
import { buildReportMask, type ReportMask } from './mask.js';
import { buildAccountJson, buildTotals, readAccountDetail, readAccountSummary, type AccountSummary, type ReportTotals } from './model.js';
import { addToCounts, decideCampaignExitCode, formatBatchVerdict, noAccounts, type AccountOutcome, type CampaignCounts, type CampaignExitCode } from './verdict.js';

/**
 * The campaign report: report.json, accounts.csv, failures.csv and report.html in DIRECTORY/report/, from the state
 * and the plan as it is now. Written at the end of every stage run and by `mailshift report`.
 *
 * Two passes over the accounts, so that memory stays bounded at 25,000 accounts: the first reads each account's
 * summary (its stage records and verify's totals: what the verdict, the totals and the CSV files need) and keeps
 * it; the second writes the files, reading each account's detail (folders, skipped items, warnings) when its turn
 * comes and dropping it after. The state is only read. Files are replaced whole (written under a temporary name,
 * then renamed), all four only once all four are written; the temporary files of a writer that was killed are removed
 * by the next.
 */

export interface ReportInput {
  readonly state: CampaignState;
  /** The plan as parsed now (failures.csv re-uses these rows verbatim, so it is a plan one can run again). */
  readonly planRows: readonly PlanRow[];
  /** The campaign directory; files go to DIRECTORY/report/. */
  readonly directory: string;
  /** customer (the default): host names masked in sources, targets and every message; full: shown. */
  readonly detail: 'customer' | 'full';
  readonly toolVersion: string;
  readonly now: Date;
}

export interface ReportFiles {
  readonly json: string;
  readonly accountsCsv: string;
  readonly failuresCsv: string;
  readonly html: string;
  readonly verdict: string;
}

/** What writeCampaignReport returns: the files and verdict line, with the counts behind them and the exit code they give. */
export interface ReportResult extends ReportFiles {
  readonly counts: CampaignCounts;
  readonly exitCode: CampaignExitCode;
}

export const reportSchema = 'mailshift.report/1';

/** The order of report.html's details: what needs the admin's eye first. */
const attentionOrder: readonly AccountOutcome[] = ['failed', 'not-finished', 'complete-with-exceptions', 'unverified', 'complete'];

export async function writeCampaignReport(input: ReportInput): Promise<ReportResult> {
  const { state, planRows } = input;
  const mask = buildReportMask(planRows, input.detail);
  const summaries = readSummaries(state, planRows, mask);
  const counts = summaries.reduce((sum, summary) => addToCounts(sum, summary.verdict), noAccounts);
  const verdict = formatBatchVerdict(counts);
  const exitCode = decideCampaignExitCode(counts);
  const totals = buildTotals(summaries);
  const runs = state.listRuns();
  const generatedAt = input.now.toISOString();

  const directory = reportDirectoryIn(input.directory);
  const files = {
    json: path.join(directory, 'report.json'),
    accountsCsv: path.join(directory, 'accounts.csv'),
    failuresCsv: path.join(directory, 'failures.csv'),
    html: path.join(directory, 'report.html'),
  };
  const opened: AtomicTextFile[] = [];
  try {
    await mkdir(directory, { recursive: true });
    await removeStaleTemporaries(directory);
    const open = async (file: string) => {
      const created = await AtomicTextFile.create(file);
      opened.push(created);
      return created;
    };
    const json = await open(files.json);
    const accountsCsv = await open(files.accountsCsv);
    const failuresCsv = await open(files.failuresCsv);
    const html = await open(files.html);
    // The details go to report.html after the table, in the order of attentionOrder: one part per outcome, written as
    // the accounts come (each account's detail is read once, for report.json and report.html) and joined at the end.
    const detailParts = new Map<AccountOutcome, AtomicTextFile>();
    for (const outcome of attentionOrder) detailParts.set(outcome, await open(`${files.html}.${outcome}`));
    const page: HtmlPageFacts = { verdict, exitCode, totals, toolVersion: input.toolVersion, generatedAt, detail: input.detail, runs };

    const withWarnings = state.listAccountsWithWarnings();
    await json.write(formatJsonHead({ generatedAt, toolVersion: input.toolVersion, detail: input.detail, verdict, exitCode, counts, totals, runs }));
    await accountsCsv.write(formatAccountsCsvHeader());
    await html.write(formatHtmlStart(page));
    for (const summary of summaries) {
      const detail = readAccountDetail(state, summary, mask, withWarnings);
      await json.write(`${summary.index === 0 ? '' : ',\n'}    ${JSON.stringify(buildAccountJson(summary, detail))}`);
      await accountsCsv.write(formatAccountsCsvRow(summary));
      await html.write(formatHtmlAccountRow(summary));
      await detailParts.get(summary.verdict.outcome)!.write(formatHtmlAccountDetail(summary, detail));
    }
    await json.write(`${summaries.length > 0 ? '\n' : ''}  ]\n}\n`);
    await html.write(formatHtmlBetween());
    for (const part of detailParts.values()) {
      await html.appendPart(part);
      opened.splice(opened.indexOf(part), 1);
    }
    await html.write(formatHtmlEnd(page));
    const again = summaries.filter((summary) => summary.verdict.outcome === 'failed' || summary.verdict.outcome === 'not-finished').map((summary) => summary.row);
    await failuresCsv.write(formatFailuresCsv(again, generatedAt, planRows.length));
    while (opened.length > 0) {
      await opened[0]!.commit();
      opened.shift();
    }
  } catch (err) {
    await Promise.all(opened.map((file) => file.discard()));
    throw new MailshiftError('MAILSHIFT_REPORT_WRITE', `cannot write the campaign report in ${directory}: ${systemErrorCode(err) ?? (err as Error).message}`, {
      cause: err,
      hint: 'make the campaign directory writable (or free space on its disk) and run mailshift report PLAN: the campaign itself is unaffected',
    });
  }
  return { ...files, verdict, counts, exitCode };
}

/**
 * Every account's summary, in plan order. The stage records come in one query; an account it does not return (a row
 * added to the plan since the last run synced it, or one with no stage yet) is asked for by itself.
 */
function readSummaries(state: CampaignState, planRows: readonly PlanRow[], mask: ReportMask): AccountSummary[] {
  const byAccount = new Map<string, StageRecord[]>();
  for (const record of state.listStages()) {
    const list = byAccount.get(record.accountId);
    if (list) list.push(record);
    else byAccount.set(record.accountId, [record]);
  }
  const verifyTotals = state.listFolderTotals('verify');
  return planRows.map((row, index) => {
    const stages = byAccount.get(row.id);
    return readAccountSummary(state, row, index, mask, stages ? { stages, verifyTotals } : {});
  });
}

interface JsonHeadFacts {
  readonly generatedAt: string;
  readonly toolVersion: string;
  readonly detail: 'customer' | 'full';
  readonly verdict: string;
  readonly exitCode: number;
  readonly counts: CampaignCounts;
  readonly totals: ReportTotals;
  readonly runs: readonly RunRecord[];
}

/** report.json up to the opening of `accounts`: the accounts follow one per line. */
function formatJsonHead(facts: JsonHeadFacts): string {
  const { counts, totals } = facts;
  const head = {
    schema: reportSchema,
    detail: facts.detail,
    verdict: facts.verdict,
    exit_code: facts.exitCode,
    run: {
      generated_at: facts.generatedAt,
      tool_version: facts.toolVersion,
      // The plan the last run read; `mailshift report` reads the plan again, and an edit since shows as a new hash next time.
      plan_hash: facts.runs.at(-1)?.planHash ?? null,
      runs: facts.runs.map((run) => ({
        id: run.id,
        stage: run.stage,
        started: run.startedAt,
        ended: run.endedAt ?? null,
        exit_code: run.exitCode ?? null,
        tool_version: run.toolVersion,
        plan_hash: run.planHash,
      })),
    },
    totals: {
      accounts: totals.accounts,
      by_status: totals.byStatus,
      by_verdict: totals.byVerdict,
      by_outcome: {
        complete: counts.complete,
        'complete-with-exceptions': counts.completeWithExceptions,
        unverified: counts.unverified,
        'not-finished': counts.notFinished,
        failed: counts.failed,
      },
      copied_items: totals.copiedItems,
      copied_bytes: totals.copiedBytes,
      skipped_items: totals.skippedItems,
      missing: totals.missing,
    },
  };
  const text = JSON.stringify(head, null, 2);
  return `${text.slice(0, text.lastIndexOf('}')).trimEnd()},\n  "accounts": [\n`;
}
