import type { MaildirsizeInfo } from './types.js';
import { splitTextLines } from '../files.js';

/**
 * Pure readers of what discover's inventory meets besides the cPanel tables (cpanel/files.ts): maildirsize, Exim
 * filters, autoresponder settings, cPanel's mailbox links, and what a maildir file name says about its message.
 * They never throw on malformed input (a hostile or broken file is data).
 */

/**
 * maildirsize (maildir-format.md §4.2): line 1 `<n>S,<m>C`, then `<bytes> <count>` deltas. Returns undefined when
 * line 1 is not a quota definition.
 */
export function parseMaildirsize(text: string): MaildirsizeInfo | undefined {
  const all = splitTextLines(text);
  const header = all[0]?.trim() ?? '';
  if (!/^(\d+[SC])(,\d+[SC])*$/.test(header)) return undefined;
  let limitBytes: number | null = null;
  let limitMessages: number | null = null;
  for (const part of header.split(',')) {
    const n = Number(part.slice(0, -1));
    if (part.endsWith('S')) limitBytes = n > 0 ? n : null;
    else limitMessages = n > 0 ? n : null;
  }
  let usedBytes = 0;
  let usedMessages = 0;
  for (const line of all.slice(1)) {
    const m = /^\s*(-?\d+)\s+(-?\d+)\s*$/.exec(line);
    if (!m) continue;
    usedBytes += Number(m[1]);
    usedMessages += Number(m[2]);
  }
  return { limitBytes, limitMessages, usedBytes, usedMessages, fileBytes: Buffer.byteLength(text) };
}

/**
 * Number of rules in a cPanel-generated Exim filter: cPanel writes one `if` block per rule. Counting `if` at the
 * start of a line also works for hand-written filters, as a lower bound.
 */
export function countFilterRules(text: string): number {
  let n = 0;
  for (const line of splitTextLines(text)) if (/^\s*if\s/.test(line)) n += 1;
  return n;
}

/** ~/.autorespond/ADDRESS.json (or the legacy KEY=VALUE .conf): interval hours, start/stop epoch seconds. */
export function parseAutoresponderSettings(text: string): { start: number | null; stop: number | null; intervalHours: number | null } {
  const pick = (value: unknown): number | null => {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    return Number.isFinite(n) && n > 0 ? n : null;
  };
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') {
      const o = parsed as Record<string, unknown>;
      return { start: pick(o.start), stop: pick(o.stop), intervalHours: pick(o.interval) };
    }
  } catch {
    // legacy .conf: KEY=VALUE or KEY: VALUE lines
  }
  const kv = new Map<string, string>();
  for (const line of splitTextLines(text)) {
    const m = /^\s*(\w+)\s*[=:]\s*(.*)$/.exec(line);
    if (m) kv.set(m[1]!.toLowerCase(), m[2]!);
  }
  return { start: pick(kv.get('start')), stop: pick(kv.get('stop')), intervalHours: pick(kv.get('interval')) };
}

/**
 * cPanel's mailbox links in ~/mail: `.LOCAL@DOMAIN_TLD -> DOMAIN/LOCAL` (cpanel-layout.md §2.4). Returns true when
 * name and target have exactly that shape; such a link is normal and is neither followed nor reported.
 */
export function isCpanelMailboxLink(name: string, target: string): boolean {
  const m = /^\.([^@/]+)@([^/]+)$/.exec(name);
  if (!m) return false;
  const [, local, domainTld] = m;
  const t = /^(?:\.\/)?([^/]+)\/([^/]+)\/?$/.exec(target);
  if (!t) return false;
  const [, domain, targetLocal] = t;
  return targetLocal === local && domain!.replace(/\./g, '_') === domainTld;
}

/**
 * Delivery time from a maildir name: Dovecot and qmail-style writers start the unique name with the epoch seconds
 * of delivery (`<secs>.M<usecs>P<pid>.<host>`, maildir-format.md §1.2). Undefined when the name does not start
 * with a plausible epoch (9 or 10 digits and a dot), e.g. hand-made or converted names.
 */
export function deliverySecondsFromName(fileName: string): number | undefined {
  let secs = 0;
  let i = 0;
  for (; i < fileName.length && i < 11; i++) {
    const c = fileName.charCodeAt(i);
    if (c === 46) break;
    if (c < 48 || c > 57) return undefined;
    secs = secs * 10 + (c - 48);
  }
  if ((i !== 9 && i !== 10) || fileName.charCodeAt(i) !== 46) return undefined;
  return secs;
}

/**
 * The ",S=<bytes>" size of a maildir file name, as converters/maildir/filename.ts parseMaildirName reads it, without
 * a regex or an object per name: discover calls this once per message file (a million times on a big server).
 */
export function maildirSizeFromName(fileName: string): number | undefined {
  const colon = fileName.indexOf(':');
  const end = colon < 0 ? fileName.length : colon;
  let at = fileName.indexOf(',S=');
  while (at >= 0 && at < end) {
    let i = at + 3;
    let n = 0;
    for (; i < end; i++) {
      const c = fileName.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
    }
    if (i > at + 3) return n;
    at = fileName.indexOf(',S=', at + 3);
  }
  return undefined;
}
