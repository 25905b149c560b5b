import { describe, expect, it } from 'vitest';
import { chunkUids, formatUidSet } from '../../../src/stores/imap/uid-set.js';

describe('formatUidSet and chunkUids', () => {
  it('compresses runs', () => {
    expect(formatUidSet([5, 1, 2, 3, 9, 12, 13, 14])).toBe('1:3,5,9,12:14');
    expect(formatUidSet([7])).toBe('7');
  });
  it('keeps every UID exactly once and each set short', () => {
    const uids = Array.from({ length: 5000 }, (_, i) => i * 3 + 1_000_000);
    const chunks = chunkUids(uids, 2000, 500);
    expect(chunks.flat()).toEqual(uids);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(500);
      expect(formatUidSet(chunk).length).toBeLessThanOrEqual(2000);
    }
  });
});
