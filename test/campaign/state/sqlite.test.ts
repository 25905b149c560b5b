import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteState } from '../../../src/campaign/state/sqlite.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'campaign-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const account = (id: string, line: number) => ({ id, source: `/s/${id}`, target: `/t/${id}`, group: 'local', priority: 0, sizeBytes: line * 100, line });

describe('the SQLite campaign state', () => {
  it('keeps every change across a reopen, as a killed process leaves it', () => {
    const file = path.join(dir, 'campaign.sqlite');
    const first = openSqliteState(file);
    first.syncAccounts([account('a', 2), account('b', 3)]);
    first.markRunning('a', 'prestage', '2026-12-07T10:00:00.000Z');
    first.recordOutcome('a', 'prestage', { status: 'done-with-skips', items: 5, bytes: 500, exitCode: 3, durationMs: 42, skipped: [{ item: 'x', reason: 'unsafe name' }], warnings: ['w'], route: 'files: both ends are trees' }, '2026-12-07T10:00:01.000Z');
    first.markRunning('b', 'prestage', '2026-12-07T10:00:02.000Z');
    // No close: the process dies here.
    const second = openSqliteState(file);
    expect(second.listAccounts().map((each) => each.id)).toEqual(['a', 'b']);
    expect(second.getStage('a', 'prestage')).toMatchObject({ status: 'done-with-skips', attempts: 1, items: 5, bytes: 500, skipped: 1, durationMs: 42, exitCode: 3, route: 'files: both ends are trees' });
    expect(second.listSkipped('a', 'prestage')).toEqual([{ item: 'x', reason: 'unsafe name' }]);
    expect(second.listWarnings('a', 'prestage')).toEqual(['w']);
    expect(second.recoverInterrupted('resumed')).toEqual(['b']);
    expect(second.getStage('b', 'prestage')).toMatchObject({ status: 'planned', lastError: 'resumed' });
    second.close();
    first.close();
  });

  it('follows the plan: edited rows updated, removed rows no longer listed, added rows appended', () => {
    const state = openSqliteState(path.join(dir, 'campaign.sqlite'));
    state.syncAccounts([account('a', 2), account('b', 3)]);
    state.markRunning('b', 'verify', 'now');
    state.syncAccounts([{ ...account('c', 2) }, { ...account('a', 3), target: '/elsewhere' }]);
    expect(state.listAccounts()).toEqual([expect.objectContaining({ id: 'c' }), expect.objectContaining({ id: 'a', target: '/elsewhere', line: 3 })]);
    expect(state.listStages()).toEqual([]);
    state.close();
  });

  it("replaces a stage's skipped items and folders with the last attempt's", () => {
    const state = openSqliteState(path.join(dir, 'campaign.sqlite'));
    state.syncAccounts([account('a', 2)]);
    const outcome = { status: 'failed' as const, items: 1, bytes: 1, exitCode: 4, durationMs: 1, warnings: [] };
    state.markRunning('a', 'verify', 'now');
    state.recordOutcome('a', 'verify', { ...outcome, skipped: [{ item: 'INBOX k1', reason: 'missing on the target' }], folders: [{ folder: 'INBOX', sourceMessages: 2, targetMessages: 1, missing: 1 }] }, 'now');
    state.markRunning('a', 'verify', 'later');
    state.recordOutcome('a', 'verify', { ...outcome, status: 'done', exitCode: 0, skipped: [], folders: [{ folder: 'INBOX', sourceMessages: 2, targetMessages: 2, missing: 0 }] }, 'later');
    expect(state.listSkipped('a', 'verify')).toEqual([]);
    expect(state.listFolders('a', 'verify')).toEqual([{ folder: 'INBOX', sourceMessages: 2, targetMessages: 2, missing: 0 }]);
    expect(state.getStage('a', 'verify')).toMatchObject({ status: 'done', attempts: 2, durationMs: 2 });
    state.resetStage(['a'], 'verify');
    expect(state.getStage('a', 'verify')?.status).toBe('planned');
    state.close();
  });

  it('lists every current account\'s stage statuses in one read, leaving out rows no longer in the plan', () => {
    const state = openSqliteState(path.join(dir, 'statuses.sqlite'));
    state.syncAccounts([account('a', 2), account('b', 3), account('c', 4)]);
    state.recordOutcome('a', 'prestage', { status: 'done', items: 1, bytes: 1, exitCode: 0, durationMs: 1, skipped: [], warnings: [] }, '2026-12-07T10:00:00.000Z');
    state.markRunning('a', 'cutover', '2026-12-07T10:00:01.000Z');
    state.recordOutcome('b', 'prestage', { status: 'failed', items: 0, bytes: 0, exitCode: 1, durationMs: 1, skipped: [], warnings: [], error: 'refused' }, '2026-12-07T10:00:02.000Z');
    state.recordOutcome('c', 'prestage', { status: 'timed-out', items: 0, bytes: 0, exitCode: 75, durationMs: 1, skipped: [], warnings: [] }, '2026-12-07T10:00:03.000Z');
    state.syncAccounts([account('a', 2), account('b', 3)]);
    const statuses = state.listStageStatuses();
    expect([...statuses.keys()].sort()).toEqual(['a', 'b']);
    expect(Object.fromEntries(statuses.get('a')!)).toEqual({ prestage: 'done', cutover: 'running' });
    expect(Object.fromEntries(statuses.get('b')!)).toEqual({ prestage: 'failed' });
    state.close();
  });

  it('sums a stage\'s folders per account, and names the accounts with warnings, each in one read', () => {
    const state = openSqliteState(path.join(dir, 'totals.sqlite'));
    state.syncAccounts([account('a', 2), account('b', 3)]);
    const folders = [
      { folder: 'INBOX', sourceMessages: 10, targetMessages: 9, missing: 1 },
      { folder: 'Sent', sourceMessages: 4, targetMessages: 4, missing: 0 },
    ];
    state.recordOutcome('a', 'verify', { status: 'failed', items: 14, bytes: 0, exitCode: 4, durationMs: 1, skipped: [], warnings: ['Sent: 1 flag not kept'], folders }, '2026-12-07T10:00:00.000Z');
    state.recordOutcome('b', 'verify', { status: 'done', items: 1, bytes: 0, exitCode: 0, durationMs: 1, skipped: [], warnings: [], folders: [{ folder: 'INBOX', sourceMessages: 1, targetMessages: 1, missing: 0 }] }, '2026-12-07T10:00:00.000Z');
    const totals = state.listFolderTotals('verify');
    expect(totals.get('a')).toEqual({ folders: 2, sourceMessages: 14, targetMessages: 13, missing: 1, missingFolders: 1 });
    expect(totals.get('b')).toEqual({ folders: 1, sourceMessages: 1, targetMessages: 1, missing: 0, missingFolders: 0 });
    expect(state.listFolderTotals('prestage').size).toBe(0);
    expect([...state.listAccountsWithWarnings()]).toEqual(['a']);
    state.close();
  });

  it('records runs for the report', () => {
    const state = openSqliteState(path.join(dir, 'campaign.sqlite'));
    const id = state.beginRun('all', '0.1.0', 'abc', '2026-12-07T10:00:00.000Z');
    state.endRun(id, 3, '2026-12-07T11:00:00.000Z');
    expect(state.listRuns()).toEqual([{ id, stage: 'all', startedAt: '2026-12-07T10:00:00.000Z', endedAt: '2026-12-07T11:00:00.000Z', exitCode: 3, toolVersion: '0.1.0', planHash: 'abc' }]);
    state.close();
  });

  it('refuses a file that is not a campaign state, with a typed error', async () => {
    const file = path.join(dir, 'campaign.sqlite');
    await writeFile(file, 'this is not a database, it is a plan someone saved here by mistake\n'.repeat(100));
    expect(() => openSqliteState(file)).toThrowError(expect.objectContaining({ code: 'MAILSHIFT_CAMPAIGN_STATE' }));
  });
});
