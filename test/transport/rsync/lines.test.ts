import { describe, expect, it } from 'vitest';
import { createLineSplitter } from '../../../src/transport/rsync/lines.js';

describe('createLineSplitter', () => {
  it('splits on \\n and \\r across chunk boundaries and skips empty lines', () => {
    const lines: string[] = [];
    const splitter = createLineSplitter((line) => lines.push(line));
    splitter.push('a\r\nb');
    splitter.push('c\rd\n\n');
    splitter.push('tail');
    splitter.end();
    expect(lines).toEqual(['a', 'bc', 'd', 'tail']);
  });

  it('does not break a multi-byte character split between chunks', () => {
    const lines: string[] = [];
    const splitter = createLineSplitter((line) => lines.push(line));
    const bytes = Buffer.from('Entwürfe\n', 'utf8');
    splitter.push(bytes.subarray(0, 6));
    splitter.push(bytes.subarray(6));
    splitter.end();
    expect(lines).toEqual(['Entwürfe']);
  });

  it('never holds more than the line limit', () => {
    const lines: string[] = [];
    const splitter = createLineSplitter((line) => lines.push(line), 10);
    splitter.push('x'.repeat(25));
    expect(lines).toEqual(['x'.repeat(10), 'x'.repeat(10)]);
    splitter.end();
    expect(lines.at(-1)).toBe('xxxxx');
  });
});
