import { ExitCode } from '../../core/exit-codes.js';
import { stages, type AccountStatus, type Stage, type StageRecord } from '../state/types.js';

/**
 * What a campaign came to, per account and for the whole batch: the verdicts the report shows, the batch's verdict
 * line and the exit code `mailshift campaign` and `mailshift report` end with. Pure, so the runner and the report
 * decide the same way from the same records.
 */

/**
 * complete: verify finished, nothing skipped, nothing missing;
 * complete-with-exceptions: finished, with items skipped (each listed with its reason);
 * incomplete: a stage failed, timed out, was interrupted or has not run, or verify found messages missing;
 * unverified: the copy stages that ran finished, verify has not run yet.
 */
export const verdicts = ['complete', 'complete-with-exceptions', 'incomplete', 'unverified'] as const;
export type Verdict = (typeof verdicts)[number];

/**
 * The verdict with incomplete split by what the admin does next: run the plan again (not-finished) or look at the
 * account first (failed). Each account is in exactly one of these, and the batch verdict line counts them.
 */
export type AccountOutcome = 'complete' | 'complete-with-exceptions' | 'unverified' | 'not-finished' | 'failed';

export interface AccountFacts {
  /** The account's stage records, in any order; none when no stage has run yet. */
  readonly stages: readonly StageRecord[];
  /** Source messages verify found missing on the target (summed over its folders), and in how many folders. */
  readonly missing: number;
  readonly missingFolders: number;
}

export interface AccountVerdict {
  readonly verdict: Verdict;
  readonly outcome: AccountOutcome;
  /** One sentence a customer can read. */
  readonly reason: string;
  /** The account's status: its worst stage's. */
  readonly status: AccountStatus;
  /** Something was skipped in some stage (listed in the report with its reason). */
  readonly hasSkips: boolean;
}

/** The worst first: the status an account shows is that of its worst stage. */
const statusSeverity: Record<AccountStatus, number> = { failed: 5, 'timed-out': 4, running: 3, planned: 2, 'done-with-skips': 1, done: 0 };

const stageLabels: Record<Stage, string> = { prestage: 'the pre-stage copy', cutover: 'the cutover', verify: 'verify' };

export function decideAccountVerdict(facts: AccountFacts): AccountVerdict {
  const ordered = [...facts.stages].sort((a, b) => stages.indexOf(a.stage) - stages.indexOf(b.stage));
  const skipped = ordered.reduce((sum, record) => sum + record.skipped, 0);
  const hasSkips = skipped > 0 || ordered.some((record) => record.status === 'done-with-skips');
  if (ordered.length === 0) return { verdict: 'incomplete', outcome: 'not-finished', reason: 'Not started yet.', status: 'planned', hasSkips: false };
  const status = ordered.reduce<AccountStatus>((worst, record) => (statusSeverity[record.status] > statusSeverity[worst] ? record.status : worst), 'done');
  const worst = ordered.find((record) => record.status === status) ?? ordered[0]!;
  const label = stageLabels[worst.stage];
  const error = worst.lastError ? `: ${firstLine(worst.lastError)}` : '';
  const afterAttempts = worst.attempts > 1 ? ` after ${worst.attempts} attempts` : '';
  const incomplete = (outcome: 'not-finished' | 'failed', reason: string): AccountVerdict => ({ verdict: 'incomplete', outcome, reason, status, hasSkips });
  const missingReason = `Verify found ${plural(facts.missing, 'source message')} missing on the target, in ${plural(facts.missingFolders, 'folder')}`;
  switch (status) {
    case 'failed':
      // What verify found says more than its error ("differences found").
      if (worst.stage === 'verify' && facts.missing > 0) return incomplete('failed', sentence(missingReason));
      return incomplete('failed', sentence(`${capitalize(label)} failed${afterAttempts}${error || ' (no error recorded)'}`));
    case 'timed-out':
      return incomplete('not-finished', sentence(`${capitalize(label)} reached its time limit${afterAttempts}; the next run resumes it`));
    case 'running':
      return incomplete('not-finished', sentence(`${capitalize(label)} is running`));
    case 'planned':
      return incomplete('not-finished', sentence(`${capitalize(label)} has not finished${error}; the next run resumes it`));
    default:
      break;
  }
  // Verify recorded done-with-skips although messages are missing: every one of them is a message the copy skipped
  // on purpose and listed (reconcile.ts); anything else missing leaves verify failed.
  const isMissingExplained = facts.missing > 0 && ordered.some((record) => record.stage === 'verify' && record.status === 'done-with-skips');
  if (facts.missing > 0 && !isMissingExplained) {
    return incomplete('failed', sentence(missingReason));
  }
  const skips = `${plural(skipped, 'item')} skipped, each listed with its reason`;
  if (ordered.some((record) => record.stage === 'verify')) {
    if (isMissingExplained) return { verdict: 'complete-with-exceptions', outcome: 'complete-with-exceptions', reason: sentence(`Verified; ${facts.missing === 1 ? 'the source message not on the target is one' : `the ${facts.missing} source messages not on the target are those`} the copy skipped; ${skips}`), status, hasSkips };
    if (hasSkips) return { verdict: 'complete-with-exceptions', outcome: 'complete-with-exceptions', reason: sentence(`Verified; ${skips}`), status, hasSkips };
    return { verdict: 'complete', outcome: 'complete', reason: 'Verified: every source message is on the target.', status, hasSkips };
  }
  const ran = ordered.map((record) => record.stage).join(' and ');
  return { verdict: 'unverified', outcome: 'unverified', reason: sentence(`Copied (${ran}), not verified yet${hasSkips ? `; ${skips}` : ''}`), status, hasSkips };
}

/** Accounts by outcome; every account is counted in exactly one of the five. */
export interface CampaignCounts {
  readonly accounts: number;
  readonly complete: number;
  readonly completeWithExceptions: number;
  readonly unverified: number;
  /** Of the unverified, those with something skipped: they make the exit code 3 as well. */
  readonly unverifiedWithSkips: number;
  readonly notFinished: number;
  readonly failed: number;
}

export const noAccounts: CampaignCounts = { accounts: 0, complete: 0, completeWithExceptions: 0, unverified: 0, unverifiedWithSkips: 0, notFinished: 0, failed: 0 };

/** The counts with one more account. */
export function addToCounts(counts: CampaignCounts, verdict: Pick<AccountVerdict, 'outcome' | 'hasSkips'>): CampaignCounts {
  const next = { ...counts, accounts: counts.accounts + 1 };
  switch (verdict.outcome) {
    case 'complete':
      return { ...next, complete: next.complete + 1 };
    case 'complete-with-exceptions':
      return { ...next, completeWithExceptions: next.completeWithExceptions + 1 };
    case 'unverified':
      return { ...next, unverified: next.unverified + 1, unverifiedWithSkips: next.unverifiedWithSkips + (verdict.hasSkips ? 1 : 0) };
    case 'not-finished':
      return { ...next, notFinished: next.notFinished + 1 };
    case 'failed':
      return { ...next, failed: next.failed + 1 };
  }
}

/**
 * The batch's verdict line, every account counted once: "295 of 300 accounts complete; 3 complete with exceptions;
 * 1 not finished (run again); 1 failed". Empty categories are left out, except the first, which always says how many
 * of how many are complete.
 */
export function formatBatchVerdict(counts: CampaignCounts): string {
  if (counts.accounts === 0) return 'The plan has no accounts.';
  const parts = [
    `${counts.complete} of ${plural(counts.accounts, 'account')} complete`,
    ...(counts.completeWithExceptions > 0 ? [`${counts.completeWithExceptions} complete with exceptions`] : []),
    ...(counts.unverified > 0 ? [`${counts.unverified} copied, not verified yet`] : []),
    ...(counts.notFinished > 0 ? [`${counts.notFinished} not finished (run again)`] : []),
    ...(counts.failed > 0 ? [`${counts.failed} failed`] : []),
  ];
  return parts.join('; ');
}

/**
 * The exit code of a campaign run and of `mailshift report`, the most serious first:
 * 1 some account failed; 75 some not finished (planned, interrupted, timed out), none failed: another pass is needed;
 * 3 every account finished, some with items skipped; 0 every account finished its stages with nothing skipped (and
 * verified, where verify ran: an account verify found incomplete is failed).
 */
export function decideCampaignExitCode(counts: CampaignCounts): CampaignExitCode {
  return decideExitCodeByTally({ failed: counts.failed, notFinished: counts.notFinished, withExceptions: counts.completeWithExceptions + counts.unverifiedWithSkips });
}

/**
 * The one rule behind both exit codes, the report's (accounts by verdict) and a stage run's (run.ts, accounts by
 * status): failed over not finished over finished with exceptions over all well.
 */
export function decideExitCodeByTally(tally: { readonly failed: number; readonly notFinished: number; readonly withExceptions: number }): CampaignExitCode {
  if (tally.failed > 0) return ExitCode.failed;
  if (tally.notFinished > 0) return ExitCode.tempFail;
  if (tally.withExceptions > 0) return ExitCode.partial;
  return ExitCode.ok;
}

export type CampaignExitCode = typeof ExitCode.ok | typeof ExitCode.failed | typeof ExitCode.partial | typeof ExitCode.tempFail;

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** An error's first line, cut to a length a table cell can hold: the whole text stays in report.json's stages. */
function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function sentence(text: string): string {
  return /[.!?…]$/.test(text) ? text : `${text}.`;
}
