import { describe, expect, it } from 'vitest';
import { chunkUids, formatUidSet, isSendableKeyword, splitImapFlags } from '../../../src/stores/imap/store.js';

describe('splitImapFlags', () => {
  it('separates system flags (any case) from keywords and drops \\Recent and unknown system flags', () => {
    const { flags, keywords } = splitImapFlags(['\\Seen', '\\ANSWERED', '\\Recent', '\\Whatever', '$Forwarded', 'project-x']);
    expect([...flags].sort()).toEqual(['\\Answered', '\\Seen']);
    expect([...keywords].sort()).toEqual(['$Forwarded', 'project-x']);
  });
});

describe('isSendableKeyword', () => {
  it('accepts IMAP atoms only', () => {
    expect(isSendableKeyword('$Label1')).toBe(true);
    expect(isSendableKeyword('has space')).toBe(false);
    expect(isSendableKeyword('paren(')).toBe(false);
    expect(isSendableKeyword('ümlaut')).toBe(false);
    expect(isSendableKeyword('')).toBe(false);
  });
});

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
