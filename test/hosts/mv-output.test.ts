import { describe, expect, it } from 'vitest';
import { parseRenamedPairs } from '../../src/hosts/mv-output.js';

describe('parseRenamedPairs', () => {
  const pairs = [
    { from: 'cur/1:2,', to: 'cur/1:2,S' },
    { from: 'cur/2:2,', to: 'cur/2:2,S' },
  ];

  it('keeps the pairs mv -v says it renamed, matched by their new absolute name', () => {
    const out = "renamed '/m/cur/1:2,' -> '/m/cur/1:2,S'\n";
    expect(parseRenamedPairs(out, '/m', pairs)).toEqual([pairs[0]]);
  });

  it('leaves out a pair mv -n skipped because the new name was taken (it prints nothing for it)', () => {
    expect(parseRenamedPairs('', '/m', pairs)).toEqual([]);
  });

  it('counts a line it cannot parse for one pair whose new name holds a quote or a control character', () => {
    const odd = { from: "cur/3:2,", to: "cur/it's:2,S" };
    const out = "renamed '/m/cur/3:2,' -> '/m/cur/it'\\''s:2,S'\n";
    expect(parseRenamedPairs(out, '/m', [...pairs, odd])).toEqual([odd]);
  });
});
