import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { takeCampaignLock } from '../../../src/campaign/state/lock.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'campaign-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('takeCampaignLock', () => {
  it('lets one process in and refuses a second, naming the first', async () => {
    const lock = await takeCampaignLock(dir, 'mailshift campaign plan.csv');
    const second = takeCampaignLock(dir, 'mailshift campaign plan.csv --stage verify', () => true);
    await expect(second).rejects.toMatchObject({ code: 'MAILSHIFT_CAMPAIGN_LOCKED', message: expect.stringContaining(`pid ${process.pid} on ${hostname()}`) });
    await lock.release();
    const third = await takeCampaignLock(dir, 'again');
    await third.release();
  });

  it('takes over a lock whose process is gone', async () => {
    await writeFile(path.join(dir, 'campaign.lock'), JSON.stringify({ pid: 999_999_999, host: hostname(), startedAt: 'yesterday', command: 'mailshift campaign' }));
    const lock = await takeCampaignLock(dir, 'mailshift campaign', () => false);
    expect(await readdir(dir)).toEqual(['campaign.lock']);
    await lock.release();
  });

  it('never takes over a lock of another host: its process cannot be checked from here', async () => {
    await writeFile(path.join(dir, 'campaign.lock'), JSON.stringify({ pid: 1, host: 'other-host', startedAt: 'yesterday', command: 'mailshift campaign' }));
    await expect(takeCampaignLock(dir, 'x', () => false)).rejects.toMatchObject({ code: 'MAILSHIFT_CAMPAIGN_LOCKED', hint: expect.stringContaining('delete') });
  });

  it('waits rather than takes over a lock file created a moment ago and not yet written', async () => {
    await writeFile(path.join(dir, 'campaign.lock'), '');
    await expect(takeCampaignLock(dir, 'x', () => false)).rejects.toMatchObject({ code: 'MAILSHIFT_CAMPAIGN_LOCKED' });
    const old = new Date(Date.now() - 120_000);
    await utimes(path.join(dir, 'campaign.lock'), old, old);
    const lock = await takeCampaignLock(dir, 'x', () => false);
    await lock.release();
  });
});
