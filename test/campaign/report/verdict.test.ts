import { describe, expect, it } from 'vitest';
import { addToCounts, decideAccountVerdict, decideCampaignExitCode, formatBatchVerdict, noAccounts, type AccountOutcome, type CampaignCounts } from '../../../src/campaign/report/verdict.js';
import type { Stage, StageRecord } from '../../../src/campaign/state/types.js';

function record(stage: Stage, overrides: Partial<StageRecord> = {}): StageRecord {
  return { accountId: 'alice', stage, status: 'done', attempts: 1, items: 5, bytes: 500, skipped: 0, durationMs: 1000, ...overrides };
}

const nothingMissing = { missing: 0, missingFolders: 0 };

describe('decideAccountVerdict', () => {
  it('is complete when verify finished with nothing skipped and nothing missing', () => {
    const verdict = decideAccountVerdict({ stages: [record('prestage'), record('cutover'), record('verify')], ...nothingMissing });
    expect(verdict).toEqual({ verdict: 'complete', outcome: 'complete', reason: 'Verified: every source message is on the target.', status: 'done', hasSkips: false });
  });

  it('is complete with exceptions when a finished stage skipped items, whichever stage it was', () => {
    const verdict = decideAccountVerdict({ stages: [record('verify'), record('prestage', { status: 'done-with-skips', skipped: 2 })], ...nothingMissing });
    expect(verdict.verdict).toBe('complete-with-exceptions');
    expect(verdict.status).toBe('done-with-skips');
    expect(verdict.reason).toBe('Verified; 2 items skipped, each listed with its reason.');
  });

  it('is unverified when the copy stages finished and verify has not run, and says which stages ran', () => {
    const verdict = decideAccountVerdict({ stages: [record('cutover'), record('prestage')], ...nothingMissing });
    expect(verdict).toMatchObject({ verdict: 'unverified', outcome: 'unverified', hasSkips: false, reason: 'Copied (prestage and cutover), not verified yet.' });
    const withSkips = decideAccountVerdict({ stages: [record('prestage', { status: 'done-with-skips', skipped: 1 })], ...nothingMissing });
    expect(withSkips).toMatchObject({ verdict: 'unverified', hasSkips: true, reason: 'Copied (prestage), not verified yet; 1 item skipped, each listed with its reason.' });
  });

  it('is incomplete and failed when any stage failed, quoting its error and attempts; a failure outweighs a timeout', () => {
    const verdict = decideAccountVerdict({
      stages: [record('prestage', { status: 'timed-out' }), record('cutover', { status: 'failed', attempts: 3, lastError: 'login refused\nsecond line' })],
      ...nothingMissing,
    });
    expect(verdict).toMatchObject({ verdict: 'incomplete', outcome: 'failed', status: 'failed', reason: 'The cutover failed after 3 attempts: login refused.' });
  });

  it('is incomplete and failed when verify found messages missing, even though every stage says done', () => {
    const verdict = decideAccountVerdict({ stages: [record('prestage'), record('verify')], missing: 3, missingFolders: 1 });
    expect(verdict).toMatchObject({ verdict: 'incomplete', outcome: 'failed', status: 'done', reason: 'Verify found 3 source messages missing on the target, in 1 folder.' });
  });

  it('is complete with exceptions when verify found missing only what the copy skipped and listed (verify done with skips)', () => {
    const verdict = decideAccountVerdict({ stages: [record('prestage', { status: 'done-with-skips', skipped: 1 }), record('verify', { status: 'done-with-skips', skipped: 1 })], missing: 1, missingFolders: 1 });
    expect(verdict).toMatchObject({ verdict: 'complete-with-exceptions', outcome: 'complete-with-exceptions', reason: 'Verified; the source message not on the target is one the copy skipped; 2 items skipped, each listed with its reason.' });
  });

  it('says what verify found missing rather than its bare error when verify failed', () => {
    const verdict = decideAccountVerdict({ stages: [record('verify', { status: 'failed', lastError: 'differences found' })], missing: 2, missingFolders: 2 });
    expect(verdict).toMatchObject({ outcome: 'failed', status: 'failed', reason: 'Verify found 2 source messages missing on the target, in 2 folders.' });
  });

  it('is incomplete but only not finished when a stage timed out, was interrupted, is running, or nothing ran', () => {
    expect(decideAccountVerdict({ stages: [record('prestage', { status: 'timed-out' })], ...nothingMissing })).toMatchObject({
      outcome: 'not-finished',
      status: 'timed-out',
      reason: 'The pre-stage copy reached its time limit; the next run resumes it.',
    });
    expect(decideAccountVerdict({ stages: [record('prestage'), record('cutover', { status: 'planned', lastError: 'interrupted' })], ...nothingMissing })).toMatchObject({
      outcome: 'not-finished',
      status: 'planned',
      reason: 'The cutover has not finished: interrupted; the next run resumes it.',
    });
    expect(decideAccountVerdict({ stages: [record('verify', { status: 'running' })], ...nothingMissing })).toMatchObject({ outcome: 'not-finished', status: 'running' });
    expect(decideAccountVerdict({ stages: [], ...nothingMissing })).toEqual({ verdict: 'incomplete', outcome: 'not-finished', reason: 'Not started yet.', status: 'planned', hasSkips: false });
  });

  it('says so when a failed stage left no error, and cuts a very long error', () => {
    expect(decideAccountVerdict({ stages: [record('prestage', { status: 'failed' })], ...nothingMissing }).reason).toBe('The pre-stage copy failed (no error recorded).');
    const long = decideAccountVerdict({ stages: [record('prestage', { status: 'failed', lastError: 'x'.repeat(500) })], ...nothingMissing }).reason;
    expect(long.length).toBeLessThan(250);
    expect(long.endsWith('…')).toBe(true);
  });
});

function countOf(outcomes: AccountOutcome[], withSkips: boolean[] = []): CampaignCounts {
  return outcomes.reduce((counts, outcome, index) => addToCounts(counts, { outcome, hasSkips: withSkips[index] ?? false }), noAccounts);
}

describe('formatBatchVerdict', () => {
  it('counts every account exactly once: the numbers of the line add up to the total', () => {
    const counts = countOf([...Array<AccountOutcome>(295).fill('complete'), 'complete-with-exceptions', 'complete-with-exceptions', 'complete-with-exceptions', 'not-finished', 'failed']);
    const line = formatBatchVerdict(counts);
    expect(line).toBe('295 of 300 accounts complete; 3 complete with exceptions; 1 not finished (run again); 1 failed');
    const numbers = [...line.matchAll(/(?:^|; )(\d+)/g)].map((match) => Number(match[1]));
    expect(numbers.reduce((a, b) => a + b, 0)).toBe(300);
  });

  it('names every category that has accounts, and only those', () => {
    expect(formatBatchVerdict(countOf(['complete', 'complete']))).toBe('2 of 2 accounts complete');
    expect(formatBatchVerdict(countOf(['unverified']))).toBe('0 of 1 account complete; 1 copied, not verified yet');
    expect(formatBatchVerdict(countOf(['failed', 'unverified', 'not-finished', 'complete-with-exceptions', 'complete']))).toBe(
      '1 of 5 accounts complete; 1 complete with exceptions; 1 copied, not verified yet; 1 not finished (run again); 1 failed',
    );
    expect(formatBatchVerdict(noAccounts)).toBe('The plan has no accounts.');
  });
});

describe('decideCampaignExitCode', () => {
  it('is 0 when every account finished with nothing skipped, verified or not yet verified', () => {
    expect(decideCampaignExitCode(countOf(['complete', 'unverified']))).toBe(0);
    expect(decideCampaignExitCode(noAccounts)).toBe(0);
  });

  it('is 3 when some finished with skips, verified or not', () => {
    expect(decideCampaignExitCode(countOf(['complete', 'complete-with-exceptions']))).toBe(3);
    expect(decideCampaignExitCode(countOf(['complete', 'unverified'], [false, true]))).toBe(3);
  });

  it('is 75 when some did not finish and none failed: another pass is needed', () => {
    expect(decideCampaignExitCode(countOf(['complete-with-exceptions', 'not-finished']))).toBe(75);
  });

  it('is 1 when any account failed, whatever the others did', () => {
    expect(decideCampaignExitCode(countOf(['not-finished', 'complete-with-exceptions', 'failed', 'complete']))).toBe(1);
  });
});
