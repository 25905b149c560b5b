import { describe, expect, it } from 'vitest';
import { applyEvent, createCampaignView, createFleetState, formatEventLine, formatFleetLine } from '../../../src/cli/commands/campaign-view.js';
import type { CampaignEvent } from '../../../src/campaign/run.js';

const MB = 1024 * 1024;
const start: CampaignEvent = { type: 'campaign-start', stages: ['prestage', 'cutover'], accounts: 4, toRun: 3, alreadyDone: 1, bytesTotal: 300 * MB, resumed: [] };

describe('the fleet line', () => {
  it('counts accounts ended, running and failed, and gives the ETA by bytes', () => {
    const fleet = createFleetState(0);
    const events: CampaignEvent[] = [
      start,
      { type: 'account-start', id: 'a', stage: 'prestage', attempt: 1, sizeBytes: 100 * MB },
      { type: 'account-end', id: 'a', stage: 'prestage', status: 'done', items: 10, bytes: 100 * MB, skipped: 0, durationMs: 1 },
      { type: 'account-start', id: 'a', stage: 'cutover', attempt: 1, sizeBytes: 100 * MB },
      { type: 'account-end', id: 'a', stage: 'cutover', status: 'done', items: 0, bytes: 0, skipped: 0, durationMs: 1 },
      { type: 'account-start', id: 'b', stage: 'prestage', attempt: 1, sizeBytes: 100 * MB },
      { type: 'account-progress', id: 'b', stage: 'prestage', bytes: 50 * MB, items: 5 },
      { type: 'account-start', id: 'c', stage: 'prestage', attempt: 1, sizeBytes: 100 * MB },
      { type: 'account-end', id: 'c', stage: 'prestage', status: 'failed', items: 0, bytes: 0, skipped: 0, durationMs: 1, error: 'login refused' },
    ];
    for (const event of events) applyEvent(fleet, event);
    // 150 MB in 10 s: 15 MB/s, 150 MB to go: 10 s.
    expect(formatFleetLine(fleet, 10_000)).toBe('2/3 accounts ended, 1 running, 1 failed; 150 MB of 300 MB, 15 MB/s, ETA 10.0 s');
  });
});

describe('the log lines (not on a terminal)', () => {
  it('writes one line per state change, none for progress', () => {
    expect(formatEventLine(start)).toBe('campaign: prestage, cutover for 3 of 4 account(s) (1 already done)');
    expect(formatEventLine({ type: 'account-end', id: 'bob', stage: 'verify', status: 'failed', items: 3, bytes: 2048, skipped: 1, durationMs: 1500, error: 'verify found differences' })).toBe(
      'bob: verify failed: 3 item(s), 2.0 KB, 1 skipped, 1.5 s (verify found differences)',
    );
    expect(formatEventLine({ type: 'account-progress', id: 'bob', stage: 'verify', bytes: 1, items: 1 })).toBeUndefined();
  });

  it('shows a hostile account id as text, never as terminal control', () => {
    expect(formatEventLine({ type: 'account-start', id: 'evil\x1b[2J', stage: 'prestage', attempt: 1 })).not.toContain('\x1b');
  });

  it('prints every event as one JSON line with --json', () => {
    const out: string[] = [];
    const view = createCampaignView('json', { out: (t) => out.push(t), err: () => {} }, () => 0);
    view.onEvent(start);
    expect(out).toEqual([`${JSON.stringify({ at: '1970-01-01T00:00:00.000Z', ...start })}\n`]);
  });
});
