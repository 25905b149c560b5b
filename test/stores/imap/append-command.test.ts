import { describe, expect, it } from 'vitest';
import { buildAppendCommand, decideLiteralMode, formatInternalDate, formatQuoted, parseAppendUid } from '../../../src/stores/imap/append-command.js';

const small = Buffer.from('Subject: hi\r\n\r\nbody\r\n');
const big = Buffer.alloc(5000, 'a');

describe('decideLiteralMode', () => {
  it('never waits with LITERAL+, waits above 4 KB with LITERAL- or IMAP4rev2, always without either', () => {
    expect(decideLiteralMode(new Set(['IMAP4REV1', 'LITERAL+']))).toBe('plus');
    expect(decideLiteralMode(new Set(['LITERAL-']))).toBe('minus');
    expect(decideLiteralMode(new Set(['IMAP4REV2']))).toBe('minus');
    expect(decideLiteralMode(new Set(['IMAP4REV1']))).toBe('sync');
  });
});

describe('buildAppendCommand', () => {
  it('sends one message with its flags, date and a non-synchronising literal under LITERAL+', () => {
    const parts = buildAppendCommand('Work/Q1', [{ flags: ['\\Seen', '$Forwarded'], internalDate: new Date('1996-01-02T10:00:00Z'), content: big }], { literalMode: 'plus', hasBinary: false });
    expect(parts).toEqual([{ text: `APPEND "Work/Q1" (\\Seen $Forwarded) " 2-Jan-1996 10:00:00 +0000" {5000+}\r\n`, literal: { data: big, isSynchronizing: false } }]);
  });

  it('makes several messages one MULTIAPPEND, and under LITERAL- synchronises only the literals over 4,096 bytes', () => {
    const parts = buildAppendCommand('INBOX', [{ flags: [], content: small }, { flags: ['\\Flagged'], content: big }], { literalMode: 'minus', hasBinary: false });
    expect(parts.map((part) => [part.text, part.literal?.isSynchronizing])).toEqual([
      [`APPEND "INBOX" () {${small.length}+}\r\n`, false],
      [' (\\Flagged) {5000}\r\n', true],
    ]);
  });

  it('sends a message with a NUL byte as a literal8 where the server offers BINARY', () => {
    const withNul = Buffer.from('a\u0000b');
    expect(buildAppendCommand('INBOX', [{ flags: [], content: withNul }], { literalMode: 'plus', hasBinary: true })[0]!.text).toBe('APPEND "INBOX" () ~{3+}\r\n');
    expect(buildAppendCommand('INBOX', [{ flags: [], content: withNul }], { literalMode: 'sync', hasBinary: false })[0]!.text).toBe('APPEND "INBOX" () {3}\r\n');
  });
});

describe('formatQuoted', () => {
  it('escapes quotes and backslashes, and refuses a line break rather than send it', () => {
    expect(formatQuoted('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
    expect(() => formatQuoted('evil\r\nA1 DELETE INBOX')).toThrow(/line break/);
  });
});

describe('formatInternalDate', () => {
  it('writes RFC 3501 date-time in UTC with a space-padded day', () => {
    expect(formatInternalDate(new Date('2024-11-30T23:05:09Z'))).toBe('30-Nov-2024 23:05:09 +0000');
  });
});

describe('parseAppendUid', () => {
  it('reads the target UIDs of an APPEND and of a MULTIAPPEND in the order sent', () => {
    expect(parseAppendUid('[APPENDUID 1700000000 42] Append completed.', 1)).toEqual({ uidValidity: 1700000000, uids: [42] });
    expect(parseAppendUid('[APPENDUID 7 10:12,20] Append completed.', 4)).toEqual({ uidValidity: 7, uids: [10, 11, 12, 20] });
  });

  it('says nothing without UIDPLUS, or when the set does not name one UID per message', () => {
    expect(parseAppendUid('Append completed.', 1)).toBeUndefined();
    expect(parseAppendUid('[APPENDUID 7 10:12] done', 2)).toBeUndefined();
    expect(parseAppendUid('[APPENDUID 7 12:10] done', 3)).toBeUndefined();
  });
});
