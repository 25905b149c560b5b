import path from 'node:path';
import type { PlanRow } from '../../src/campaign/plan-file.js';
import { openSqliteState } from '../../src/campaign/state/sqlite.js';
import type { CampaignState, Stage, StageOutcome } from '../../src/campaign/state/types.js';

/**
 * A campaign state on disk (the real SQLite implementation), filled through the CampaignState API the way the runner
 * fills it: for the report's tests, unit and browser alike.
 */

export function planRow(id: string, overrides: Partial<PlanRow> = {}): PlanRow {
  return { id, source: `imaps://${id}@mail.old.example`, target: `imaps://${id}@mail.new.example`, group: 'mail.old.example', priority: 0, line: 2, ...overrides };
}

/** Plan rows with their lines numbered as in a file with a header on line 1. */
export function planRows(rows: readonly PlanRow[]): PlanRow[] {
  return rows.map((row, index) => ({ ...row, line: index + 2 }));
}

export function openTempState(directory: string, rows: readonly PlanRow[]): CampaignState {
  const state = openSqliteState(path.join(directory, 'campaign.sqlite'));
  state.syncAccounts(rows.map((row) => ({ id: row.id, source: row.source, target: row.target, group: row.group, priority: row.priority, line: row.line })));
  return state;
}

/** A finished attempt with everything defaulted: say only what the test is about. */
export function outcome(overrides: Partial<StageOutcome> = {}): StageOutcome {
  return { status: 'done', items: 10, bytes: 10_000, exitCode: 0, durationMs: 1500, skipped: [], warnings: [], ...overrides };
}

/** One attempt of a stage, started and ended. */
export function recordAttempt(state: CampaignState, accountId: string, stage: Stage, result: StageOutcome, at = '2026-12-07T04:00:00.000Z'): void {
  state.markRunning(accountId, stage, at);
  state.recordOutcome(accountId, stage, result, at.replace('04:00', '04:01'));
}

/** A verify that found every message, in the given folders (name -> message count). */
export function verifiedOutcome(folders: Record<string, number>): StageOutcome {
  return outcome({ items: Object.values(folders).reduce((a, b) => a + b, 0), folders: Object.entries(folders).map(([folder, count]) => ({ folder, sourceMessages: count, targetMessages: count, missing: 0 })) });
}

/**
 * A small campaign with one account of each kind, for the report's tests:
 * alice complete; bob complete with an exception (a skipped message whose reason names the source host); carol failed
 * (a refused login naming the host and its address); dave timed out; erin copied, not verified; frank new in the plan,
 * never run; grace verified with two messages missing in a folder named like markup.
 */
export const sampleRows: readonly PlanRow[] = planRows(['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'].map((id) => planRow(id)));

export const hostileFolder = '<script>alert("x")</script>';

export function fillSampleCampaign(state: CampaignState): void {
  const run = state.beginRun('all', '0.1.0', 'sha256:0123abcd', '2026-12-07T03:59:00.000Z');
  for (const id of ['alice', 'bob', 'grace']) recordAttempt(state, id, 'prestage', outcome({ items: 15, bytes: 150_000 }));
  recordAttempt(state, 'alice', 'verify', verifiedOutcome({ INBOX: 10, Sent: 5 }));
  recordAttempt(state, 'bob', 'cutover', outcome({ status: 'done-with-skips', items: 2, bytes: 2000, exitCode: 3, skipped: [{ item: 'INBOX/1700000000.M1P2.mail.old.example,S=99', reason: 'cut off at byte 12 (read from mail.old.example): re-export it' }] }));
  recordAttempt(state, 'bob', 'verify', verifiedOutcome({ INBOX: 16 }));
  recordAttempt(state, 'carol', 'prestage', outcome({ status: 'failed', items: 0, bytes: 0, exitCode: 1, error: 'login refused by mail.old.example (192.0.2.7): check the credentials', failureKind: 'permanent' }));
  recordAttempt(state, 'dave', 'prestage', outcome({ status: 'timed-out', items: 4, bytes: 4000, exitCode: 75, durationMs: 600_000 }));
  recordAttempt(state, 'dave', 'prestage', outcome({ status: 'timed-out', items: 6, bytes: 6000, exitCode: 75, durationMs: 600_000 }));
  recordAttempt(state, 'erin', 'prestage', outcome({ items: 7, bytes: 7000, warnings: ['INBOX: 2 flags not kept (the target has no keywords)'] }));
  recordAttempt(
    state,
    'grace',
    'verify',
    outcome({ status: 'failed', exitCode: 4, error: 'differences found', folders: [{ folder: 'INBOX', sourceMessages: 10, targetMessages: 10, missing: 0 }, { folder: hostileFolder, sourceMessages: 5, targetMessages: 3, missing: 2 }] }),
  );
  state.endRun(run, 1, '2026-12-07T04:30:00.000Z');
}
