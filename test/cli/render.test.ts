import { describe, expect, it } from 'vitest';
import { formatBytes, formatTable } from '../../src/cli/render.js';

describe('formatBytes', () => {
  it('prints whole bytes below 1 KB and one decimal below 10 units', () => {
    expect(formatBytes(228.758)).toBe('229 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(25 * 1024 * 1024)).toBe('25 MB');
  });
});

describe('formatTable', () => {
  it('pads columns and right-aligns numeric ones', () => {
    expect(formatTable(['NAME', 'N'], [['a', 1], ['bbb', 22]])).toBe('NAME   N\na      1\nbbb   22\n');
  });
});

describe('formatTable with names from the tree', () => {
  it('does not let a newline or an escape sequence in a folder name break a table row', () => {
    const text = formatTable(['FOLDER', 'COPIED'], [['line\nbreak', 1], ['bad\u001b[31mname', 2], ['Entwürfe', 3]]);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^line\\x0abreak +1$/);
    expect(lines[2]).toMatch(/^bad\\x1b\[31mname +2$/);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines[3]).toMatch(/^Entwürfe +3$/);
    expect(text).not.toMatch(/\u001b/);
  });
});
