import { describe, expect, it } from 'vitest';
import { toCrlf, toLf } from '../../../converters/message/crlf.js';

describe('toCrlf', () => {
  it('turns bare LF into CRLF, also at the very start, and keeps existing CRLF and bare CR', () => {
    expect(toCrlf(Buffer.from('\na\nb\r\nc\rd\n')).toString()).toBe('\r\na\r\nb\r\nc\rd\r\n');
  });
  it('returns the same buffer when there is nothing to change', () => {
    const already = Buffer.from('a\r\nb');
    expect(toCrlf(already)).toBe(already);
    const none = Buffer.from('no newline');
    expect(toCrlf(none)).toBe(none);
  });
  it('leaves binary bytes alone', () => {
    expect([...toCrlf(Buffer.from([0x00, 0xff, 0x0a, 0x80]))]).toEqual([0x00, 0xff, 0x0d, 0x0a, 0x80]);
  });
});

describe('toLf', () => {
  it('turns CRLF into LF and leaves bare LF and bare CR alone', () => {
    expect(toLf(Buffer.from('\r\na\r\nb\nc\rd\r\n')).toString()).toBe('\na\nb\nc\rd\n');
  });
  it('is the inverse of toCrlf for LF messages', () => {
    const lf = Buffer.from('From: a\n\nbody\n\nmore\n');
    expect(toLf(toCrlf(lf)).equals(lf)).toBe(true);
  });
  it('returns the same buffer when there is no CRLF', () => {
    const plain = Buffer.from('a\nb');
    expect(toLf(plain)).toBe(plain);
  });
});
