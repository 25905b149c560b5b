import { describe, expect, it } from 'vitest';
import { ImapProtocolError, parseFetchResponse, parseImapDateTime, parseTaggedStatus, ResponseFramer, type RawResponse } from '../../../src/stores/imap/response-framer.js';

function frame(chunks: (string | Buffer)[]): RawResponse[] {
  const out: RawResponse[] = [];
  const framer = new ResponseFramer((response) => out.push(response));
  for (const chunk of chunks) framer.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'latin1'));
  return out;
}

/** Splits a byte string into chunks of every size from 1 to 7: framing must not depend on where chunks end. */
function everySplit(text: string): (string[])[] {
  const splits: string[][] = [];
  for (let size = 1; size <= 7; size += 1) {
    const chunks: string[] = [];
    for (let at = 0; at < text.length; at += size) chunks.push(text.slice(at, at + size));
    splits.push(chunks);
  }
  return splits;
}

describe('ResponseFramer', () => {
  it('cuts lines into responses and carries a literal as raw bytes, without its {n} marker', () => {
    const [first, second] = frame(['* 1 FETCH (UID 7 BODY[] {5}\r\nab\r\nc)\r\nA1 OK done\r\n']);
    expect(first!.texts).toEqual(['* 1 FETCH (UID 7 BODY[] ', ')']);
    expect(first!.literals.map((each) => each.toString('latin1'))).toEqual(['ab\r\nc']);
    expect(second!.texts).toEqual(['A1 OK done']);
  });

  it('frames the same whatever the chunk boundaries, also inside CRLF and inside the literal', () => {
    const wire = '* 3 FETCH (BODY[] {12}\r\nline1\r\nline2 UID 9)\r\n* 4 EXISTS\r\nM2 OK x\r\n';
    for (const chunks of everySplit(wire)) {
      const responses = frame(chunks);
      expect(responses.map((r) => r.texts)).toEqual([['* 3 FETCH (BODY[] ', ' UID 9)'], ['* 4 EXISTS'], ['M2 OK x']]);
      expect(responses[0]!.literals[0]!.toString('latin1')).toBe('line1\r\nline2');
    }
  });

  it('keeps literal bytes exactly, NULs and 8-bit included, and takes zero-length and literal8 (~{n}) literals', () => {
    const body = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x7b, 0x31, 0x7d]);
    const responses = frame([Buffer.concat([Buffer.from('* 1 FETCH (BINARY[] ~{7}\r\n'), body, Buffer.from(' X {0}\r\n)\r\n')])]);
    expect(responses[0]!.literals[0]!.equals(body)).toBe(true);
    expect(responses[0]!.literals[1]!.length).toBe(0);
  });

  it('refuses an endless line instead of growing without bound', () => {
    const framer = new ResponseFramer(() => undefined);
    const junk = Buffer.alloc(300 * 1024, 0x41);
    expect(() => {
      for (let i = 0; i < 5; i += 1) framer.push(junk);
    }).toThrow(ImapProtocolError);
  });
});

describe('parseFetchResponse', () => {
  const parse = (wire: string) => parseFetchResponse(frame([wire])[0]!);

  it('reads UID, FLAGS, INTERNALDATE, RFC822.SIZE and the body, in any order', () => {
    const fetched = parse('* 12 FETCH (FLAGS (\\Seen $Label1) RFC822.SIZE 4 BODY[] {4}\r\nHi\r\n INTERNALDATE "17-Jul-1996 02:44:25 -0700" UID 34)\r\n');
    expect(fetched).toMatchObject({ sequence: 12, uid: 34, flags: ['\\Seen', '$Label1'], size: 4, internalDate: '17-Jul-1996 02:44:25 -0700' });
    expect(fetched!.body!.toString()).toBe('Hi\r\n');
  });

  it('reads a section with spaces and parentheses in its name as header fields', () => {
    const fetched = parse('* 1 FETCH (UID 5 BODY[HEADER.FIELDS (MESSAGE-ID DATE)] {19}\r\nMessage-ID: <a@b>\r\n)\r\n');
    expect(fetched!.headerFields!.toString()).toBe('Message-ID: <a@b>\r\n');
    expect(fetched!.body).toBeUndefined();
  });

  it('takes a body sent as a quoted string (with escapes) or as NIL', () => {
    expect(parse('* 1 FETCH (UID 5 BODY[] "a\\"b\\\\c")\r\n')!.body!.toString()).toBe('a"b\\c');
    expect(parse('* 1 FETCH (UID 5 BODY[] NIL)\r\n')!.body).toBeNull();
  });

  it('reads past attributes it does not use, including nested lists and literals inside them', () => {
    const fetched = parse('* 2 FETCH (MODSEQ (17) X-GM-LABELS ("\\\\Inbox" {3}\r\nabc) UID 8 BODY[] {1}\r\nx)\r\n');
    expect(fetched).toMatchObject({ uid: 8 });
    expect(fetched!.body!.toString()).toBe('x');
  });

  it('is not fooled by anything that is not a FETCH response', () => {
    expect(parse('* 3 EXISTS\r\n')).toBeUndefined();
    expect(parse('* OK [UIDNEXT 5] next\r\n')).toBeUndefined();
    expect(parse('A1 OK FETCH completed\r\n')).toBeUndefined();
  });

  it('throws on a malformed response rather than guessing', () => {
    expect(() => parse('* 1 FETCH (UID abc BODY[] NIL)\r\n')).toThrow(ImapProtocolError);
    expect(() => parse('* 1 FETCH (UID 3 BODY[] NIL\r\n')).toThrow(ImapProtocolError);
    expect(() => parse('* 1 FETCH (UID 0)\r\n')).toThrow(ImapProtocolError);
  });
});

describe('parseImapDateTime', () => {
  it('reads the zone offset, and a space-padded day', () => {
    expect(parseImapDateTime('17-Jul-1996 02:44:25 -0700')!.toISOString()).toBe('1996-07-17T09:44:25.000Z');
    expect(parseImapDateTime(' 1-Jan-2024 00:00:00 +0100')!.toISOString()).toBe('2023-12-31T23:00:00.000Z');
  });
  it('reads a date that bends the format (one-digit hour) rather than lose it, and gives up on what is not a date', () => {
    expect(parseImapDateTime('17-Jul-1996 2:44:25 -0700')!.toISOString()).toBe('1996-07-17T09:44:25.000Z');
    expect(parseImapDateTime('01-Foo-2024 00:00:00 +0000')).toBeUndefined();
    expect(parseImapDateTime('not a date')).toBeUndefined();
  });
});

describe('parseTaggedStatus', () => {
  it('reads tag, status and text; untagged lines are not tagged statuses', () => {
    expect(parseTaggedStatus('M3 NO [UNAVAILABLE] try later')).toEqual({ tag: 'M3', status: 'NO', text: '[UNAVAILABLE] try later' });
    expect(parseTaggedStatus('M4 ok done')).toEqual({ tag: 'M4', status: 'OK', text: 'done' });
    expect(parseTaggedStatus('* OK hello')).toBeUndefined();
    expect(parseTaggedStatus('+ go ahead')).toBeUndefined();
  });
});
