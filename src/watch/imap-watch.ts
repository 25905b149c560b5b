import { InterruptedError, isMailshiftError, type MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { pause } from '../core/async.js';
import type { StoreCopyReport } from '../engine/messages/copy.js';

/**
 * `mailshift watch` with an IMAP end: the incremental copy (resync) again and again, a poll interval apart, until
 * Ctrl-C. IMAP has no files to watch, and each round is cheap once the first has run: per folder one EXAMINE and a
 * listing above the saved UID. A round that fails for a reason that may pass (the server is down, throttling) is
 * counted and the next one tries again; one that cannot pass by waiting (a refused login, a bad folder rule) stops
 * the watch with its exit code.
 */

export interface ImapWatchOptions {
  readonly intervalMs: number;
  readonly signal: AbortSignal;
  /** One incremental copy of the whole account; `onCopied` is told how many messages it has copied so far. */
  readonly runRound: (onCopied: (messages: number) => void) => Promise<StoreCopyReport>;
  /** After each round that ended with a report. */
  readonly onRound?: (report: StoreCopyReport) => void;
  /** After a round that failed and will be tried again at the next poll. */
  readonly onFailure?: (error: MailshiftError) => void;
  /**
   * Waits for the source to announce new mail (IMAP IDLE), at most the given time; without it (or 'unsupported') the
   * watch just sleeps the poll interval. A round starts as soon as new mail is announced.
   */
  readonly waitForNewMail?: (timeoutMs: number, signal: AbortSignal) => Promise<'new-mail' | 'timeout' | 'unsupported'>;
}

export interface ImapWatchSummary {
  runs: number;
  copied: number;
  flagsApplied: number;
  failedRuns: number;
  /** Why the watch ended on its own (never set when it was stopped by Ctrl-C). */
  stopped?: { readonly code: string; readonly reason: string; readonly exitCode: number };
}

export async function runImapWatch(options: ImapWatchOptions): Promise<ImapWatchSummary> {
  const summary: ImapWatchSummary = { runs: 0, copied: 0, flagsApplied: 0, failedRuns: 0 };
  while (!options.signal.aborted) {
    // What a round cut short by Ctrl-C copied (it is on the target and in the state) still counts.
    let copiedThisRound = 0;
    try {
      const report = await options.runRound((messages) => (copiedThisRound = messages));
      summary.runs += 1;
      summary.copied += report.totals.copied;
      summary.flagsApplied += report.totals.flagsApplied;
      if (report.stopped || report.totals.failedFolders > 0) summary.failedRuns += 1;
      options.onRound?.(report);
      if (report.stopped && !isWorthRetrying(report.stopped.exitCode)) {
        summary.stopped = report.stopped;
        break;
      }
    } catch (err) {
      if (err instanceof InterruptedError || options.signal.aborted) {
        summary.copied += copiedThisRound;
        break;
      }
      if (!isMailshiftError(err)) throw err;
      summary.runs += 1;
      summary.failedRuns += 1;
      if (err.retry !== 'later') {
        summary.stopped = { code: err.code, reason: err.message, exitCode: err.exitCode };
        break;
      }
      options.onFailure?.(err);
    }
    await waitForNextRound(options);
  }
  return summary;
}

/** Until new mail is announced or the poll interval is over; never less than the interval unless mail came. */
async function waitForNextRound(options: ImapWatchOptions): Promise<void> {
  const started = Date.now();
  let outcome: 'new-mail' | 'timeout' | 'unsupported' = 'unsupported';
  if (options.waitForNewMail && !options.signal.aborted) {
    try {
      outcome = await options.waitForNewMail(options.intervalMs, options.signal);
    } catch {
      outcome = 'timeout'; // the round that follows reports what is wrong with the server
    }
  }
  if (outcome === 'new-mail') return;
  // A wait that ended early without news (it could not be set up) must not turn into a loop without pause.
  await pause(Math.max(0, options.intervalMs - (Date.now() - started)), options.signal);
}

/** A run stopped by its time limit or by the server going away may do better next time; a config error will not. */
function isWorthRetrying(exitCode: number): boolean {
  return exitCode !== ExitCode.config && exitCode !== ExitCode.usage;
}

