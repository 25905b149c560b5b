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
