import { describe, expect, it } from 'vitest';
import { decodeMutf7, encodeMutf7, isCanonicalMutf7, Mutf7Error } from '../../../converters/folders/mutf7.js';

describe('modified UTF-7 (RFC 3501 §5.1.3)', () => {
  it('encodes the worked examples', () => {
    expect(encodeMutf7('Entwürfe')).toBe('Entw&APw-rfe');
    expect(encodeMutf7('~peter/mail/台北/日本語')).toBe('~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    expect(encodeMutf7('Tom & Jerry')).toBe('Tom &- Jerry');
  });
  it('round-trips astral characters through surrogate pairs', () => {
    const name = 'Mail 📬 box';
    expect(decodeMutf7(encodeMutf7(name))).toBe(name);
  });
  it('decodes and rejects malformed runs', () => {
    expect(decodeMutf7('Entw&APw-rfe')).toBe('Entwürfe');
    expect(() => decodeMutf7('bad&APw')).toThrow(Mutf7Error);
    expect(() => decodeMutf7('bad&A*w-')).toThrow(Mutf7Error);
    expect(isCanonicalMutf7('Entw&APw-rfe')).toBe(true);
    expect(isCanonicalMutf7('Entwürfe')).toBe(false);
  });
});
