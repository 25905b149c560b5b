import type { SystemFlag } from '../flags.js';

/**
 * What mbox writers keep in message headers (maildir-format.md §6.3-6.5): c-client/UW-IMAP and Dovecot (Status,
 * X-Status, X-Keywords, X-UID, X-IMAPbase, X-IMAP), Thunderbird (X-Mozilla-Status, -Status2, -Keys) and Gmail
 * Takeout (X-Gmail-Labels). Header bytes are handled as latin1 so invalid 8-bit headers pass through unchanged.
 *
 * Over 400 lines because it is one table of writers' dialects (each a few lines of parsing and its quirks); split by
 * writer, the precedence between them (which header wins when several say the same) would be in no one file.
 */

export interface HeaderField {
  /** Lower-case field name. */
  readonly name: string;
  /** Byte range of the whole field (name, value and continuation lines, with the final newline). */
  readonly start: number;
  readonly end: number;
  /** Offset of the value (just after the colon). */
  readonly valueStart: number;
}

/** A set of lower-case field names, with what lets a scan reject most other names before decoding them. */
export interface FieldNameFilter {
  readonly names: ReadonlySet<string>;
  readonly lengths: ReadonlySet<number>;
  readonly firstBytes: ReadonlySet<number>;
}

export function buildFieldNameFilter(names: Iterable<string>): FieldNameFilter {
  const set = new Set([...names].map((name) => name.toLowerCase()));
  return {
    names: set,
    lengths: new Set([...set].map((name) => name.length)),
    firstBytes: new Set([...set].flatMap((name) => [name.charCodeAt(0), name.toUpperCase().charCodeAt(0)])),
  };
}

/**
 * Splits a header block into fields, by byte offsets only: values are decoded on demand (fieldValue), because most
 * fields are only ever skipped over or cut out, and normalising every value cost more than the rest of the parse.
 * With `only`, fields with other names are not returned at all (and cost no allocation): a conversion needs a dozen
 * bookkeeping names out of headers that carry dozens of Received and DKIM lines.
 */
export function parseHeaderFields(header: Buffer, only?: FieldNameFilter): HeaderField[] {
  const fields: HeaderField[] = [];
  let position = 0;
  let current: { name: string; start: number; valueStart: number } | undefined;
  const close = (end: number) => {
    if (current) fields.push({ name: current.name, start: current.start, end, valueStart: current.valueStart });
    current = undefined;
  };
  const length = header.length;
  while (position < length) {
    const newline = header.indexOf(0x0a, position);
    const lineEnd = newline < 0 ? length : newline + 1;
    const first = header[position]!;
    if (first === 0x0a || (first === 0x0d && header[position + 1] === 0x0a)) {
      close(position);
      position = length;
      break;
    }
    if ((first === 0x20 || first === 0x09) && current) {
      // continuation line
    } else {
      close(position);
      if (!only || only.firstBytes.has(first)) {
        const colon = header.indexOf(0x3a, position);
        if (colon > position && colon < lineEnd && (!only || only.lengths.has(colon - position)) && !hasWhitespace(header, position, colon)) {
          const name = header.toString('latin1', position, colon).toLowerCase();
          if (!only || only.names.has(name)) current = { name, start: position, valueStart: colon + 1 };
        }
      }
    }
    position = lineEnd;
  }
  close(Math.min(position, length));
  return fields;
}

function hasWhitespace(bytes: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] === 0x20 || bytes[i] === 0x09) return true;
  return false;
}

/** A field's value, unfolded and trimmed (latin1, so 8-bit bytes survive). */
export function fieldValue(header: Buffer, field: HeaderField): string {
  // Most values are one line with single spaces ("Status: RO"): those are cut out as they are, without the regex
  // (the same result; this runs for several fields of every message).
  let from = field.valueStart;
  let to = field.end;
  while (from < to && (header[from] === 0x20 || header[from] === 0x09)) from++;
  while (to > from && (header[to - 1] === 0x0a || header[to - 1] === 0x0d || header[to - 1] === 0x20 || header[to - 1] === 0x09)) to--;
  if (isSingleSpaced(header, from, to)) return header.toString('latin1', from, to);
  return header.toString('latin1', field.valueStart, field.end).replace(/\s+/g, ' ').trim();
}

/** True when the only whitespace (as /\s/ reads latin1) between `from` and `to` is single spaces. */
function isSingleSpaced(bytes: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const byte = bytes[i]!;
    if ((byte >= 0x09 && byte <= 0x0d) || byte === 0xa0) return false;
    if (byte === 0x20 && bytes[i + 1] === 0x20) return false;
  }
  return true;
}

/** Headers mbox writers add for their own bookkeeping; removed when the message is stored as maildir. */
export const mboxInternalHeaders: ReadonlySet<string> = new Set([
  'status',
  'x-status',
  'x-keywords',
  'x-uid',
  'x-imapbase',
  'x-imap',
  'content-length',
  'x-mozilla-status',
  'x-mozilla-status2',
  'x-mozilla-keys',
]);

/** Returns the header block without the given fields; every other byte is unchanged. */
export function stripHeaderFields(header: Buffer, fields: readonly HeaderField[], names: ReadonlySet<string>): Buffer {
  const drop = fields.filter((field) => names.has(field.name));
  if (drop.length === 0) return header;
  const parts: Buffer[] = [];
  let at = 0;
  for (const field of drop) {
    parts.push(header.subarray(at, field.start));
    at = field.end;
  }
  parts.push(header.subarray(at));
  return Buffer.concat(parts);
}

let storedHeaderFilter: FieldNameFilter | undefined;

/**
 * One message's header block as the mbox holds it -> its bookkeeping (flags, UID, labels...) and the header as it is
 * stored anywhere else: the bookkeeping fields cut out, every other byte unchanged. What convert writes into a maildir
 * file and what an mbox store serves over IMAP start with these same bytes.
 */
export function splitMboxHeader(header: Buffer): { meta: MboxMessageMetadata; stored: Buffer } {
  storedHeaderFilter ??= mboxFieldFilter();
  const fields = parseHeaderFields(header, storedHeaderFilter);
  return { meta: readMboxMetadata(header, fields), stored: stripHeaderFields(header, fields, mboxInternalHeaders) };
}

export interface ImapBase {
  readonly uidValidity: number;
  readonly lastUid: number;
  readonly keywords: readonly string[];
}

export interface MboxMessageMetadata {
  readonly status?: string;
  readonly xStatus?: string;
  readonly keywords: readonly string[];
  readonly uid?: number;
  readonly imapBase?: ImapBase;
  /** The message carries X-IMAP: it is UW-IMAP/Dovecot's "FOLDER INTERNAL DATA" pseudo-message. */
  readonly isPseudoMessage: boolean;
  readonly mozillaStatus?: number;
  readonly mozillaStatus2?: number;
  readonly mozillaKeys: readonly string[];
  /** Undefined when the message has no X-Gmail-Labels header. */
  readonly gmailLabels?: readonly string[];
  readonly messageId?: string;
  readonly date?: string;
}

function parseImapBase(value: string | undefined): ImapBase | undefined {
  if (!value) return undefined;
  const [validity, last, ...keywords] = value.split(/\s+/);
  const uidValidity = Number(validity);
  const lastUid = Number(last);
  if (!Number.isSafeInteger(uidValidity) || uidValidity <= 0 || uidValidity > 0xffffffff) return undefined;
  if (!Number.isSafeInteger(lastUid) || lastUid < 0) return undefined;
  return { uidValidity, lastUid, keywords: keywords.filter(Boolean) };
}

function parseHex(value: string | undefined): number | undefined {
  if (!value || !/^[0-9a-fA-F]{1,8}$/.test(value)) return undefined;
  return parseInt(value, 16);
}

/** Every field a conversion reads or strips: the filter for parseHeaderFields in the hot path. */
export function mboxFieldFilter(): FieldNameFilter {
  return buildFieldNameFilter([...interestingFields, ...mboxInternalHeaders]);
}

const interestingFields = new Set([
  'x-uid', 'status', 'x-status', 'x-imapbase', 'x-imap', 'x-mozilla-status', 'x-mozilla-status2', 'x-mozilla-keys',
  'message-id', 'date', 'x-keywords', 'x-gmail-labels',
]);

/**
 * Reads the bookkeeping headers in one pass over the fields (first occurrence wins, as c-client reads them).
 * Written to allocate little: it runs once per message, and a Map and a spread object per field were a tenth of a
 * conversion's garbage.
 */
export function readMboxMetadata(header: Buffer, fields: readonly HeaderField[]): MboxMessageMetadata {
  let status: string | undefined;
  let xStatus: string | undefined;
  let uidText: string | undefined;
  let imapBaseText: string | undefined;
  let mozillaStatusText: string | undefined;
  let mozillaStatus2Text: string | undefined;
  let mozillaKeysText: string | undefined;
  let messageId: string | undefined;
  let date: string | undefined;
  let keywords: string[] | undefined;
  let gmailLabels: string[] | undefined;
  let isPseudoMessage = false;
  for (const field of fields) {
    switch (field.name) {
      case 'status':
        status ??= fieldValue(header, field);
        break;
      case 'x-status':
        xStatus ??= fieldValue(header, field);
        break;
      case 'x-uid':
        uidText ??= fieldValue(header, field);
        break;
      case 'x-imapbase':
        imapBaseText ??= fieldValue(header, field);
        break;
      case 'x-imap':
        // X-IMAPbase wins over X-IMAP when both are there, whatever their order.
        isPseudoMessage = true;
        if (imapBaseText === undefined && !fields.some((each) => each.name === 'x-imapbase')) imapBaseText = fieldValue(header, field);
        break;
      case 'x-mozilla-status':
        mozillaStatusText ??= fieldValue(header, field);
        break;
      case 'x-mozilla-status2':
        mozillaStatus2Text ??= fieldValue(header, field);
        break;
      case 'x-mozilla-keys':
        mozillaKeysText ??= fieldValue(header, field);
        break;
      case 'message-id':
        messageId ??= fieldValue(header, field);
        break;
      case 'date':
        date ??= fieldValue(header, field);
        break;
      case 'x-keywords':
        for (const word of fieldValue(header, field).split(/[\s,]+/)) if (word) (keywords ??= []).push(word);
        break;
      case 'x-gmail-labels':
        (gmailLabels ??= []).push(...parseGmailLabels(fieldValue(header, field)));
        break;
    }
  }
  const uid = uidText && /^\d+$/.test(uidText) ? Number(uidText) : undefined;
  const metadata: Mutable<MboxMessageMetadata> = { keywords: keywords ?? noWords, isPseudoMessage, mozillaKeys: mozillaKeysText ? mozillaKeysText.split(/\s+/).filter(Boolean) : noWords };
  if (status !== undefined) metadata.status = status;
  if (xStatus !== undefined) metadata.xStatus = xStatus;
  if (uid !== undefined && uid > 0 && uid <= 0xffffffff) metadata.uid = uid;
  const imapBase = parseImapBase(imapBaseText);
  if (imapBase) metadata.imapBase = imapBase;
  const mozillaStatus = parseHex(mozillaStatusText);
  if (mozillaStatus !== undefined) metadata.mozillaStatus = mozillaStatus;
  const mozillaStatus2 = parseHex(mozillaStatus2Text);
  if (mozillaStatus2 !== undefined) metadata.mozillaStatus2 = mozillaStatus2;
  if (gmailLabels) metadata.gmailLabels = gmailLabels;
  if (messageId !== undefined) metadata.messageId = messageId;
  if (date !== undefined) metadata.date = date;
  return metadata;
}

const noWords: readonly string[] = Object.freeze([]);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Thunderbird's nsMsgMessageFlags bits we map (maildir-format.md §6.4). */
const mozilla = {
  read: 0x0001,
  replied: 0x0002,
  marked: 0x0004,
  expunged: 0x0008,
  forwarded: 0x1000,
  imapDeleted: 0x00200000, // in X-Mozilla-Status2
  isNew: 0x00010000, // in X-Mozilla-Status2
} as const;

export interface MessageState {
  readonly flags: Set<SystemFlag>;
  readonly keywords: Set<string>;
  /** Passed (forwarded): maildir letter P. */
  readonly passed: boolean;
  /** True when the message belongs in new/ (never seen by a client: no Status O and no flags). */
  readonly isNew: boolean;
}

/**
 * Flags and keywords from the headers. Status/X-Status letters are case-sensitive (c-client writes them upper
 * case; the only lower-case flag letter is GNU Mailutils' `d`, draft, in Status). Thunderbird's X-Mozilla-Status is used when present, except on messages
 * that also carry X-Gmail-Labels (a status imported with foreign mail means nothing, §6.4).
 */
export function decideMessageState(meta: MboxMessageMetadata): MessageState {
  const flags = new Set<SystemFlag>();
  const keywords = new Set<string>();
  let passed = false;
  let isOld = false;
  const status = meta.status ?? '';
  const xStatus = meta.xStatus ?? '';
  if (status.includes('R')) flags.add('\\Seen');
  if (status.includes('O')) isOld = true;
  // GNU Mailutils keeps every flag in Status (A answered, F flagged, D deleted, d draft); Dovecot and UW-IMAP never
  // write those letters there (they use X-Status), so nothing conflicts.
  if (status.includes('A')) flags.add('\\Answered');
  if (status.includes('F')) flags.add('\\Flagged');
  if (status.includes('D')) flags.add('\\Deleted');
  if (status.includes('d')) flags.add('\\Draft');
  if (xStatus.includes('A')) flags.add('\\Answered');
  if (xStatus.includes('F')) flags.add('\\Flagged');
  if (xStatus.includes('T')) flags.add('\\Draft');
  if (xStatus.includes('D')) flags.add('\\Deleted');
  for (const keyword of meta.keywords) keywords.add(keyword);

  const useMozilla = meta.mozillaStatus !== undefined && meta.gmailLabels === undefined;
  if (useMozilla) {
    const bits = meta.mozillaStatus ?? 0;
    const bits2 = meta.mozillaStatus2 ?? 0;
    if (bits & mozilla.read) flags.add('\\Seen');
    if (bits & mozilla.replied) flags.add('\\Answered');
    if (bits & mozilla.marked) flags.add('\\Flagged');
    if (bits & mozilla.forwarded) passed = true;
    // Expunged-but-not-compacted and IMAP-deleted mail is kept, marked \Deleted: nothing is dropped silently.
    if (bits & mozilla.expunged || bits2 & mozilla.imapDeleted) flags.add('\\Deleted');
    // Thunderbird marks a message "old" once it has been shown in a session; without New it is not recent.
    if (!(bits2 & mozilla.isNew)) isOld = true;
    for (const key of meta.mozillaKeys) keywords.add(key);
  }

  if (meta.gmailLabels !== undefined) {
    const labels = new Set(meta.gmailLabels.map((label) => label.toLowerCase()));
    if (labels.has('opened') || !labels.has('unread')) flags.add('\\Seen');
    if (labels.has('unread')) flags.delete('\\Seen');
    if (labels.has('starred')) flags.add('\\Flagged');
    if (labels.has('drafts') || labels.has('draft')) flags.add('\\Draft');
    isOld = true;
  }

  const hasAnyFlag = flags.size > 0 || passed || keywords.size > 0;
  return { flags, keywords, passed, isNew: !isOld && !hasAnyFlag };
}

/**
 * X-Gmail-Labels: a comma-separated, CSV-quoted list (`Inbox,"Work, old",Important`). Takeout writes non-ASCII
 * labels as raw UTF-8, or as RFC 2047 encoded words, and then often as one encoded word holding the whole list
 * (`=?UTF-8?Q?Re=C3=A7us/=C3=89t=C3=A9_2024,Inbox,Opened?=`): so the value (latin1, as header bytes are read) is
 * decoded first, then split as CSV. Folded lines come unfolded (fieldValue).
 */
export function parseGmailLabels(rawValue: string): string[] {
  const value = decodeEncodedWords(latin1ToUtf8(rawValue));
  const labels: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '"') {
      if (quoted && value[i + 1] === '"') {
        current += '"';
        i += 1;
      } else {
        quoted = !quoted;
      }
    } else if (ch === ',' && !quoted) {
      labels.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  labels.push(current);
  return labels.map((label) => label.trim()).filter((label) => label.length > 0);
}

/** Header bytes read as latin1 -> UTF-8 text when they are valid UTF-8 (raw UTF-8 labels), else left as they are. */
function latin1ToUtf8(text: string): string {
  if (!/[\x80-\xff]/.test(text)) return text;
  const utf8 = Buffer.from(text, 'latin1').toString('utf8');
  return utf8.includes('\uFFFD') ? text : utf8;
}

/** RFC 2047 encoded words (B and Q) in UTF-8 or ISO-8859-1; anything else is left as written. */
export function decodeEncodedWords(text: string): string {
  return text
    .replace(/\?=\s+=\?/g, '?==?') // whitespace between adjacent encoded words is not part of the text
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (whole, charset: string, encoding: string, data: string) => {
      const normalized = charset.toLowerCase().split('*')[0];
      const nodeCharset = normalized === 'utf-8' || normalized === 'utf8' ? 'utf8' : normalized === 'iso-8859-1' || normalized === 'latin1' || normalized === 'us-ascii' ? 'latin1' : undefined;
      if (!nodeCharset) return whole;
      const bytes =
        encoding.toLowerCase() === 'b'
          ? Buffer.from(data, 'base64')
          : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
      return bytes.toString(nodeCharset);
    });
}

/** Decodes a header block's bytes for display; latin1 when it is not valid UTF-8. */
export function headerText(bytes: Buffer): string {
  const utf8 = bytes.toString('utf8');
  return utf8.includes('\uFFFD') ? bytes.toString('latin1') : utf8;
}
