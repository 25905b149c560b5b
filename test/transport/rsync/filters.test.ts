import { describe, expect, it } from 'vitest';
import { buildAnchoredRule, escapeFilterLiteral, formatFilterFile } from '../../../src/transport/rsync/filters.js';

describe('escapeFilterLiteral', () => {
  it('turns every wildcard and backslash into a one-character class', () => {
    expect(escapeFilterLiteral('example.com')).toBe('example.com');
    expect(escapeFilterLiteral('a*b?c[d]e\\f')).toBe('a[*]b[?]c[[]d[]]e[\\\\]f');
  });
});

describe('buildAnchoredRule', () => {
  it('anchors at the transfer root and marks directories', () => {
    expect(buildAnchoredRule('exclude', 'example.com/info', true)).toEqual({ action: 'exclude', pattern: '/example.com/info/' });
  });

  it('refuses paths that are not clean relative paths', () => {
    expect(() => buildAnchoredRule('exclude', 'a/../b', true)).toThrow(/clean/);
    expect(() => buildAnchoredRule('exclude', '', true)).toThrow(/clean/);
  });
});

describe('formatFilterFile', () => {
  it('writes one NUL-terminated rule per entry', () => {
    const buf = formatFilterFile([
      { action: 'include', pattern: 'cur/*' },
      { action: 'exclude', pattern: '/a\nb/' },
    ]);
    expect(buf.toString('utf8')).toBe('+ cur/*\u0000- /a\nb/\u0000');
  });
});
