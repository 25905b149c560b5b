import { describe, expect, it } from 'vitest';
import { checkFileName, checkNameSegment } from '../../src/cpanel/unsafe.js';

/** The rules that make a name unsafe to turn into a path: what discover reports and copy and resync refuse. */

describe('names that become paths', () => {
  it('rejects traversal, separators, control characters and undecodable bytes', () => {
    expect(checkNameSegment('info')).toBeUndefined();
    expect(checkNameSegment("o'brien+tag")).toBeUndefined();
    expect(checkNameSegment('..')).toBeDefined();
    expect(checkNameSegment('a..b')).toBeDefined();
    expect(checkNameSegment('../../etc')).toBeDefined();
    expect(checkNameSegment('a\nb')).toBeDefined();
    expect(checkNameSegment('caf\uFFFD')).toBeDefined();
    expect(checkFileName('1700000000.M1P1.host name; $(id),S=5:2,S')).toBeUndefined();
    expect(checkFileName('1700000000.M1P1.host\u001b[2J')).toBeDefined();
  });
});
