import { describe, expect, it } from 'vitest';
import { parseFromLine } from '../../../converters/mbox/from-line.js';

const iso = (line: string) => parseFromLine(line)?.date.toISOString();

describe('parseFromLine', () => {
  it('reads the asctime form RFC 4155 describes', () => {
    expect(parseFromLine('From MAILER-DAEMON Thu Nov 29 22:33:52 2001')).toEqual({ sender: 'MAILER-DAEMON', date: new Date('2001-11-29T22:33:52Z') });
  });
  it("accepts Dovecot's two spaces before the date and a one-digit day", () => {
    expect(iso('From alice@example.com  Wed Mar  4 12:30:00 2020')).toBe('2020-03-04T12:30:00.000Z');
  });
  it('applies a numeric zone before or after the year', () => {
    expect(iso('From a@b Mon May 04 10:00:00 +0200 2020')).toBe('2020-05-04T08:00:00.000Z');
    expect(iso('From a@b Mon May 04 10:00:00 2020 -0500')).toBe('2020-05-04T15:00:00.000Z');
  });
  it('accepts a named zone, missing seconds, and the RFC 822 day-first form', () => {
    expect(iso('From a@b Mon May 04 10:00 PST 2020')).toBe('2020-05-04T18:00:00.000Z');
    expect(iso('From a@b Thu, 9 Nov 2002 22:33:52')).toBe('2002-11-09T22:33:52.000Z');
  });
  it('accepts the UUCP "remote from" suffix, odd senders and old years', () => {
    expect(iso('From user Tue Jan  2 03:04:05 2024 remote from gateway')).toBe('2024-01-02T03:04:05.000Z');
    expect(iso('From ???@??? Mon Jan 01 00:00:00 1997')).toBe('1997-01-01T00:00:00.000Z');
    expect(iso('From a Mon Jan  1 00:00:00 1900')).toBe('1900-01-01T00:00:00.000Z');
  });
  it("accepts Thunderbird's '-' sender", () => {
    expect(parseFromLine('From - Mon Apr  6 09:00:00 2020')?.sender).toBe('-');
  });
  it('accepts a quoted sender with spaces', () => {
    expect(parseFromLine('From "john doe"@example.com Mon Apr  6 09:00:00 2020')?.sender).toBe('"john doe"@example.com');
  });
  it('refuses lines that merely start with "From "', () => {
    for (const line of ['From here on we talk', 'From: alice@example.com', 'From alice', 'From a@b Mon Apr 6 2020', 'From a@b Mon Foo  6 09:00:00 2020', 'From a@b Mon Apr 32 09:00:00 2020', 'From a@b Mon Apr  6 25:00:00 2020', `From a@b ${'x'.repeat(5000)}`]) {
      expect(parseFromLine(line), line).toBeUndefined();
    }
  });
  it('ignores the line terminator', () => {
    expect(iso('From a@b Mon Jan  6 09:15:00 2020\r\n')).toBe('2020-01-06T09:15:00.000Z');
  });
});
