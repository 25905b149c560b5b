import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReportMask } from '../../../src/campaign/report/mask.js';
import { buildAccountJson, buildTotals, readAccountDetail, readAccountSummary, type AccountSummary } from '../../../src/campaign/report/model.js';
import type { CampaignState } from '../../../src/campaign/state/types.js';
import { fillSampleCampaign, hostileFolder, openTempState, planRow, sampleRows } from '../../support/campaign-state.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

let temp: TempDir;
let state: CampaignState;
beforeAll(async () => {
  temp = await makeTempDir('report-model');
  state = openTempState(temp.path, sampleRows);
  fillSampleCampaign(state);
});
afterAll(async () => {
  state?.close();
  await temp?.cleanup();
});

const customer = () => buildReportMask(sampleRows, 'customer');
function summaryOf(id: string, mask = customer()): AccountSummary {
  const index = sampleRows.findIndex((row) => row.id === id);
  return readAccountSummary(state, sampleRows[index]!, index, mask);
}

describe('account summary', () => {
  it('adds up what the copy stages moved and what verify counted, over every attempt', () => {
    const bob = summaryOf('bob');
    expect(bob.verdict.verdict).toBe('complete-with-exceptions');
    expect(bob.counts).toEqual({ copiedItems: 17, copiedBytes: 152_000, skippedItems: 1, sourceMessages: 16, targetMessages: 16, missing: 0 });
    expect(bob.attempts).toBe(3);
    expect(bob.durationMs).toBe(4500);
    expect(bob.stages.map((record) => record.stage)).toEqual(['prestage', 'cutover', 'verify']);
    const dave = summaryOf('dave');
    expect(dave.attempts).toBe(2);
    expect(dave.durationMs).toBe(1_200_000);
    expect(dave.verdict.outcome).toBe('not-finished');
  });

  it('has no verify counts before verify compared the account (null, not zero)', () => {
    expect(summaryOf('erin').counts).toMatchObject({ copiedItems: 7, sourceMessages: null, targetMessages: null, missing: null });
    expect(summaryOf('erin').verdict.verdict).toBe('unverified');
  });

  it('counts a row the state has never seen as not started', () => {
    const newcomer = planRow('zoe');
    const summary = readAccountSummary(state, newcomer, 7, customer());
    expect(summary.verdict).toMatchObject({ verdict: 'incomplete', outcome: 'not-finished', status: 'planned', reason: 'Not started yet.' });
    expect(summary.stages).toEqual([]);
    expect(summary.attempts).toBe(0);
  });

  it('masks the hosts in source, target, group and errors for a customer, and shows them in a full report', () => {
    const carol = summaryOf('carol');
    expect([carol.source, carol.target, carol.group]).toEqual(['imaps://carol@source-host', 'imaps://carol@target-host', 'source-host']);
    expect(carol.firstError).toBe('login refused by source-host ([address]): check the credentials');
    expect(carol.verdict.reason).toBe('The pre-stage copy failed: login refused by source-host ([address]): check the credentials.');
    const full = summaryOf('carol', buildReportMask(sampleRows, 'full'));
    expect(full.source).toBe('imaps://carol@mail.old.example');
    expect(full.firstError).toBe('login refused by mail.old.example (192.0.2.7): check the credentials');
  });
});

describe('account detail and its JSON', () => {
  it('lists verify folders with their difference, and every skipped item and warning with its stage', () => {
    const grace = summaryOf('grace');
    const json = buildAccountJson(grace, readAccountDetail(state, grace, customer()));
    expect(json).toMatchObject({ id: 'grace', status: 'failed', verdict: 'incomplete', counts: { source_messages: 15, target_messages: 13, missing: 2 } });
    expect(json['folders']).toEqual([
      { name: hostileFolder, source_messages: 5, target_messages: 3, difference: -2, missing: 2 },
      { name: 'INBOX', source_messages: 10, target_messages: 10, difference: 0, missing: 0 },
    ]);
    const bob = summaryOf('bob');
    expect(readAccountDetail(state, bob, customer()).skipped).toEqual([
      { stage: 'cutover', item: 'INBOX/1700000000.M1P2.source-host,S=99', reason: 'cut off at byte 12 (read from source-host): re-export it' },
    ]);
    const erin = summaryOf('erin');
    expect(readAccountDetail(state, erin, customer()).warnings).toEqual([{ stage: 'prestage', text: 'INBOX: 2 flags not kept (the target has no keywords)' }]);
  });

  it('gives each stage record, its error masked, with durations in seconds', () => {
    const carol = summaryOf('carol');
    const json = buildAccountJson(carol, readAccountDetail(state, carol, customer()));
    expect(json['stages']).toEqual([
      {
        stage: 'prestage',
        status: 'failed',
        attempts: 1,
        items: 0,
        bytes: 0,
        skipped: 0,
        started: '2026-12-07T04:00:00.000Z',
        ended: '2026-12-07T04:01:00.000Z',
        duration_s: 1.5,
        exit_code: 1,
        error: 'login refused by source-host ([address]): check the credentials',
        failure_kind: 'permanent',
        route: null,
      },
    ]);
  });
});

describe('totals', () => {
  it('count every account once by status and by verdict, and add up copies, skips and missing messages', () => {
    const totals = buildTotals(sampleRows.map((row, index) => readAccountSummary(state, row, index, customer())));
    expect(totals.accounts).toBe(7);
    expect(totals.byStatus).toEqual({ planned: 1, running: 0, done: 2, 'done-with-skips': 1, failed: 2, 'timed-out': 1 });
    expect(totals.byVerdict).toEqual({ complete: 1, 'complete-with-exceptions': 1, incomplete: 4, unverified: 1 });
    // A stage's items are those of its last attempt, as the state keeps them (dave: 6 of his second attempt).
    expect(totals).toMatchObject({ copiedItems: 15 * 3 + 2 + 6 + 7, skippedItems: 1, missing: 2 });
  });
});
