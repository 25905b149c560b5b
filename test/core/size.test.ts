import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseSizeBytes as parseMaxSize } from '../../src/cli/commands/imap-options.js';
import { parseSize } from '../../src/core/size.js';
import { parseSizeBytes as parseTargetQuota } from '../../src/discover/size.js';

const KiB = 1024;

function bytesOf(text: string): number | undefined {
  const parsed = parseSize(text);
  return parsed.ok ? parsed.bytes : undefined;
}

describe('parseSize', () => {
  it('reads a plain number as bytes', () => {
    expect(parseSize('45000000')).toEqual({ ok: true, bytes: 45_000_000 });
    expect(bytesOf('0')).toBe(0);
  });

  it('reads K, M, G and T as powers of 1024, as du -h and mail quotas do', () => {
    expect(bytesOf('500K')).toBe(500 * KiB);
    expect(bytesOf('35M')).toBe(35 * KiB ** 2);
    expect(bytesOf('2G')).toBe(2 * KiB ** 3);
    expect(bytesOf('1T')).toBe(KiB ** 4);
  });

  it('takes the unit in any case, with an optional i and B after it', () => {
    for (const text of ['4k', '4K', '4KB', '4kb', '4KiB', '4kib', '4Ki']) expect(bytesOf(text), text).toBe(4 * KiB);
    for (const text of ['7B', '7b', '7iB']) expect(bytesOf(text), text).toBe(7);
  });

  it('takes decimals and rounds to a whole byte', () => {
    expect(bytesOf('1.5GB')).toBe(1.5 * KiB ** 3);
    expect(bytesOf('0.5K')).toBe(512);
    expect(bytesOf('1.0001K')).toBe(1024);
  });

  it('allows spaces around the number and between the number and the unit', () => {
    expect(bytesOf('  10 G  ')).toBe(10 * KiB ** 3);
    expect(bytesOf('\t2GiB\n')).toBe(2 * KiB ** 3);
  });

  it('refuses what is not a size, saying what one looks like', () => {
    for (const text of ['', ' ', 'ten', '-5M', '+5M', '5X', '1e9', '5 M B', '.5M', '5.M', '5MM', '5BB', '1,5G', '5P']) {
      expect(parseSize(text), text).toEqual({ ok: false, reason: 'expected a size like 35M, 500K, 1.5G, 1T or 45000000' });
    }
  });

  it('refuses a size that a number cannot count to the byte (8 PiB and more)', () => {
    expect(parseSize('8192T')).toEqual({ ok: false, reason: 'too large: a size must be below 8 PiB (2^53 bytes)' });
    expect(parseSize('9'.repeat(400)).ok).toBe(false);
    expect(bytesOf('8191T')).toBe(8191 * KiB ** 4);
  });
});

/** The two grammars this parser replaces, as they stood (discover's --target-quota and the IMAP --max-size). */
const before = {
  targetQuota(text: string): number | undefined {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$/i.exec(text);
    if (!m) return undefined;
    const bytes = Math.round(Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase() as '']);
    return Number.isSafeInteger(bytes) ? bytes : undefined;
  },
  maxSize(text: string): number | undefined {
    const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)i?B?$/i.exec(text.trim());
    return m ? Math.round(Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '']) : undefined;
  },
};

const inputs = [
  ...['0', '1', '1048576', '45000000', '1.5', '0.25', '12.75'].flatMap((n) =>
    ['', 'k', 'K', 'm', 'M', 'g', 'G', 't', 'T'].flatMap((unit) => ['', 'i', 'I', 'b', 'B', 'ib', 'iB', 'IB'].flatMap((tail) => [`${n}${unit}${tail}`, ` ${n} ${unit}${tail} `])),
  ),
  ...['', 'ten', '-5M', '5X', '1e9', '5P', '5 M B', '0x10', '5MiBB'],
];

describe('one grammar for --max-size and --target-quota', () => {
  it('gives --target-quota the same size for every text it took before, and more forms (5Ki) now', () => {
    for (const text of inputs) {
      const was = before.targetQuota(text);
      if (was !== undefined) expect(parseTargetQuota(text), JSON.stringify(text)).toBe(was);
    }
    expect(parseTargetQuota('5Ki')).toBe(5 * KiB);
  });

  it('gives --max-size the same size for every text it took before, and takes T now', () => {
    for (const text of inputs) {
      const was = before.maxSize(text);
      if (was !== undefined && Number.isSafeInteger(was)) expect(parseMaxSize(text), JSON.stringify(text)).toBe(was);
    }
    expect(parseMaxSize('1T')).toBe(KiB ** 4);
  });

  it('refuses for --max-size what it once took as a number that no longer counted every byte (8 PiB and more)', () => {
    expect(Number.isSafeInteger(before.maxSize('45000000G'))).toBe(false);
    expect(() => parseMaxSize('45000000G')).toThrow('too large: a size must be below 8 PiB (2^53 bytes)');
  });

  it('refuses for --max-size, as commander expects, what is not a size', () => {
    expect(() => parseMaxSize('ten')).toThrow(InvalidArgumentError);
    expect(() => parseMaxSize('ten')).toThrow('expected a size like 35M, 500K, 1.5G, 1T or 45000000');
  });
});
