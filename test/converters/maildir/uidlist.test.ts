import { describe, expect, it } from 'vitest';
import { formatUidlist, parseUidlist, UidlistError } from '../../../converters/maildir/uidlist.js';

const sample = '3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n';

describe('dovecot-uidlist v3', () => {
  it('reads the header and records as Dovecot writes them', () => {
    const list = parseUidlist(sample);
    expect(list.uidValidity).toBe(1275660208);
    expect(list.nextUid).toBe(25022);
    expect(list.headerFields.get('G')).toBe('3085f01b7f11094c501100008c4a11c1');
    expect(list.records.map((r) => [r.uid, r.fileName, Object.fromEntries(r.fields)])).toEqual([
      [25006, '1276528487.M364837P9451.kurkku,S=1355,W=1394:2,', {}],
      [25017, '1276533073.M242911P3632.kurkku:2,F', { W: '2481' }],
    ]);
  });
  it('writes what it reads', () => {
    expect(formatUidlist(parseUidlist(sample))).toBe(sample);
  });
  it('never lets the next UID fall at or below a listed UID', () => {
    expect(parseUidlist('3 V1 N2\n5 :a\n').nextUid).toBe(6);
  });
  it('refuses other versions and broken records', () => {
    expect(() => parseUidlist('1 1275660208 25022\n')).toThrow(UidlistError);
    expect(() => parseUidlist('3 N5\n')).toThrow(/UIDVALIDITY/);
    expect(() => parseUidlist('3 V1 N2\nx :a\n')).toThrow(UidlistError);
  });
});
