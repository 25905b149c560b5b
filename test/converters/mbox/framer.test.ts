import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crlfToLf, decideFraming, findContentLength } from '../../../converters/mbox/framer.js';
import { frame } from './frame-helper.js';
import { buildWriterMessages, writeMboxcl2WithCrlfLengths, writeOldThunderbird, writePipermailArchive } from '../../support/mbox-writers.js';

const fixture = (name: string) => readFileSync(new URL(`../../../fixtures/mbox/${name}`, import.meta.url));

const two = [
  'From alice@example.com Mon Jan  6 09:15:00 2020',
  'Subject: one',
  '',
  'body one',
  '',
  'From bob@example.com Tue Jan  7 10:00:00 2020',
  'Subject: two',
  '',
  'body two',
  '',
].join('\n');

describe('MboxFramer', () => {
  it('cuts messages at From_ lines and drops the empty line that separates them', () => {
    const { messages } = frame(two);
    expect(messages.map((m) => [m.sender, m.header, m.body])).toEqual([
      ['alice@example.com', 'Subject: one\n\n', 'body one\n'],
      ['bob@example.com', 'Subject: two\n\n', 'body two\n'],
    ]);
    expect(messages[0]!.date).toBe('2020-01-06T09:15:00.000Z');
    expect(messages[1]!.offset).toBe(two.indexOf('From bob'));
  });

  it('does not split at a body line that starts with "From " but carries no date', () => {
    const { messages } = frame(fixture('variants/mboxo.mbox'));
    expect(messages).toHaveLength(2);
    expect(messages[0]!.body).toContain('From here on nothing splits: this line has no date.\n');
  });

  it('leaves ">From " alone in mboxo (the quoting is ambiguous, as Dovecot reads it)', () => {
    const { messages } = frame(fixture('variants/mboxo.mbox'), { unescape: 'none' });
    expect(messages[0]!.body).toContain('\n>From the quoted line');
  });

  it('strips exactly one ">" from quoted From lines in mboxrd', () => {
    const { messages } = frame(fixture('variants/mboxrd.mbox'), { unescape: 'mboxrd' });
    expect(messages[0]!.body).toBe('From the start of a line, escaped once.\n>From an already quoted line, escaped again.\nPlain line.\n');
    expect(messages[1]!.body).toBe('From line in the second message.\n');
  });

  it('keeps a valid, unescaped From_ line inside a Content-Length body (mboxcl2)', () => {
    const { messages, rewinds } = frame(fixture('variants/mboxcl2.mbox'));
    expect(rewinds).toBe(0);
    expect(messages).toHaveLength(2);
    expect(messages[0]!.body).toBe('Body of the first message.\nFrom mallory@example.com Wed Jan  8 11:00:00 2020\nstill the first message\n');
  });

  it('keeps a From_ line that is the first line of a Content-Length body (a pasted patch) in the body, at any chunking', () => {
    const input = [
      'From alice@example.com Mon Jan  6 09:15:00 2020',
      'Subject: one',
      'Content-Length: 74',
      '',
      'From mallory@example.com Wed Jan  8 11:00:00 2020',
      'still the first message',
      '',
      'From bob@example.com Tue Jan  7 10:00:00 2020',
      'Subject: two',
      '',
      'body two',
      '',
    ].join('\n');
    for (const chunkBytes of [0, 1, 7, 64]) {
      const { messages, rewinds } = frame(input, { honorContentLength: true }, chunkBytes);
      expect(rewinds).toBe(0);
      expect(messages.map((m) => [m.sender, m.body])).toEqual([
        ['alice@example.com', 'From mallory@example.com Wed Jan  8 11:00:00 2020\nstill the first message\n'],
        ['bob@example.com', 'body two\n'],
      ]);
    }
    // Without Content-Length the same unescaped line after the empty line is a separator, as mboxo writers mean it.
    expect(frame(input, { honorContentLength: false }).messages.map((m) => m.sender)).toEqual(['alice@example.com', 'mallory@example.com', 'bob@example.com']);
  });

  it('ignores Content-Length when told to, and then splits at the embedded From_ line', () => {
    const { messages } = frame(fixture('variants/mboxcl2.mbox'), { honorContentLength: false });
    expect(messages.map((m) => m.sender)).toEqual(['alice@example.com', 'mallory@example.com', 'bob@example.com']);
  });

  it('falls back to From_ framing when Content-Length does not end at a message boundary', () => {
    const { messages, rewinds } = frame(fixture('variants/wrong-content-length.mbox'));
    expect(rewinds).toBe(1);
    expect(messages.map((m) => m.body)).toEqual(['Short body.\n', 'Second body, long enough that byte 60 lands inside it.\n']);
  });

  it('converts CRLF files to LF line ends', () => {
    const { messages } = frame(fixture('variants/crlf.mbox'));
    expect(messages.map((m) => m.header + m.body)).toEqual([
      'Subject: crlf one\nMessage-ID: <crlf-1@example.com>\nStatus: RO\n\nCRLF body line 1\nCRLF body line 2\n',
      'Subject: crlf two\nMessage-ID: <crlf-2@example.com>\n\nsecond\n',
    ]);
  });

  it('passes LF files through byte for byte, stray CRs included', () => {
    const input = 'From a@b Mon Jan  6 09:15:00 2020\nSubject: x\n\nline with CR\r\nend\n';
    expect(frame(input).messages[0]!.body).toBe('line with CR\r\nend\n');
  });

  it('keeps a last line that has no final newline', () => {
    const { messages } = frame(fixture('variants/no-final-newline.mbox'));
    expect(messages[0]!.body).toBe('last line without newline');
  });

  it('reports a file cut off in the middle of a message header as truncated', () => {
    const { messages } = frame(fixture('bad/truncated.mbox'));
    expect(messages[0]!.truncated).toBeUndefined();
    expect(messages[1]!.truncated).toMatch(/middle of the message headers/);
  });

  it('does not fail an mboxcl2 file whose Content-Length points past the end of the file: frames it by From_ lines', () => {
    // Lengths written for CRLF, file turned to LF: each length points past its message, the last past the file.
    const input = writeMboxcl2WithCrlfLengths(buildWriterMessages(3));
    for (const chunk of [0, 7, 64]) {
      const { messages } = frame(input, {}, chunk);
      expect(messages.map((m) => m.truncated)).toEqual([undefined, undefined, undefined]);
      expect(messages.map((m) => /Subject: (.*)/.exec(m.header)![1])).toEqual(['m message 0', 'm message 1', 'm message 2']);
      expect(messages.map((m) => m.body)).toEqual(buildWriterMessages(3).map((m) => m.body));
      // The last message's length cannot be checked against anything: it is kept, and the report says why.
      expect(messages[2]!.note).toMatch(/Content-Length points \d+ bytes past the end of the file/);
      expect(messages[0]!.note).toBeUndefined();
    }
  });

  it('does not swallow the messages after one whose Content-Length points past the end of the file', () => {
    const input = two.replace('Subject: one\n', 'Subject: one\nContent-Length: 9999\n');
    const { messages } = frame(input);
    expect(messages.map((m) => [m.sender, m.body, m.truncated])).toEqual([
      ['alice@example.com', 'body one\n', undefined],
      ['bob@example.com', 'body two\n', undefined],
    ]);
  });

  it('does not refuse a Mailman pipermail archive: "From user at host  date" separators, with or without an empty line before them', () => {
    for (const withBlankLines of [true, false]) {
      const input = writePipermailArchive(buildWriterMessages(4), { withBlankLines });
      for (const chunk of [0, 5, 100]) {
        const { messages, garbage } = frame(input, {}, chunk);
        expect(garbage).toEqual([]);
        expect(messages.map((m) => m.sender)).toEqual(['user0@example.org', 'user1@example.org', 'user2@example.org', 'user3@example.org']);
        expect(messages[1]!.date).toBe('2007-01-02T06:48:01.000Z');
        expect(messages.map((m) => m.body)).toEqual(buildWriterMessages(4).map((m) => m.body));
      }
    }
  });

  it('does not refuse old Thunderbird files with bare "From " separators, unescaped body From lines and CRLF', () => {
    const written = buildWriterMessages(3).map((m) => ({ ...m, body: `${m.body}\nFrom here on, a body line that was never escaped.\nFrom \nstill the body\n` }));
    for (const separator of ['From ', 'From - '] as const) {
      for (const crlf of [false, true]) {
        const input = writeOldThunderbird(written, { crlf, separator });
        for (const chunk of [0, 3, 50]) {
          const { messages, garbage } = frame(input, {}, chunk);
          expect(garbage).toEqual([]);
          expect(messages).toHaveLength(3);
          expect(messages.map((m) => m.date)).toEqual(['', '', '']);
          expect(messages.map((m) => m.body)).toEqual(written.map((m) => m.body));
          expect(messages[2]!.header).toMatch(/^X-Mozilla-Status: 0001\n/);
        }
      }
    }
  });

  it('does not split at a bare "From " body line that no header line follows, or that follows a non-empty line', () => {
    const input = 'From a@b Mon Jan  6 09:15:00 2020\nSubject: x\n\nline\nFrom \nX-Not: a separator, no empty line before\n\nFrom \nnot a header\n';
    const { messages } = frame(input);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.body).toBe('line\nFrom \nX-Not: a separator, no empty line before\n\nFrom \nnot a header\n');
  });

  it('reports a file that ends in the middle of a header line as truncated', () => {
    const { messages } = frame('From a@b Mon Jan  6 09:15:00 2020\nSubject: cut of');
    expect(messages[0]!.truncated).toMatch(/middle of the message headers/);
  });

  it('reports text before the first message as garbage, not as a message', () => {
    const input = fixture('bad/garbage-before-first-message.mbox');
    const { messages, garbage } = frame(input);
    expect(garbage).toEqual([{ offset: 0, length: input.indexOf('From alice') }]);
    expect(messages).toHaveLength(1);
  });

  it('treats blank lines before the first message as padding, not garbage', () => {
    expect(frame(`\n\n${two}`).garbage).toEqual([]);
  });

  it('takes a UTF-8 byte order mark at the start of the file as padding: the first message is kept whole', () => {
    for (const chunkBytes of [0, 1, 2, 5]) {
      const withMark = frame(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(two, 'latin1')]), {}, chunkBytes);
      const without = frame(two);
      expect(withMark.garbage).toEqual([]);
      expect(withMark.messages.map(({ sender, header, body }) => ({ sender, header, body }))).toEqual(without.messages.map(({ sender, header, body }) => ({ sender, header, body })));
      expect(withMark.messages[0]!.offset).toBe(3);
    }
    // Anywhere else those bytes are text like any other: a From_ line after them does not start a line.
    const later = frame(`x\n\u00ef\u00bb\u00bf${two}`);
    expect(later.garbage).toHaveLength(1);
    expect(later.messages).toHaveLength(frame(two).messages.length - 1);
  });

  it('keeps empty lines inside a body and drops only the separator', () => {
    const input = 'From a@b Mon Jan  6 09:15:00 2020\nSubject: x\n\npara one\n\n\npara two\n\n\nFrom c@d Tue Jan  7 10:00:00 2020\n\nz\n';
    const { messages } = frame(input);
    expect(messages[0]!.body).toBe('para one\n\n\npara two\n\n');
    expect(messages[1]!.header).toBe('\n');
    expect(messages[1]!.body).toBe('z\n');
  });

  it('splits at a From_ line that is not preceded by an empty line (writers that omit it)', () => {
    const input = 'From a@b Mon Jan  6 09:15:00 2020\nSubject: x\n\nbody\nFrom c@d Tue Jan  7 10:00:00 2020\nSubject: y\n\nz\n';
    expect(frame(input).messages.map((m) => m.body)).toEqual(['body\n', 'z\n']);
  });

  it('ends a headers-only message at the next From_ line', () => {
    const input = 'From a@b Mon Jan  6 09:15:00 2020\nSubject: only headers\nFrom c@d Tue Jan  7 10:00:00 2020\nSubject: y\n\nz\n';
    const { messages } = frame(input);
    expect(messages.map((m) => m.header)).toEqual(['Subject: only headers\n', 'Subject: y\n\n']);
  });

  it('streams a 2 MB line without splitting or losing it', () => {
    const longLine = 'x'.repeat(2 * 1024 * 1024);
    const input = `From a@b Mon Jan  6 09:15:00 2020\nSubject: long\n\n${longLine}\nFrom notadate\n\nFrom c@d Tue Jan  7 10:00:00 2020\n\nz\n`;
    const { messages } = frame(input, {}, 65536);
    expect(messages).toHaveLength(2);
    expect(messages[0]!.body).toBe(`${longLine}\nFrom notadate\n`);
  });

  it('passes NUL bytes and invalid 8-bit bytes through unchanged', () => {
    const { messages } = frame(fixture('bad/nul-bytes.mbox'));
    expect(messages[0]!.body).toBe('before\u0000\u0000\u0000after\n');
    const eightBit = frame(fixture('bad/invalid-8bit-headers.mbox')).messages[0]!;
    expect(Buffer.from(eightBit.header, 'latin1').includes(Buffer.from([0xe9, 0xff, 0xfe]))).toBe(true);
  });

  it('frames Thunderbird files with "From - " separators', () => {
    const { messages } = frame(fixture('thunderbird/Inbox'));
    expect(messages.map((m) => m.sender)).toEqual(['-', '-', '-', '-']);
  });

  // The property that makes streaming safe: chunk boundaries never change the result, wherever they fall
  // (inside "\nFrom ", between CR and LF, inside a Content-Length body, inside ">>From ").
  const cases = ['variants/mboxo.mbox', 'variants/mboxrd.mbox', 'variants/mboxcl2.mbox', 'variants/mboxcl.mbox', 'variants/crlf.mbox', 'variants/wrong-content-length.mbox', 'spool/dovecot-inbox', 'thunderbird/Inbox', 'bad/truncated.mbox', 'bad/garbage-before-first-message.mbox'];
  for (const name of cases) {
    it(`gives the same messages for ${name} whatever the chunk size`, () => {
      const input = fixture(name);
      for (const unescape of ['none', 'mboxrd'] as const) {
        const whole = frame(input, { unescape });
        for (let chunk = 1; chunk <= 12; chunk++) expect(frame(input, { unescape }, chunk)).toEqual(whole);
        expect(frame(input, { unescape }, 97)).toEqual(whole);
      }
    });
  }
});

describe('MboxFramer: one message framed again on its own', () => {
  // What lets a store read a message back by its byte range instead of framing the whole file again: the bytes
  // [offset, end) of a message, framed alone with the same Content-Length choice and line ending, give the same message.
  const files = [
    'variants/mboxo.mbox', 'variants/mboxrd.mbox', 'variants/mboxcl2.mbox', 'variants/mboxcl.mbox', 'variants/crlf.mbox',
    'variants/wrong-content-length.mbox', 'variants/no-final-newline.mbox', 'spool/dovecot-inbox', 'thunderbird/Inbox',
    'gmail/All mail Including Spam and Trash.mbox', 'sample-account/inbox', 'bad/nul-bytes.mbox',
  ];
  for (const name of files) {
    it(`gives every message of ${name} back from its byte range alone`, () => {
      const input = fixture(name);
      for (const unescape of ['none', 'mboxrd'] as const) {
        const whole = frame(input, { unescape });
        expect(whole.messages.length).toBeGreaterThan(0);
        for (const message of whole.messages) {
          const again = frame(input.subarray(message.offset, message.end), {
            unescape,
            honorContentLength: message.framedByContentLength,
            crlf: whole.isCrlf,
          });
          expect(again.rewinds).toBe(0);
          expect(again.messages.map(({ header, body, truncated }) => ({ header, body, truncated }))).toEqual([
            { header: message.header, body: message.body, truncated: message.truncated },
          ]);
        }
      }
    });
  }

  it('says which messages were taken by their Content-Length', () => {
    const messages = frame(fixture('variants/wrong-content-length.mbox')).messages;
    expect(messages.map((m) => m.framedByContentLength)).toEqual([false, false]);
    expect(frame(fixture('variants/mboxcl2.mbox')).messages.map((m) => m.framedByContentLength)).toEqual([true, true]);
  });
});

describe('findContentLength', () => {
  it('reads one valid Content-Length header', () => {
    expect(findContentLength(Buffer.from('Subject: x\nContent-Length: 42\n\n'))).toBe(42);
    expect(findContentLength(Buffer.from('content-length:7\r\n\r\n'))).toBe(7);
  });
  it('ignores missing, malformed or duplicated headers', () => {
    expect(findContentLength(Buffer.from('Subject: x\n\n'))).toBeUndefined();
    expect(findContentLength(Buffer.from('Content-Length: 4x\n\n'))).toBeUndefined();
    expect(findContentLength(Buffer.from('Content-Length: 4\nContent-Length: 5\n\n'))).toBeUndefined();
    // Any case, after other fields and folded lines; a folded Content-Length value is not a length.
    expect(findContentLength(Buffer.from('Received: from a\n  by b\nCONTENT-length:  9 \nX: y\n\n'))).toBe(9);
    expect(findContentLength(Buffer.from('Content-Length:\n 12\n\n'))).toBeUndefined();
    expect(findContentLength(Buffer.from('Subject: Content-Length: 5\n\n'))).toBeUndefined();
  });
});

describe('crlfToLf', () => {
  it('turns CRLF into LF and leaves lone CR and LF alone', () => {
    expect(crlfToLf(Buffer.from('a\r\nb\rc\nd\r\n')).toString()).toBe('a\nb\rc\nd\n');
  });
});

describe('decideFraming', () => {
  it('reads mboxrd quoting only when asked or when ">>From " lines prove it, and trusts Content-Length unless told not to', () => {
    expect(decideFraming('auto', false)).toEqual({ unescape: 'none', honorContentLength: true });
    expect(decideFraming('auto', true)).toEqual({ unescape: 'mboxrd', honorContentLength: true });
    expect(decideFraming('mboxo', true)).toEqual({ unescape: 'none', honorContentLength: false });
    expect(decideFraming('mboxrd', false)).toEqual({ unescape: 'mboxrd', honorContentLength: false });
    expect(decideFraming('mboxcl2', true)).toEqual({ unescape: 'none', honorContentLength: true });
  });
});
