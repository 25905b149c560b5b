import { describe, expect, it } from 'vitest';
import { decideControlFile } from '../../../src/engine/tree/control-files.js';

const uidlist = (v: number, next: number, records: [number, string][]) => `3 V${v} N${next}\n${records.map(([uid, name]) => `${uid} :${name}\n`).join('')}`;

describe('decideControlFile: dovecot-uidlist', () => {
  it('takes the source list when the target list is an older state of it', () => {
    const target = uidlist(7, 3, [[1, 'a:2,S'], [2, 'b']]);
    const source = uidlist(7, 4, [[1, 'a:2,RS'], [2, 'b:2,S'], [3, 'c']]);
    expect(decideControlFile('dovecot-uidlist', source, target).action).toBe('take-source');
  });

  it('never clobbers a target list that has messages the source lacks', () => {
    const target = uidlist(7, 5, [[1, 'a'], [4, 'only-on-target']]);
    const source = uidlist(7, 4, [[1, 'a'], [2, 'b'], [3, 'c']]);
    const decision = decideControlFile('dovecot-uidlist', source, target);
    expect(decision).toMatchObject({ action: 'keep-target' });
    expect(decision.reason).toMatch(/1 message/);
  });

  it('keeps a target list with its own UIDVALIDITY', () => {
    expect(decideControlFile('dovecot-uidlist', uidlist(7, 2, [[1, 'a']]), uidlist(9, 1, [])).reason).toMatch(/UIDVALIDITY 9/);
  });

  it('keeps the target when either side cannot be read', () => {
    expect(decideControlFile('dovecot-uidlist', 'garbage', uidlist(7, 1, [])).action).toBe('keep-target');
    expect(decideControlFile('dovecot-uidlist', uidlist(7, 1, []), 'garbage').action).toBe('keep-target');
  });
});

describe('decideControlFile: keywords and subscriptions', () => {
  it('takes source keywords only when they extend the target mapping', () => {
    expect(decideControlFile('dovecot-keywords', '0 $Label1\n1 work\n', '0 $Label1\n').action).toBe('take-source');
    expect(decideControlFile('dovecot-keywords', '0 work\n', '0 $Label1\n').action).toBe('keep-target');
  });

  it('subscribes to the union of both lists', () => {
    const decision = decideControlFile('subscriptions', 'V\t2\n\nSent\nArchive\n', 'V\t2\n\nSent\nTarget only\n');
    expect(decision).toEqual({ action: 'write', text: 'V\t2\n\nArchive\nSent\nTarget only\n', reason: 'union of both subscription lists' });
  });

  it('leaves other control files as the target has them', () => {
    expect(decideControlFile('maildirsize', '0S,0C\n', '100S,0C\n').action).toBe('keep-target');
  });
});
