import { MailshiftError } from '../../core/errors.js';

/**
 * The APPEND command as the raw session sends it: text parts and literals, and what the server's tagged answer says
 * about where the messages went (UIDPLUS, RFC 4315).
 *
 * Why hand-written: imapflow 2.10.2 keeps one command in flight per connection and sends a literal over 4,096 bytes
 * as a synchronising one (it uses LITERAL- only), so every message costs a round trip or two; on a 40 ms link that
 * was most of an IMAP-to-IMAP copy. With LITERAL+ (RFC 7888) a whole APPEND, or a MULTIAPPEND (RFC 3502) of many
 * messages, goes out without waiting, and several are in flight at once.
 */

/** How literals may be sent: LITERAL+ never waits, LITERAL- (and IMAP4rev2) waits only above 4,096 bytes. */
export type LiteralMode = 'plus' | 'minus' | 'sync';

/** One part of a command: text, then optionally a literal whose `{n}` announcement ends the text. */
export interface CommandPart {
  readonly text: string;
  readonly literal?: { readonly data: Buffer; readonly isSynchronizing: boolean };
}

export interface AppendItem {
  /** Flags and keywords as IMAP atoms (\Seen, $Forwarded), already checked as sendable. */
  readonly flags: readonly string[];
  readonly internalDate?: Date;
  /** CRLF line ends. */
  readonly content: Buffer;
}

/** RFC 7888 §5: LITERAL- allows non-synchronising literals up to this size. */
const literalMinusMaxBytes = 4096;

export function decideLiteralMode(capabilities: ReadonlySet<string>): LiteralMode {
  if (capabilities.has('LITERAL+')) return 'plus';
  if (capabilities.has('LITERAL-') || capabilities.has('IMAP4REV2')) return 'minus';
  return 'sync';
}

/**
 * `APPEND mailbox (flags) "date" {n+}` + bytes, once per item (several items make a MULTIAPPEND). A message with a
 * NUL byte goes as a literal8 (`~{n}`) where the server offers BINARY (RFC 3516); elsewhere it is sent as it is and
 * a server that refuses it answers NO for that message alone.
 */
export function buildAppendCommand(mailbox: string, items: readonly AppendItem[], options: { readonly literalMode: LiteralMode; readonly hasBinary: boolean }): CommandPart[] {
  if (items.length === 0) throw new Error('an APPEND needs at least one message');
  const parts: CommandPart[] = [];
  let text = `APPEND ${formatQuoted(mailbox)}`;
  for (const item of items) {
    text += ` (${item.flags.join(' ')})`;
    if (item.internalDate) text += ` "${formatInternalDate(item.internalDate)}"`;
    const isSynchronizing = options.literalMode === 'sync' || (options.literalMode === 'minus' && item.content.length > literalMinusMaxBytes);
    const isBinary = options.hasBinary && item.content.includes(0);
    text += ` ${isBinary ? '~' : ''}{${item.content.length}${isSynchronizing ? '' : '+'}}\r\n`;
    parts.push({ text, literal: { data: item.content, isSynchronizing } });
    text = '';
  }
  return parts;
}

/**
 * A mailbox name as an IMAP quoted string. Names come from our own folder mapping (modified UTF-7, or UTF-8 once
 * UTF8=ACCEPT is on), which never holds CR, LF or NUL; one that does is refused rather than sent.
 */
export function formatQuoted(text: string): string {
  if (/[\r\n\u0000]/.test(text)) {
    throw new MailshiftError('MAILSHIFT_IMAP_FOLDER_NAME', `cannot send the folder name ${JSON.stringify(text)}: it holds a line break or NUL`, { scope: 'mailbox' });
  }
  return `"${text.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3501 date-time, in UTC: " 2-Jan-1996 10:00:00 +0000". */
export function formatInternalDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const day = String(date.getUTCDate()).padStart(2, ' ');
  return `${day}-${months[date.getUTCMonth()]}-${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

/**
 * The target UIDs of an APPEND's tagged OK, `[APPENDUID uidvalidity uid-set]`, in the order the messages were sent
 * (RFC 4315 §3: for a MULTIAPPEND the set lists them in that order). Undefined without UIDPLUS, or when the set does
 * not name exactly `count` UIDs.
 */
export function parseAppendUid(text: string, count: number): { readonly uidValidity: number; readonly uids: readonly number[] } | undefined {
  const match = /\[APPENDUID (\d+) ([\d:,]+)\]/i.exec(text);
  if (!match) return undefined;
  const uids: number[] = [];
  for (const range of match[2]!.split(',')) {
    const [low, high] = range.split(':').map(Number) as [number, number | undefined];
    const end = high ?? low;
    if (!Number.isInteger(low) || !Number.isInteger(end) || low < 1 || end < low || uids.length + end - low + 1 > count) return undefined;
    for (let uid = low; uid <= end; uid += 1) uids.push(uid);
  }
  if (uids.length !== count) return undefined;
  return { uidValidity: Number(match[1]), uids };
}
