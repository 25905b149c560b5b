import { describe, expect, it } from 'vitest';
import { toCrlf, toLfInPlace } from '../../../converters/message/crlf.js';

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

describe('toLfInPlace', () => {
  it('turns CRLF into LF and leaves bare LF and bare CR alone', () => {
    expect(toLfInPlace(Buffer.from('\r\na\r\nb\nc\rd\r\n')).content.toString()).toBe('\na\nb\nc\rd\n');
  });
  it('is the inverse of toCrlf for LF messages', () => {
    const lf = Buffer.from('From: a\n\nbody\n\nmore\n');
    expect(toLfInPlace(toCrlf(lf)).content.equals(lf)).toBe(true);
  });
  it('works in the buffer it is given (no copy) and leaves a buffer without CRLF as it is', () => {
    const crlf = Buffer.from('a\r\nb\r\n');
    const { content } = toLfInPlace(crlf);
    expect(content.buffer).toBe(crlf.buffer);
    expect(content.toString()).toBe('a\nb\n');
    const plain = Buffer.from('a\nb');
    expect(toLfInPlace(plain).content).toBe(plain);
  });
  it('reports the RFC822.SIZE: the CRLF size, with every bare LF counted as two bytes', () => {
    expect(toLfInPlace(Buffer.from('a\r\nb\r\n')).virtualSizeBytes).toBe(6);
    expect(toLfInPlace(Buffer.from('a\nb\r\nc')).virtualSizeBytes).toBe(7);
    expect(toLfInPlace(Buffer.from('')).virtualSizeBytes).toBe(0);
  });
  it('handles a CRLF at the very start and the very end, and CR CR LF', () => {
    expect(toLfInPlace(Buffer.from('\r\n')).content.toString()).toBe('\n');
    expect(toLfInPlace(Buffer.from('x\r\r\n')).content.toString()).toBe('x\r\n');
  });
});
