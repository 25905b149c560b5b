import { describe, expect, it } from 'vitest';
import { formatDovecotKeywords, isValidKeyword, KeywordAllocator, parseDovecotKeywords } from '../../../converters/maildir/keywords.js';

describe('dovecot-keywords', () => {
  it('round-trips the index table', () => {
    const table = parseDovecotKeywords('0 $Junk\n1 $NonJunk\n2 $label1\n');
    expect(formatDovecotKeywords(table)).toBe('0 $Junk\n1 $NonJunk\n2 $label1\n');
  });
  it('reuses existing letters and fills free ones; the 27th keyword has no letter', () => {
    const allocator = new KeywordAllocator(new Map([[1, 'Work']]));
    expect(allocator.indexOf('Work')).toBe(1);
    expect(allocator.indexOf('New')).toBe(0);
    for (let i = 0; i < 24; i++) expect(allocator.indexOf(`k${i}`)).toBeDefined();
    expect(allocator.indexOf('one too many')).toBeUndefined();
    expect(allocator.hasChanged).toBe(true);
  });
  it('accepts IMAP atoms only', () => {
    expect(isValidKeyword('$Forwarded')).toBe(true);
    for (const bad of ['', 'two words', 'a(b', '\\Seen', 'x]']) expect(isValidKeyword(bad)).toBe(false);
  });
});
