/**
 * The mbox From_ line: `From <envelope-sender> <date>` (RFC 4155; maildir-format.md §6.2).
 *
 * A line is a message separator only when its date parses: that is what keeps a body line such as
 * "From here on we..." from splitting a message, as mutt's is_from() and Dovecot's mbox_from_parse() do.
 * Accepted, as Dovecot accepts them: asctime (`Thu Nov 29 22:33:52 2001`), two spaces before a one-digit day,
 * a time zone (named or numeric) before or after the year, missing seconds, `Thu, 9 Nov 2002 22:33:52`,
 * Thunderbird's `From - ` sender, and a missing weekday.
 */

export interface FromLine {
  readonly sender: string;
  /**
   * The separator's date. Undefined for a bare separator (old Thunderbird and Netscape wrote `From ` or `From - `
   * with nothing after it): the received date then comes from the Date: header (decideReceivedDate).
   */
  readonly date: Date | undefined;
}

const months: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};
const weekdays = new Set(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

const namedZonesMinutes: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0, WET: 0, BST: 60, CET: 60, MET: 60, CEST: 120, MEST: 120, EET: 120, EEST: 180,
  EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420, JST: 540, IST: 330,
};

/** Longest From_ line we consider: real ones are well under 1 KB; a 2 MB body line is never a separator. */
export const maxFromLineBytes = 4096;

export function parseFromLine(line: string): FromLine | undefined {
  if (!line.startsWith('From ') || line.length > maxFromLineBytes) return undefined;
  // UUCP-relayed mail ends the line with "remote from <host>" after the date.
  const rest = line.slice(5).replace(/\r?\n$/, '').replace(/\s+remote from \S+\s*$/, '');
  // The sender is the first token; an empty sender shows up as two spaces ("From  Mon Jan ...").
  const firstSpace = rest.indexOf(' ');
  if (firstSpace < 0) return undefined;
  const sender = rest.slice(0, firstSpace);
  const date = parseFromDate(rest.slice(firstSpace + 1));
  if (!date) {
    // Mailman's pipermail archives hide the address: `From user at example.org  Mon Jan  1 06:48:06 2007`.
    const pipermail = /^(\S+) at (\S+) (.*)$/.exec(rest);
    if (pipermail) {
      const pipermailDate = parseFromDate(pipermail[3]!.trim());
      if (pipermailDate) return { sender: `${pipermail[1]}@${pipermail[2]}`, date: pipermailDate };
    }
    // A quoted local part may contain spaces: `From "john doe"@x Mon ...`.
    if (sender.startsWith('"')) {
      const close = rest.indexOf('"', 1);
      const after = close > 0 ? rest.indexOf(' ', close) : -1;
      if (after > 0) {
        const quotedDate = parseFromDate(rest.slice(after + 1));
        if (quotedDate) return { sender: rest.slice(0, after), date: quotedDate };
      }
    }
    return undefined;
  }
  return { sender, date };
}

// Plain asctime (`Thu Nov 29 22:33:52 2001`), what nearly every writer produces: read with one regex instead of the
// general tokenizer below, which handles every other form.
const asctime = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** Parses the date part of a From_ line; undefined when it is not a date. */
export function parseFromDate(text: string): Date | undefined {
  const plain = asctime.exec(text);
  if (plain) {
    const [, month, day, hours, minutes, seconds, year] = plain;
    const date = buildUtcDate(Number(year), months[month!.toLowerCase()]!, Number(day), Number(hours), Number(minutes), Number(seconds), 0);
    if (date) return date;
  }
  const tokens = text.replace(/,/g, ' ').trim().split(/\s+/);
  let i = 0;
  if (tokens[i] && weekdays.has(tokens[i]!.toLowerCase().slice(0, 3)) && /^[A-Za-z]{3,9}$/.test(tokens[i]!)) i += 1;
  // asctime puts the month first (`Nov 29`); RFC 822-style dates put the day first (`9 Nov`).
  let month: number | undefined;
  let day: number | undefined;
  const monthOf = (token: string | undefined) => (token && /^[A-Za-z]{3,}$/.test(token) ? months[token.toLowerCase().slice(0, 3)] : undefined);
  if (monthOf(tokens[i]) !== undefined && /^\d{1,2}$/.test(tokens[i + 1] ?? '')) {
    month = monthOf(tokens[i]);
    day = Number(tokens[i + 1]);
    i += 2;
  } else if (/^\d{1,2}$/.test(tokens[i] ?? '') && monthOf(tokens[i + 1]) !== undefined) {
    day = Number(tokens[i]);
    month = monthOf(tokens[i + 1]);
    i += 2;
  } else {
    return undefined;
  }
  let year: number | undefined;
  let time: [number, number, number] | undefined;
  let zoneMinutes: number | undefined;
  let hasZone = false;
  // Year, time and zone may come in several orders; each may appear once. Anything else means "not a date".
  for (; i < tokens.length; i++) {
    const token = tokens[i]!;
    const timeMatch = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(token);
    if (timeMatch && !time) {
      time = [Number(timeMatch[1]), Number(timeMatch[2]), Number(timeMatch[3] ?? 0)];
    } else if (/^\d{4}$/.test(token) && year === undefined) {
      year = Number(token);
    } else if (/^\d{2}$/.test(token) && year === undefined && time) {
      year = Number(token) + (Number(token) < 70 ? 2000 : 1900);
    } else if (/^[+-]\d{4}$/.test(token) && !hasZone) {
      const sign = token[0] === '-' ? -1 : 1;
      zoneMinutes = sign * (Number(token.slice(1, 3)) * 60 + Number(token.slice(3, 5)));
      hasZone = true;
    } else if (/^[A-Za-z]{1,5}$/.test(token) && !hasZone) {
      // Unknown named zones ("MSK", "remote from ...") are accepted as a zone we cannot place: UTC.
      zoneMinutes = namedZonesMinutes[token.toUpperCase()] ?? 0;
      hasZone = true;
    } else if (/^\(.*\)$/.test(token)) {
      continue; // a comment such as "(EST)"
    } else {
      return undefined;
    }
  }
  if (year === undefined || !time || month === undefined || day === undefined) return undefined;
  const [hours, minutes, seconds] = time;
  // RFC 4155 asks for UTC; Dovecot writes local time without a zone. Without a zone we take UTC: the hour may be
  // off by the writer's offset, which a converter cannot know.
  return buildUtcDate(year, month, day, hours, minutes, seconds, zoneMinutes ?? 0);
}

function buildUtcDate(year: number, month: number, day: number, hours: number, minutes: number, seconds: number, zoneMinutes: number): Date | undefined {
  if (day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60 || year < 1900 || year > 2200) return undefined;
  const date = new Date(Date.UTC(year, month, day, hours, minutes, Math.min(seconds, 59)) - zoneMinutes * 60_000);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * A bare separator: `From`, `From ` or `From - ` with no sender or date after it, as old Thunderbird (and Netscape)
 * wrote. Such a line is a separator only where the framer finds it at the start of the file or after an empty line,
 * with a header line right after it; this function only reads the line itself.
 */
export function parseBareFromLine(line: string): FromLine | undefined {
  return /^From(?: -?)? *\r?\n?$/.test(line) ? { sender: line.includes('-') ? '-' : '', date: undefined } : undefined;
}

/** A line that starts a header field (`Name: value`): what must follow a bare separator. */
export function isHeaderFieldLine(line: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+:/.test(line);
}

/**
 * From_ dates that are no dates: git format-patch writes `Mon Sep 17 00:00:00 2001` on every separator (a fixed
 * string, the day git's author picked), b4, public-inbox exports and others write 1 January 1970 (the Unix epoch).
 */
export function classifyPlaceholderFromDate(date: Date): string | undefined {
  const ms = date.getTime();
  if (ms === Date.UTC(2001, 8, 17, 0, 0, 0)) return 'git format-patch';
  // The epoch in any time zone, as written by a writer that had no date.
  if (ms >= Date.UTC(1969, 11, 31, 10) && ms < Date.UTC(1970, 0, 2, 14)) return '1 January 1970';
  return undefined;
}

export interface ReceivedDate {
  readonly date: Date;
  /** Why the From_ line's date was not used, when it was not (said in the report). */
  readonly note?: string;
}

/**
 * The received date (INTERNALDATE) of a message: its From_ line's date, unless the separator had none (a bare
 * separator) or a known placeholder; then the Date: header's. Without a usable Date: header either, the placeholder
 * is kept (or, for a bare separator, 1 January 1970): the date goes into the stored file's name, so it must come
 * from the message alone for a re-run to find what it wrote.
 */
export function decideReceivedDate(fromLine: FromLine, dateHeader: string | undefined): ReceivedDate {
  const fromDate = fromLine.date;
  const placeholder = fromDate ? classifyPlaceholderFromDate(fromDate) : 'no date on the "From " line';
  if (!placeholder) return { date: fromDate! };
  const headerDate = dateHeader === undefined ? undefined : parseHeaderDate(dateHeader);
  if (headerDate) return { date: headerDate, note: `the received date is taken from the Date: header (${fromDate ? `placeholder ${placeholder} "From " date` : placeholder})` };
  return { date: fromDate ?? new Date(0), note: `${fromDate ? `placeholder ${placeholder} "From " date` : placeholder} and no readable Date: header; the received date is ${fromDate ? 'that placeholder' : '1 January 1970'}` };
}

/** An RFC 5322 Date: header value (or its obsolete forms); undefined when it cannot be read. */
export function parseHeaderDate(value: string): Date | undefined {
  const text = value.replace(/\([^)]*\)/g, ' ').trim();
  const date = parseFromDate(text) ?? parseLenient(text);
  return date && !classifyPlaceholderFromDate(date) ? date : undefined;
}

function parseLenient(text: string): Date | undefined {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  const year = new Date(ms).getUTCFullYear();
  return year >= 1900 && year <= 2200 ? new Date(ms) : undefined;
}
