import { describe, expect, it } from 'vitest';
import { InterruptedError, MailshiftError } from '../../src/core/errors.js';
import type { StoreCopyReport } from '../../src/engine/messages/copy.js';
import { runImapWatch } from '../../src/watch/imap-watch.js';

function report(copied: number, extra: Partial<StoreCopyReport> = {}): StoreCopyReport {
  return {
    source: 'imaps://a@h:993',
    target: '/m',
    dryRun: false,
    mapping: [],
    folders: [],
    skippedFolders: [],
    totals: { copied, copiedBytes: 0, alreadyPresent: 0, skipped: 0, failedFolders: 0, examined: copied, flagDifferences: 0, flagsApplied: 0 },
    durationMs: 1,
    ...extra,
  };
}

/**
 * A round for each step, in order: a report is returned, an error thrown. With `ctrlC`, it is aborted while the last
 * step plays (as Ctrl-C during that round would), for watches that would not end on their own.
 */
function playRounds(steps: readonly (StoreCopyReport | Error)[], ctrlC?: AbortController): () => Promise<StoreCopyReport> {
  let played = 0;
  return async () => {
    const step = steps[played++]!;
    if (played === steps.length) ctrlC?.abort();
    if (step instanceof Error) throw step;
    return step;
  };
}

describe('runImapWatch', () => {
  it('runs round after round until aborted, adding up what each copied', async () => {
    const controller = new AbortController();
    const summary = await runImapWatch({ intervalMs: 1, signal: controller.signal, runRound: playRounds([report(3), report(0), report(2)], controller) });
    expect(summary).toEqual({ runs: 3, copied: 5, flagsApplied: 0, failedRuns: 0 });
  });

  it('counts what a round cut short by Ctrl-C had copied', async () => {
    const controller = new AbortController();
    const summary = await runImapWatch({
      intervalMs: 1,
      signal: controller.signal,
      runRound: async (onCopied) => {
        onCopied(1);
        onCopied(2);
        controller.abort();
        throw new InterruptedError();
      },
    });
    expect(summary).toEqual({ runs: 0, copied: 2, flagsApplied: 0, failedRuns: 0 });
  });

  it('tries again after a failure that may pass, and stops on one that will not', async () => {
    const controller = new AbortController();
    const failures: string[] = [];
    const summary = await runImapWatch({
      intervalMs: 1,
      signal: controller.signal,
      runRound: playRounds([
        new MailshiftError('MAILSHIFT_IMAP_CONNECT', 'server gone', { scope: 'account', retry: 'later' }),
        report(1),
        new MailshiftError('MAILSHIFT_IMAP_AUTH', 'login refused', { scope: 'account', exitCode: 78 }),
      ]),
      onFailure: (error) => failures.push(error.message),
    });
    expect(failures).toEqual(['server gone']);
    expect(summary).toEqual({ runs: 3, copied: 1, flagsApplied: 0, failedRuns: 2, stopped: { code: 'MAILSHIFT_IMAP_AUTH', reason: 'login refused', exitCode: 78 } });
  });

  it('stops when a round reports a stop that waiting cannot mend, and goes on after one that it can', async () => {
    const controller = new AbortController();
    const summary = await runImapWatch({
      intervalMs: 1,
      signal: controller.signal,
      runRound: playRounds([
        report(0, { stopped: { code: 'MAILSHIFT_TIMEOUT', reason: 'slow', exitCode: 75 } }),
        report(0, { stopped: { code: 'MAILSHIFT_IMAP_AUTH', reason: 'refused', exitCode: 78 } }),
      ]),
    });
    expect(summary).toMatchObject({ runs: 2, failedRuns: 2, stopped: { exitCode: 78 } });
  });

  it('waits the poll interval between rounds, and Ctrl-C ends the wait at once', async () => {
    const controller = new AbortController();
    const started = Date.now();
    let rounds = 0;
    const done = runImapWatch({ intervalMs: 60_000, signal: controller.signal, runRound: async () => report(rounds++) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    expect((await done).runs).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('starts the next round as soon as new mail is announced, and waits out the interval when the wait ends early without news', async () => {
    const controller = new AbortController();
    const waits: string[] = [];
    const started = Date.now();
    const summary = await runImapWatch({
      intervalMs: 300,
      signal: controller.signal,
      runRound: playRounds([report(1), report(1), report(1)], controller),
      waitForNewMail: async () => {
        // First: mail at once. Second: the wait could not be set up and ended at once without news.
        const outcome = waits.length === 0 ? 'new-mail' : 'timeout';
        waits.push(outcome);
        return outcome;
      },
    });
    expect(waits).toEqual(['new-mail', 'timeout']);
    expect(summary.runs).toBe(3);
    // Round 2 followed the announcement at once; round 3 came only after the interval.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });
});
