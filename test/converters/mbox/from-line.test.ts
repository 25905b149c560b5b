import { describe, expect, it } from 'vitest';
import { classifyPlaceholderFromDate, decideReceivedDate, parseBareFromLine, parseFromLine, parseHeaderDate } from '../../../converters/mbox/from-line.js';

const iso = (line: string) => parseFromLine(line)?.date?.toISOString();

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

describe('From_ lines of other writers', () => {
  it("reads Mailman pipermail's obscured sender: From user at example.org  Mon Jan  1 06:48:06 2007", () => {
    expect(parseFromLine('From user at example.org  Mon Jan  1 06:48:06 2007\n')).toEqual({ sender: 'user@example.org', date: new Date('2007-01-01T06:48:06Z') });
  });
  it('reads a bare Thunderbird separator as one without a date, and nothing else as bare', () => {
    for (const line of ['From \n', 'From - \n', 'From -\r\n', 'From \r\n']) expect(parseBareFromLine(line), line).toMatchObject({ date: undefined });
    for (const line of ['From here\n', 'From - x\n', 'From: a\n']) expect(parseBareFromLine(line), line).toBeUndefined();
  });
  it('knows the placeholder dates of git format-patch and of the epoch, and no others', () => {
    expect(classifyPlaceholderFromDate(parseFromLine('From 1234 Mon Sep 17 00:00:00 2001')!.date!)).toBe('git format-patch');
    expect(classifyPlaceholderFromDate(parseFromLine('From git@z Thu Jan  1 00:00:00 1970')!.date!)).toBe('1 January 1970');
    expect(classifyPlaceholderFromDate(parseFromLine('From a@b Mon Sep 17 00:00:01 2001')!.date!)).toBeUndefined();
  });
  it('takes the received date from Date: only when the From_ line has none or a placeholder', () => {
    const date = 'Tue, 2 Jan 2007 10:00:00 +0100 (CET)';
    expect(parseHeaderDate(date)?.toISOString()).toBe('2007-01-02T09:00:00.000Z');
    expect(decideReceivedDate(parseFromLine('From a@b Mon Jan  1 06:48:06 2007')!, date)).toEqual({ date: new Date('2007-01-01T06:48:06Z') });
    expect(decideReceivedDate(parseFromLine('From git@z Thu Jan  1 00:00:00 1970')!, date).date.toISOString()).toBe('2007-01-02T09:00:00.000Z');
    expect(decideReceivedDate({ sender: '', date: undefined }, 'garbage')).toMatchObject({ date: new Date(0), note: expect.stringMatching(/no readable Date: header/) });
  });
});
