/**
 * mbox files as real writers produce them, generated in code for tests (nothing copied from elsewhere). Each function
 * follows what the writer named does, quirks included; see the comment on each. Messages are small and plain.
 */

export interface WriterMessage {
  readonly from: string;
  /** RFC 5322 Date: header value. */
  readonly date: string;
  readonly subject: string;
  readonly messageId: string;
  readonly body: string;
  /** Extra header lines, written after Date:. */
  readonly headers?: readonly string[];
}

export function buildWriterMessages(count: number, prefix = 'm'): WriterMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    from: `user${i}@example.org`,
    date: `Mon, ${String(i + 1).padStart(2, '0')} Jan 2007 06:48:0${i % 10} +0000`,
    subject: `${prefix} message ${i}`,
    messageId: `<${prefix}-${i}@example.org>`,
    body: `Hello ${i},\n\nsome text of message ${i}.\n`,
  }));
}

const asctime = (date: Date) => {
  const text = date.toUTCString(); // "Mon, 01 Jan 2007 06:48:00 GMT"
  const [weekday, day, month, year, time] = text.replace(',', '').split(' ');
  return `${weekday} ${month} ${day!.replace(/^0/, ' ').padStart(2, ' ')} ${time} ${year}`;
};

const headerBlock = (m: WriterMessage, extra: readonly string[] = []) =>
  [`From: ${m.from}`, `Date: ${m.date}`, ...(m.headers ?? []), ...extra, `Subject: ${m.subject}`, `Message-ID: ${m.messageId}`].join('\n') + '\n\n';

/**
 * Mailman 2 pipermail monthly archive (`2007-January.txt`): `From user at example.org  Mon Jan  1 06:48:06 2007`
 * separators (" at " for "@", two spaces), the From: header obscured the same way, and no empty line between a body
 * and the next separator when `withBlankLines` is false (pipermail appends each body as it came).
 */
export function writePipermailArchive(messages: readonly WriterMessage[], options: { withBlankLines: boolean }): string {
  return messages
    .map((m) => {
      const [local, domain] = m.from.split('@');
      const obscured = `${local} at ${domain}`;
      const header = headerBlock({ ...m, from: `${obscured} (${local})` });
      return `From ${obscured}  ${asctime(new Date(m.date))}\n${header}${m.body}${options.withBlankLines ? '\n' : ''}`;
    })
    .join('');
}

/**
 * Old Thunderbird / Netscape folder file: bare `From ` or `From - ` separators with nothing after them, X-Mozilla
 * headers first, body lines starting with "From " left unescaped, optionally CRLF line ends.
 */
export function writeOldThunderbird(messages: readonly WriterMessage[], options: { crlf: boolean; separator: 'From ' | 'From - ' }): Buffer {
  const text = messages
    .map((m) => `${options.separator}\n${headerBlock(m, []).replace(/^/, 'X-Mozilla-Status: 0001\nX-Mozilla-Status2: 00000000\n')}${m.body}\n`)
    .join('');
  return Buffer.from(options.crlf ? text.replace(/\n/g, '\r\n') : text, 'latin1');
}

/**
 * mboxcl2 (Solaris mail, SVR4) whose Content-Length values were written for CRLF line ends and whose file was then
 * turned into LF (dos2unix, a transfer in text mode): every length points past its message, the last one past the end
 * of the file.
 */
export function writeMboxcl2WithCrlfLengths(messages: readonly WriterMessage[]): string {
  return messages
    .map((m) => {
      const body = m.body;
      const crlfLength = Buffer.byteLength(body.replace(/\n/g, '\r\n'));
      return `From ${m.from} ${asctime(new Date(m.date))}\n${headerBlock(m, [`Content-Length: ${crlfLength}`])}${body}\n`;
    })
    .join('');
}

/** GNU Mailutils: every flag in Status: (R read, O old, A answered, F flagged, D deleted, d draft). */
export function writeMailutils(messages: readonly (WriterMessage & { status: string })[]): string {
  return messages.map((m) => `From ${m.from} ${asctime(new Date(m.date))}\n${headerBlock(m, [`Status: ${m.status}`])}${m.body}\n`).join('');
}

/** git format-patch: every separator dated `Mon Sep 17 00:00:00 2001`, the real date in Date:. */
export function writeGitFormatPatch(messages: readonly WriterMessage[]): string {
  return messages.map((m, i) => `From ${'0123456789abcdef'.repeat(2).slice(0, 31)}${i % 10} Mon Sep 17 00:00:00 2001\n${headerBlock(m)}${m.body}\n`).join('');
}

/** b4 (and public-inbox exports): `From git@z Thu Jan  1 00:00:00 1970` on every separator. */
export function writeB4(messages: readonly WriterMessage[]): string {
  return messages.map((m) => `From git@z Thu Jan  1 00:00:00 1970\n${headerBlock(m)}${m.body}\n`).join('');
}

/** A plain mbox with the given From_ line date for every message. */
export function writeMbox(messages: readonly WriterMessage[], extraHeaders: (m: WriterMessage, i: number) => readonly string[] = () => []): string {
  return messages.map((m, i) => `From ${m.from} ${asctime(new Date(m.date))}\n${headerBlock(m, extraHeaders(m, i))}${m.body}\n`).join('');
}
