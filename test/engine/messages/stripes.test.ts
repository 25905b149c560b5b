import { describe, expect, it } from 'vitest';
import { decideExtraReaders, planReadStripes } from '../../../src/engine/messages/stripes.js';

const ref = (uid: number, sizeBytes?: number) => ({ id: String(uid), uid, flags: new Set<never>(), keywords: new Set<string>(), ...(sizeBytes !== undefined ? { sizeBytes } : {}) });

describe('planReadStripes', () => {
  it('cuts UIDs into consecutive runs of about the stripe size, every message once and in order', () => {
    const refs = Array.from({ length: 10 }, (_, i) => ref(i + 1, 100));
    const stripes = planReadStripes(refs, 300);
    expect(stripes.map((stripe) => stripe.map((each) => each.uid))).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
  });

  it('gives a message larger than a stripe a stripe of its own', () => {
    const stripes = planReadStripes([ref(1, 10), ref(2, 5_000), ref(3, 10)], 100);
    expect(stripes.map((stripe) => stripe.map((each) => each.uid))).toEqual([[1], [2], [3]]);
  });

  it('never puts more than the message limit in one stripe, whatever their size', () => {
    const refs = Array.from({ length: 7 }, (_, i) => ref(i + 1, 1));
    expect(planReadStripes(refs, 1_000_000, 3).map((stripe) => stripe.length)).toEqual([3, 3, 1]);
  });

  it('counts a message without a listed size as the fallback size', () => {
    const refs = [ref(1), ref(2), ref(3)];
    expect(planReadStripes(refs, 250, 500, 100).map((stripe) => stripe.length)).toEqual([2, 1]);
  });

  it('plans nothing for nothing', () => {
    expect(planReadStripes([], 100)).toEqual([]);
  });
});

describe('decideExtraReaders', () => {
  const mb = 1024 * 1024;

  it('reads a folder under the split size over its own connection only', () => {
    const decision = decideExtraReaders({ bytes: 5 * mb, stripes: 3, connections: 4, splitMinBytes: 8 * mb });
    expect(decision.extra).toBe(0);
    expect(decision.reason).toMatch(/under the 8\.0 MB/);
  });

  it('uses one more connection per further split size, up to the run\'s other connections', () => {
    expect(decideExtraReaders({ bytes: 8 * mb, stripes: 4, connections: 4, splitMinBytes: 8 * mb }).extra).toBe(1);
    expect(decideExtraReaders({ bytes: 24 * mb, stripes: 12, connections: 4, splitMinBytes: 8 * mb }).extra).toBe(2);
    expect(decideExtraReaders({ bytes: 800 * mb, stripes: 400, connections: 4, splitMinBytes: 8 * mb }).extra).toBe(3);
  });

  it('never uses more connections than there are stripes to share, nor any when the run has one', () => {
    expect(decideExtraReaders({ bytes: 100 * mb, stripes: 2, connections: 8, splitMinBytes: 8 * mb }).extra).toBe(1);
    expect(decideExtraReaders({ bytes: 100 * mb, stripes: 1, connections: 8, splitMinBytes: 8 * mb }).extra).toBe(0);
    expect(decideExtraReaders({ bytes: 100 * mb, stripes: 50, connections: 1, splitMinBytes: 8 * mb })).toMatchObject({ extra: 0, reason: expect.stringMatching(/one per side/) });
  });
});
