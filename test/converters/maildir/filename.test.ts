import { describe, expect, it } from 'vitest';
import { buildConvertedBaseName, convertedNameHash, ConvertedNameSequence, readConvertedNameHash, decodeInfo, formatInfo, maildirBaseName, parseMaildirName, resolveKeywords } from '../../../converters/maildir/filename.js';

describe('maildir file names', () => {
  it('separates the stable base name from the flags', () => {
    const name = '1491941793.M41850P8566V0000000000000015I0000000004F3030E_0.mx1.example.com,S=10956:2,STln';
    expect(maildirBaseName(name)).toBe('1491941793.M41850P8566V0000000000000015I0000000004F3030E_0.mx1.example.com,S=10956');
    expect(parseMaildirName(name)).toMatchObject({ info: 'STln', sizeBytes: 10956 });
    expect(parseMaildirName('123.abc.host,S=5,W=7')).toEqual({ base: '123.abc.host,S=5,W=7', sizeBytes: 5, virtualSizeBytes: 7 });
  });
  it('decodes system flags, P, keyword letters and keeps unknown letters', () => {
    const info = decodeInfo('DFPRSTacZ,extra');
    expect([...info.flags].sort()).toEqual(['\\Answered', '\\Deleted', '\\Draft', '\\Flagged', '\\Seen']);
    expect(info.hasPassed).toBe(true);
    expect(info.keywordIndexes).toEqual([0, 2]);
    expect(info.unknown).toBe('Z');
  });
  it('writes flag letters sorted by byte value, keywords after system flags', () => {
    expect(formatInfo(['\\Seen', '\\Answered', '\\Flagged'], [1, 0], { passed: true })).toBe('FPRSab');
    expect(() => formatInfo([], [26])).toThrow(RangeError);
    expect(() => formatInfo([], [-1])).toThrow(RangeError);
    expect(formatInfo(['\\Draft', '\\Deleted', '\\Seen', '\\Seen'], [25, 3, 3])).toBe('DSTdz');
    expect(formatInfo([], [])).toBe('');
  });
  it('derives converted base names from the content only', () => {
    const base = buildConvertedBaseName({ receivedSecs: 1000.9, contentHashHex: 'ab'.repeat(32), ordinal: 0, sizeBytes: 10, virtualSizeBytes: 12 });
    expect(base).toBe(`1000.M${'ab'.repeat(12)}.mailshift,S=10,W=12`);
    expect(buildConvertedBaseName({ receivedSecs: 1000, contentHashHex: 'ab'.repeat(32), ordinal: 2, sizeBytes: 10, virtualSizeBytes: 12 })).toContain('Q2.mailshift');
    // The hash a name was built from can be read back out of it, flags or not; another tool's name has none.
    expect(readConvertedNameHash(`${base}:2,FS`)).toBe(convertedNameHash('ab'.repeat(32)));
    expect(readConvertedNameHash(buildConvertedBaseName({ receivedSecs: 1000, contentHashHex: 'cd'.repeat(32), ordinal: 2, sizeBytes: 10, virtualSizeBytes: 12 }))).toBe('cd'.repeat(12));
    expect(readConvertedNameHash('1700000003.M1P2.host:2,S')).toBeUndefined();
  });
});

describe('resolveKeywords', () => {
  it('names keyword letters through the folder table and carries P as $Forwarded', () => {
    const info = decodeInfo('PSac');
    expect([...resolveKeywords(info, new Map([[0, 'Work'], [2, '$Junk']]))].sort()).toEqual(['$Forwarded', '$Junk', 'Work']);
    expect([...resolveKeywords(decodeInfo('b'), new Map())]).toEqual([]);
  });
});

describe('ConvertedNameSequence', () => {
  it('numbers identical messages of one file by their order, and only those', () => {
    const names = new ConvertedNameSequence();
    const parts = { receivedSecs: 1_600_000_000, contentHashHex: 'ab'.repeat(32), sizeBytes: 10, virtualSizeBytes: 11 };
    const first = names.next(parts);
    const other = names.next({ ...parts, contentHashHex: 'cd'.repeat(32) });
    const twin = names.next(parts);
    expect(first).toBe(buildConvertedBaseName({ ...parts, ordinal: 0 }));
    expect(other).toBe(buildConvertedBaseName({ ...parts, contentHashHex: 'cd'.repeat(32), ordinal: 0 }));
    expect(twin).toBe(buildConvertedBaseName({ ...parts, ordinal: 1 }));
    expect(twin).not.toBe(first);
  });
});
