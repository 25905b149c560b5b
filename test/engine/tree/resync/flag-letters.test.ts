import { describe, expect, it } from 'vitest';
import { KeywordAllocator } from '../../../../converters/maildir/keywords.js';
import { describeFlags, translateInfo } from '../../../../src/engine/tree/resync/flag-letters.js';

describe('describeFlags and translateInfo', () => {
  it('describes flags by letter and keyword name, independent of letter order', () => {
    expect(describeFlags('SRa', new Map([[0, 'Work']]))).toBe(describeFlags('RSb', new Map([[1, 'Work']])));
    expect(describeFlags('S', new Map())).not.toBe(describeFlags('RS', new Map()));
    expect(describeFlags(undefined, new Map())).toBe(describeFlags('', new Map()));
  });

  it('drops a keyword that fits no free letter, and reports it', () => {
    const full = new Map(Array.from({ length: 26 }, (_, i) => [i, `k${i}`] as [number, string]));
    const dropped = new Set<string>();
    const out = translateInfo('Sa', new Map([[0, 'Brand-new']]), full, new KeywordAllocator(full), dropped);
    expect(out).toBe('S');
    expect([...dropped]).toEqual(['Brand-new']);
  });

  it('keeps a letter the source does not name when the target does not name it either', () => {
    const dropped = new Set<string>();
    expect(translateInfo('Sc', new Map(), new Map(), new KeywordAllocator(new Map()), dropped)).toBe('Sc');
    expect(translateInfo('Sc', new Map(), new Map([[2, 'Other']]), new KeywordAllocator(new Map([[2, 'Other']])), dropped)).toBe('S');
  });
});
