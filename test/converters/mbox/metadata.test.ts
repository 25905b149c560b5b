import { describe, expect, it } from 'vitest';
import {
  splitMboxHeader,
  decideMessageState,
  buildFieldNameFilter,
  decodeEncodedWords,
  fieldValue,
  mboxFieldFilter,
  mboxInternalHeaders,
  parseGmailLabels,
  parseHeaderFields,
  readMboxMetadata,
  stripHeaderFields,
} from '../../../converters/mbox/metadata.js';

const meta = (header: string) => {
  const bytes = Buffer.from(header, 'latin1');
  return readMboxMetadata(bytes, parseHeaderFields(bytes));
};
const state = (header: string) => decideMessageState(meta(header));

describe('parseHeaderFields', () => {
  it('ignores lines that are not fields and names with spaces, and stops at the empty line', () => {
    const header = Buffer.from('Subject: x\nnot a field\nBad Name: y\r\nX-UID: 1\r\n\r\nBody: no\n');
    expect(parseHeaderFields(header).map((f) => f.name)).toEqual(['subject', 'x-uid']);
  });

  it('unfolds continuation lines and records byte ranges', () => {
    const header = Buffer.from('Subject: a\n  folded\nX-UID: 5\n\n');
    const fields = parseHeaderFields(header);
    expect(fields.map((f) => [f.name, fieldValue(header, f)])).toEqual([['subject', 'a folded'], ['x-uid', '5']]);
    expect(header.subarray(fields[1]!.start, fields[1]!.end).toString()).toBe('X-UID: 5\n');
  });
});

describe('fieldValue', () => {
  it('unfolds and trims exactly as collapsing every whitespace run to one space would, for any bytes', () => {
    // Seeded bytes weighted towards whitespace, NBSP (0xA0 in latin1 is \s too) and line ends.
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const alphabet = [0x20, 0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c, 0xa0, 0x85, 0x41, 0x42, 0x3a, 0xe9, 0x00];
    for (let round = 0; round < 2000; round++) {
      const value = Array.from({ length: next() % 12 }, () => alphabet[next() % alphabet.length]!);
      const header = Buffer.from([...Buffer.from('X-Uid:'), ...value, 0x0a, 0x0a]);
      const field = { name: 'x-uid', start: 0, valueStart: 6, end: header.length - 1 };
      const expected = header.toString('latin1', 6, header.length - 1).replace(/\s+/g, ' ').trim();
      expect(fieldValue(header, field), JSON.stringify(value)).toBe(expected);
    }
  });
});

describe('parseHeaderFields with a name filter', () => {
  it('returns only the named fields, with the same byte ranges, whatever their case', () => {
    const header = Buffer.from('Received: from a\n\tby b\nSTATUS: RO\nSubject: hi\nX-Uid: 7\n folded\nDate: x\n\n');
    const all = parseHeaderFields(header);
    const some = parseHeaderFields(header, buildFieldNameFilter(['status', 'x-uid']));
    expect(some.map((f) => f.name)).toEqual(['status', 'x-uid']);
    expect(some).toEqual(all.filter((f) => f.name === 'status' || f.name === 'x-uid'));
    expect(fieldValue(header, some[1]!)).toBe('7 folded');
  });
  it('strips the same bytes through a filtered parse as through a full one', () => {
    const header = Buffer.from('From: a\nStatus: RO\nX-Keywords: k\nContent-Length: 3\nSubject: s\n\n');
    expect(stripHeaderFields(header, parseHeaderFields(header, mboxFieldFilter()), mboxInternalHeaders).toString()).toBe('From: a\nSubject: s\n\n');
  });
});

describe('stripHeaderFields', () => {
  it('removes the mbox bookkeeping headers and leaves every other byte as it was', () => {
    const header = Buffer.concat([
      Buffer.from('Received: from x\n\tby y\nStatus: RO\nX-Status: A\nSubject: caf'),
      Buffer.from([0xe9]),
      Buffer.from('\nX-Keywords: a b\nX-UID: 3\nContent-Length: 10\nX-Mozilla-Status: 0001\nX-Mozilla-Status2: 00000000\nX-Mozilla-Keys: \nX-IMAPbase: 1 2\nTo: z\n\n'),
    ]);
    const stripped = stripHeaderFields(header, parseHeaderFields(header), mboxInternalHeaders);
    expect(stripped.equals(Buffer.concat([Buffer.from('Received: from x\n\tby y\nSubject: caf'), Buffer.from([0xe9]), Buffer.from('\nTo: z\n\n')]))).toBe(true);
  });
});

describe('splitMboxHeader', () => {
  it('reads the bookkeeping and cuts exactly those fields out, every other byte unchanged', () => {
    const header = Buffer.from(
      'From: a@example.com\nStatus: RO\nX-Status: A\nX-Keywords: Work\nX-UID: 7\nContent-Length: 11\nX-Mozilla-Status: 0001\nSubject: caf\xe9\n  folded\n\n',
      'latin1',
    );
    const { meta, stored } = splitMboxHeader(header);
    expect(stored.toString('latin1')).toBe('From: a@example.com\nSubject: caf\xe9\n  folded\n\n');
    expect(meta).toMatchObject({ status: 'RO', xStatus: 'A', keywords: ['Work'], uid: 7, mozillaStatus: 1 });
  });

  it('returns the same buffer when there is nothing to cut', () => {
    const header = Buffer.from('From: a@example.com\nSubject: x\n\n');
    expect(splitMboxHeader(header).stored).toBe(header);
  });
});

describe('decideMessageState', () => {
  it('maps Status and X-Status letters to maildir flags (case-sensitive, as c-client writes them)', () => {
    const s = state('Status: RO\nX-Status: AFTD\n\n');
    expect([...s.flags].sort()).toEqual(['\\Answered', '\\Deleted', '\\Draft', '\\Flagged', '\\Seen']);
    expect(s.isNew).toBe(false);
    expect([...state('Status: ro\n\n').flags]).toEqual([]);
  });
  it("does not drop GNU Mailutils' flags kept in Status (A answered, F flagged, D deleted, d draft)", () => {
    expect([...state('Status: ROA\n\n').flags].sort()).toEqual(['\\Answered', '\\Seen']);
    expect([...state('Status: OF\n\n').flags]).toEqual(['\\Flagged']);
    expect([...state('Status: OD\n\n').flags]).toEqual(['\\Deleted']);
    expect([...state('Status: Od\n\n').flags]).toEqual(['\\Draft']);
  });
  it('keeps unread mail unread: Status O without R is old but not seen', () => {
    const s = state('Status: O\n\n');
    expect(s.flags.size).toBe(0);
    expect(s.isNew).toBe(false);
  });
  it('puts mail without Status and without flags in new/', () => {
    expect(state('Subject: x\n\n').isNew).toBe(true);
  });
  it('reads keywords, the UID and X-IMAPbase', () => {
    const m = meta('X-IMAPbase: 1583323200 0000000012 $Label1 Work\nX-Keywords: $Label1 Work\nX-UID: 9\n\n');
    expect(m.imapBase).toEqual({ uidValidity: 1583323200, lastUid: 12, keywords: ['$Label1', 'Work'] });
    expect(m.uid).toBe(9);
    expect([...decideMessageState(m).keywords]).toEqual(['$Label1', 'Work']);
  });
  it('recognises the FOLDER INTERNAL DATA pseudo-message by its X-IMAP header', () => {
    expect(meta('X-IMAP: 1 0000000002\n\n').isPseudoMessage).toBe(true);
    expect(meta('X-IMAPbase: 1 0000000002\n\n').isPseudoMessage).toBe(false);
  });
  it('maps Thunderbird status bits: read, replied, marked, forwarded, expunged', () => {
    expect([...state('X-Mozilla-Status: 0003\nX-Mozilla-Status2: 00000000\n\n').flags].sort()).toEqual(['\\Answered', '\\Seen']);
    const starred = state('X-Mozilla-Status: 1004\nX-Mozilla-Keys: todo   \n\n');
    expect([...starred.flags]).toEqual(['\\Flagged']);
    expect(starred.passed).toBe(true);
    expect([...starred.keywords]).toEqual(['todo']);
    expect([...state('X-Mozilla-Status: 0009\n\n').flags].sort()).toEqual(['\\Deleted', '\\Seen']);
    expect(state('X-Mozilla-Status: 0000\nX-Mozilla-Status2: 00010000\n\n').isNew).toBe(true);
  });
  it('ignores X-Mozilla-Status on mail that carries Gmail labels', () => {
    expect([...state('X-Mozilla-Status: 0004\nX-Gmail-Labels: Inbox,Unread\n\n').flags]).toEqual([]);
  });
  it('reads Gmail read state and stars from labels', () => {
    expect([...state('X-Gmail-Labels: Inbox,Opened\n\n').flags]).toEqual(['\\Seen']);
    expect([...state('X-Gmail-Labels: Inbox,Unread,Starred\n\n').flags]).toEqual(['\\Flagged']);
  });
});

describe('parseGmailLabels', () => {
  it('does not split one encoded word that holds the whole label list before decoding it', () => {
    expect(parseGmailLabels('=?UTF-8?Q?Re=C3=A7us/=C3=89t=C3=A9_2024,Inbox,Opened?=')).toEqual(['Reçus/Été 2024', 'Inbox', 'Opened']);
    expect(parseGmailLabels('=?UTF-8?B?' + Buffer.from('"Fam, amigos",Inbox').toString('base64') + '?=')).toEqual(['Fam, amigos', 'Inbox']);
  });
  it('does not read raw UTF-8 labels as Latin-1 ("FamÃ­lia")', () => {
    const header = Buffer.from('X-Gmail-Labels: Inbox,Família,"Trabalho, antigo"\n\n', 'utf8');
    expect(readMboxMetadata(header, parseHeaderFields(header)).gmailLabels).toEqual(['Inbox', 'Família', 'Trabalho, antigo']);
  });
  it('reads a folded X-Gmail-Labels field, quoted labels with commas included', () => {
    const header = Buffer.from('X-Gmail-Labels: Inbox,"Work, old",\r\n =?UTF-8?Q?Entw=C3=BCrfe?=,\r\n\tOpened\r\n\r\n', 'latin1');
    expect(readMboxMetadata(header, parseHeaderFields(header)).gmailLabels).toEqual(['Inbox', 'Work, old', 'Entwürfe', 'Opened']);
  });
  it('splits CSV-quoted labels and decodes encoded words', () => {
    expect(parseGmailLabels('Inbox,"Work, old",=?UTF-8?Q?Entw=C3=BCrfe?=,Clients/ACME')).toEqual(['Inbox', 'Work, old', 'Entwürfe', 'Clients/ACME']);
  });
  it('decodes base64 encoded words and joins adjacent ones', () => {
    expect(decodeEncodedWords('=?UTF-8?B?w6Q=?= =?UTF-8?B?w7Y=?=')).toBe('äö');
  });
});
