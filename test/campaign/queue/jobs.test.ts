import { describe, expect, it } from 'vitest';
import { buildCampaignId, buildJobId, buildQueueName, parseStageJobProgress, parseStageJobResult } from '../../../src/campaign/queue/jobs.js';

describe('names in Redis', () => {
  it('gives the same campaign directory the same id, and another directory another one', () => {
    expect(buildCampaignId('/srv/migr/plan.campaign')).toBe(buildCampaignId('/srv/migr/plan.campaign'));
    expect(buildCampaignId('/srv/migr/plan.campaign')).not.toBe(buildCampaignId('/srv/migr/other.campaign'));
    expect(buildCampaignId('/x')).toMatch(/^c[0-9a-f]{12}$/);
  });

  it('derives a job id from campaign, stage and row, so adding the same stage of a row again names the same job', () => {
    expect(buildJobId('c1', 'alice', 'prestage')).toBe('c1-prestage-alice');
    expect(buildJobId('c1', 'alice', 'verify')).not.toBe(buildJobId('c1', 'alice', 'prestage'));
  });

  it("never puts a ':' in a queue name or job id (BullMQ refuses it), and keeps names that differ only there apart", () => {
    const a = buildQueueName('c1', 'mail.example.com:2222');
    const b = buildQueueName('c1', 'mail.example.com_2222');
    expect(a).not.toContain(':');
    expect(a).not.toBe(b);
    expect(b).toBe('mailshift-c1-mail.example.com_2222');
    expect(buildJobId('c1', 'info@a.example:1', 'cutover')).not.toContain(':');
    expect(buildJobId('c1', '12345', 'cutover')).toBe('c1-cutover-12345');
  });
});

describe('values read back from Redis', () => {
  it('reads a progress value a worker wrote, and nothing else', () => {
    expect(parseStageJobProgress({ worker: 'w1', attempt: 1, bytes: 10, items: 2 })).toEqual({ worker: 'w1', attempt: 1, bytes: 10, items: 2 });
    expect(parseStageJobProgress(42)).toBeUndefined();
    expect(parseStageJobProgress({ worker: 'w1' })).toBeUndefined();
  });

  it('reads a result with its outcome, and refuses one without', () => {
    const outcome = { status: 'done', items: 1, bytes: 2, exitCode: 0, durationMs: 3, skipped: [], warnings: [] };
    expect(parseStageJobResult({ worker: 'w1', attempt: 1, outcome })).toEqual({ worker: 'w1', attempt: 1, outcome });
    expect(parseStageJobResult({ worker: 'w1' })).toBeUndefined();
    expect(parseStageJobResult(null)).toBeUndefined();
  });
});
