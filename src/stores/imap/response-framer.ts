/**
 * Cuts a stream of IMAP server bytes into whole responses, and reads what a folder's listing and download need from
 * a FETCH response: UID, FLAGS, INTERNALDATE, RFC822.SIZE, header fields and the BODY[] literal.
 *
 * Hand-written, for one hot path only: imapflow (which does everything else) tokenizes every byte of every response
 * in JavaScript and then copies each literal again; for 10,000 messages / 180 MB that was ~1.5 s of CPU against
 * ~0.1 s here, where a literal is found by its length and handed on as a slice of the socket chunk it arrived in
 * (listing the same folder: ~0.6 s in imapflow's parser, a few tens of ms here).
 * The grammar is RFC 3501 §9 (RFC 9051 for `~{n}` literal8): a response is text lines, and a line ending in `{n}` is
 * followed by exactly n bytes of literal, after which the same response continues.
 */

/**
 * One complete response: `texts[i]` is followed by `literals[i]` (there is one literal fewer than texts); the `{n}`
 * markers are not in the texts.
 */
export interface RawResponse {
  readonly texts: readonly string[];
  readonly literals: readonly Buffer[];
}

export class ImapProtocolError extends Error {
  readonly code = 'EPROTOCOL';
}

/** A text line longer than this is not IMAP (a literal is announced long before): the stream is broken. */
const maxLineBytes = 1024 * 1024;

const literalMarker = /~?\{(\d+)\+?\}$/;

export class ResponseFramer {
  private texts: string[] = [];
  private literals: Buffer[] = [];
  /** Bytes of an unfinished text line (no CRLF yet). */
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  /** While inside a literal: bytes still to come, and the parts received. */
  private literalLeft = -1;
  private literalParts: Buffer[] = [];

  constructor(private readonly onResponse: (response: RawResponse) => void) {}

  /** Feeds one chunk; calls onResponse for every response it completes. Throws ImapProtocolError on garbage. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.literalLeft >= 0) {
        const take = Math.min(this.literalLeft, chunk.length - at);
        if (take > 0) this.literalParts.push(chunk.subarray(at, at + take));
        at += take;
        this.literalLeft -= take;
        if (this.literalLeft > 0) return;
        const parts = this.literalParts;
        this.literals.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
        this.literalParts = [];
        this.literalLeft = -1;
        continue;
      }
      const lf = chunk.indexOf(0x0a, at);
      if (lf < 0) {
        this.lineParts.push(chunk.subarray(at));
        this.lineBytes += chunk.length - at;
        if (this.lineBytes > maxLineBytes) throw new ImapProtocolError(`the server sent a line of over ${maxLineBytes} bytes`);
        return;
      }
      let line: string;
      if (this.lineParts.length > 0) {
        this.lineParts.push(chunk.subarray(at, lf));
        line = Buffer.concat(this.lineParts).toString('latin1');
        this.lineParts = [];
        this.lineBytes = 0;
      } else {
        line = chunk.toString('latin1', at, lf);
      }
      at = lf + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      const marker = line.endsWith('}') ? literalMarker.exec(line) : null;
      // The `{n}` marker is framing, not content: a text followed by a literal ends where the marker began.
      this.texts.push(marker ? line.slice(0, marker.index) : line);
      if (marker) {
        const length = Number(marker[1]);
        if (!Number.isSafeInteger(length)) throw new ImapProtocolError(`the server announced a literal of ${marker[1]} bytes`);
        this.literalLeft = length;
        if (length === 0) {
          this.literals.push(Buffer.alloc(0));
          this.literalLeft = -1;
        }
        continue;
      }
      const response = { texts: this.texts, literals: this.literals };
      this.texts = [];
      this.literals = [];
      this.onResponse(response);
    }
  }

  /** True between responses (nothing half received). */
  get isIdle(): boolean {
    return this.texts.length === 0 && this.lineParts.length === 0 && this.literalLeft < 0;
  }
}

/**
 * What a FETCH response says about one message. Absent fields were not in the response; `body`/`headerFields` are
 * null when the server sent NIL.
 */
export interface FetchAttributes {
  readonly sequence: number;
  uid?: number;
  flags?: string[];
  /** INTERNALDATE as sent ("17-Jul-1996 02:44:25 -0700"). */
  internalDate?: string;
  size?: number;
  /** BODY[] (or BINARY[], RFC822). */
  body?: Buffer | null;
  /** BODY[HEADER.FIELDS (...)]. */
  headerFields?: Buffer | null;
}

const fetchStart = /^\* (\d+) FETCH \(/i;

/** The attributes of a `* n FETCH (...)` response; undefined for any other response. */
export function parseFetchResponse(response: RawResponse): FetchAttributes | undefined {
  const first = response.texts[0];
  if (first === undefined || first.charCodeAt(0) !== 0x2a) return undefined;
  const head = fetchStart.exec(first);
  if (!head) return undefined;
  const cursor = new Cursor(response, head[0].length);
  const out: FetchAttributes = { sequence: Number(head[1]) };
  const bad = (what: string) => new ImapProtocolError(`bad ${what} in FETCH response: ${first.slice(0, 200)}`);
  for (;;) {
    cursor.skipSpaces();
    if (cursor.atEnd()) throw new ImapProtocolError(`unterminated FETCH response: ${first.slice(0, 200)}`);
    if (cursor.peek() === 0x29) break; // ')'
    const name = cursor.readAttributeName().toUpperCase();
    cursor.skipSpaces();
    const value = cursor.readValue();
    switch (name) {
      case 'UID':
      case 'RFC822.SIZE': {
        const number = typeof value === 'string' ? Number(value) : NaN;
        if (!Number.isSafeInteger(number) || number < 0 || (name === 'UID' && number === 0)) throw bad(name);
        if (name === 'UID') out.uid = number;
        else out.size = number;
        break;
      }
      case 'FLAGS':
        if (!Array.isArray(value)) throw bad(name);
        out.flags = value.filter((each): each is string => typeof each === 'string');
        break;
      case 'INTERNALDATE':
        if (!Buffer.isBuffer(value)) throw bad(name);
        out.internalDate = value.toString('latin1');
        break;
      case 'BODY[]':
      case 'BINARY[]':
      case 'RFC822':
        if (value !== null && !Buffer.isBuffer(value)) throw bad(name);
        out.body = value;
        break;
      default:
        if (name.startsWith('BODY[HEADER.FIELDS')) {
          if (value !== null && !Buffer.isBuffer(value)) throw bad(name);
          out.headerFields = value;
        }
      // anything else (MODSEQ, X-GM-LABELS...) is read past
    }
  }
  return out;
}

const months = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const dateTime = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/** An IMAP date-time (RFC 3501 §9: `dd-Mon-yyyy hh:mm:ss +zzzz`, day possibly space-padded); undefined if unreadable. */
export function parseImapDateTime(text: string): Date | undefined {
  const match = dateTime.exec(text);
  if (!match) {
    // Not quite RFC 3501 (a one-digit hour, no zone, extra spaces): read it leniently rather than lose the date, which
    // would make the message's received date the day of the migration.
    const loose = new Date(text.trim().replace(/^(\d{1,2})-([A-Za-z]{3})-(\d{4})/, '$1 $2 $3'));
    return Number.isNaN(loose.getTime()) ? undefined : loose;
  }
  const month = months.indexOf(match[2]!.toUpperCase());
  if (month < 0) return undefined;
  const offsetMinutes = (match[7] === '-' ? -1 : 1) * (Number(match[8]) * 60 + Number(match[9]));
  const utc = Date.UTC(Number(match[3]), month, Number(match[1]), Number(match[4]), Number(match[5]), Number(match[6]));
  const date = new Date(utc - offsetMinutes * 60_000);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A tagged status line: `TAG OK|NO|BAD text`. */
export function parseTaggedStatus(text: string): { tag: string; status: 'OK' | 'NO' | 'BAD'; text: string } | undefined {
  const match = /^([^\s*+]+) (OK|NO|BAD)\b ?(.*)$/i.exec(text);
  if (!match) return undefined;
  return { tag: match[1]!, status: match[2]!.toUpperCase() as 'OK' | 'NO' | 'BAD', text: match[3]! };
}

/** A value of a response: a literal or quoted string (Buffer), an atom or number (string), NIL (null), or a list. */
export type ResponseValue = Buffer | string | null | ResponseValue[];

/**
 * The values of a response after its first `skip` characters (`* LIST ` is 7), in order, to its end: what the
 * responses other than FETCH (LIST, STATUS, NAMESPACE) are made of. Throws ImapProtocolError on a malformed one.
 */
export function readResponseValues(response: RawResponse, skip: number): ResponseValue[] {
  const cursor = new Cursor(response, skip);
  const values: ResponseValue[] = [];
  for (;;) {
    cursor.skipSpaces();
    if (cursor.atEnd()) return values;
    values.push(cursor.readValue());
  }
}

/** Walks a response's texts and literals as one token stream. */
class Cursor {
  private index = 0;

  constructor(
    private readonly response: RawResponse,
    private pos: number,
  ) {}

  private get text(): string {
    return this.response.texts[this.index]!;
  }

  /** At the end of a text with a literal after it. */
  private atLiteral(): boolean {
    return this.pos >= this.text.length && this.index < this.response.literals.length;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length && !this.atLiteral();
  }

  /** The next character's code, or -1 at a literal or the end. */
  peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  skipSpaces(): void {
    while (this.peek() === 0x20) this.pos += 1;
  }

  /** An attribute name: an atom that may hold a `[section]` (with spaces and parentheses) and a `<partial>`. */
  readAttributeName(): string {
    const start = this.pos;
    const text = this.text;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c === 0x5b) {
        // '[' ... ']'
        const close = text.indexOf(']', this.pos);
        if (close < 0) throw new ImapProtocolError(`unterminated section in: ${text.slice(0, 200)}`);
        this.pos = close + 1;
        continue;
      }
      if (c === 0x20 || c === 0x28 || c === 0x29) break;
      this.pos += 1;
    }
    if (this.pos === start) throw new ImapProtocolError(`expected a FETCH item name in: ${text.slice(0, 200)}`);
    return text.slice(start, this.pos);
  }

  /** A value: a literal (Buffer), a quoted string (Buffer), NIL (null), a list, or an atom/number (string). */
  readValue(): ResponseValue {
    if (this.atLiteral()) {
      const literal = this.response.literals[this.index]!;
      this.index += 1;
      this.pos = 0;
      return literal;
    }
    const c = this.peek();
    if (c === 0x22) return this.readQuoted();
    if (c === 0x28) return this.readList();
    const text = this.text;
    const start = this.pos;
    while (this.pos < text.length) {
      const d = text.charCodeAt(this.pos);
      if (d === 0x20 || d === 0x29) break;
      if (d === 0x5b) {
        const close = text.indexOf(']', this.pos);
        this.pos = close < 0 ? text.length : close + 1;
        continue;
      }
      this.pos += 1;
    }
    if (this.pos === start) throw new ImapProtocolError(`expected a value in: ${text.slice(0, 200)}`);
    const atom = text.slice(start, this.pos);
    return atom.toUpperCase() === 'NIL' ? null : atom;
  }

  private readQuoted(): Buffer {
    const text = this.text;
    let out = '';
    this.pos += 1;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c === 0x5c) {
        out += text[this.pos + 1] ?? '';
        this.pos += 2;
        continue;
      }
      if (c === 0x22) {
        this.pos += 1;
        return Buffer.from(out, 'latin1');
      }
      out += text[this.pos];
      this.pos += 1;
    }
    throw new ImapProtocolError(`unterminated quoted string in: ${text.slice(0, 200)}`);
  }

  private readList(): ResponseValue[] {
    this.pos += 1; // '('
    const items: ResponseValue[] = [];
    for (;;) {
      this.skipSpaces();
      if (this.atEnd()) throw new ImapProtocolError(`unterminated list in: ${this.text.slice(0, 200)}`);
      if (this.peek() === 0x29) {
        this.pos += 1;
        return items;
      }
      items.push(this.readValue());
    }
  }
}
