import { describe, expect, it } from 'vitest';
import { BytePacer } from '../../../src/engine/messages/pacing.js';

describe('BytePacer', () => {
  it('lets one second of bytes through at once, then spaces the rest at the rate', () => {
    let now = 0;
    const pacer = new BytePacer(1000, undefined, () => now);
    expect(pacer.decideDelayMs(600)).toBe(0);
    expect(pacer.decideDelayMs(400)).toBe(0);
    expect(pacer.decideDelayMs(500)).toBe(500);
    // Half a second later that debt is paid; the next 1000 bytes wait a full second.
    now = 500;
    expect(pacer.decideDelayMs(1000)).toBe(1000);
    // A long pause refills the bucket to one second's worth, not more.
    now = 60_000;
    expect(pacer.decideDelayMs(1000)).toBe(0);
    expect(pacer.decideDelayMs(1000)).toBe(1000);
  });

  it('never waits without a rate', () => {
    const pacer = new BytePacer(undefined, undefined);
    expect(pacer.decideDelayMs(1e9)).toBe(0);
  });

  it('stops taking bytes at --max-bytes, but always lets the first message of a run through', () => {
    const pacer = new BytePacer(undefined, 100);
    expect(pacer.tryReserve(150)).toBe(true);
    expect(pacer.tryReserve(1)).toBe(false);
    const other = new BytePacer(undefined, 100);
    expect(other.tryReserve(60)).toBe(true);
    expect(other.tryReserve(40)).toBe(true);
    expect(other.tryReserve(1)).toBe(false);
    expect(other.reservedBytes).toBe(100);
  });
});
