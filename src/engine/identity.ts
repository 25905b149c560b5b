import { createHash } from 'node:crypto';
import { toCrlf } from '../../converters/message/crlf.js';

export { toCrlf };

/**
 * Cross-format message identity: how the engine knows a message is already on the other side when the two stores
 * share no file names (IMAP <-> maildir, IMAP <-> IMAP, a UIDVALIDITY reset, mail copied by an earlier tool).
 *
 * The key is a hash of the Message-ID plus a few header fields that servers do not rewrite (Date, From, To, Cc,
 * Subject, In-Reply-To), normalised so that folding, line endings and runs of white space do not matter. Received
 * and other trace headers are left out on purpose: the same message delivered to two servers differs only there and
 * is still one message. The size (in CRLF form, what IMAP's RFC822.SIZE counts) is compared beside the key when both
 * sides know it. A message without a Message-ID has a "weak" key; the engine then confirms a match by content hash.
 *
 * Everything here is pure and byte-exact: headers are handled as latin1 so 8-bit bytes survive untouched.
 */

/** Header fields that make up the key, in the order they are hashed. */
export const identityHeaderFields = ['message-id', 'date', 'from', 'to', 'cc', 'subject', 'in-reply-to'] as const;

export interface MessageIdentity {
  /** Hex digest; equal keys mean the same message (subject to size and, for weak keys, content). */
  readonly key: string;
  /** Normalised Message-ID, for reports; undefined when the message has none. */
  readonly messageId?: string;
  /** True when the message has no Message-ID: a key match must be confirmed by content. */
  readonly isWeak: boolean;
}

/**
 * Offset just past the blank line that ends the header block, or undefined when the bytes seen so far hold no blank
 * line yet. A message that starts with a blank line has an empty header block (end 1 or 2).
 */
export function findHeaderEnd(bytes: Buffer): number | undefined {
  if (bytes[0] === 0x0a) return 1;
  if (bytes[0] === 0x0d && bytes[1] === 0x0a) return 2;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < bytes.length; i = bytes.indexOf(0x0a, i + 1)) {
    const next = bytes[i + 1];
    if (next === 0x0a) return i + 2;
    if (next === 0x0d && bytes[i + 2] === 0x0a) return i + 3;
  }
  return undefined;
}

/** Header fields of a header block (or a whole message: parsing stops at the blank line). Names lower-cased. */
export function parseHeaderFields(bytes: Buffer): { name: string; value: string }[] {
  const end = findHeaderEnd(bytes) ?? bytes.length;
  const text = bytes.subarray(0, end).toString('latin1');
  const fields: { name: string; value: string }[] = [];
  let current: { name: string; value: string } | undefined;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '') break;
    if ((line.startsWith(' ') || line.startsWith('\t')) && current) {
      current.value += ` ${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    // A line without a colon is not a field (an mbox From_ line, garbage); it also ends any folded value.
    if (colon <= 0) {
      current = undefined;
      continue;
    }
    current = { name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) };
    fields.push(current);
  }
  for (const field of fields) field.value = normaliseValue(field.value);
  return fields;
}

function normaliseValue(value: string): string {
  return value.replace(/[ \t\r\n]+/g, ' ').trim();
}

/** The identity of a message from its header block (or the first bytes of it, as long as they hold the whole header). */
export function buildIdentity(headerBytes: Buffer): MessageIdentity {
  const byName = new Map<string, string[]>();
  for (const field of parseHeaderFields(headerBytes)) {
    if (!(identityHeaderFields as readonly string[]).includes(field.name)) continue;
    const list = byName.get(field.name) ?? [];
    list.push(field.value);
    byName.set(field.name, list);
  }
  let canonical = '';
  for (const name of identityHeaderFields) {
    for (const value of byName.get(name) ?? []) canonical += `${name}:${value}\n`;
  }
  const messageId = byName.get('message-id')?.[0];
  const key = createHash('sha256').update(canonical, 'latin1').digest('hex').slice(0, 40);
  return messageId ? { key, messageId, isWeak: false } : { key, isWeak: true };
}

/** Hash of the whole message with line endings normalised to CRLF: equal for the same message in maildir and IMAP. */
export function buildContentHash(content: Buffer): string {
  return createHash('sha256').update(toCrlf(content)).digest('hex');
}
