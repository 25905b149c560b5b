import type { CatchAllInfo, CpuserInfo, ForwarderInfo, MaildirsizeInfo, PasswordState } from './types.js';

/**
 * Pure parsers for cPanel's text files (formats in shared/reference/cpanel-layout.md). They take file contents and
 * return data; they never throw on malformed lines (a hostile or broken file is data), they skip them.
 */

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

/** `domain: user` maps (etc/userdomains, etc/trueuserdomains). The `*: nobody` line is dropped. */
export function parseDomainUserMap(text: string): { domain: string; user: string }[] {
  const out: { domain: string; user: string }[] = [];
  for (const line of lines(text)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const domain = line.slice(0, colon).trim().toLowerCase();
    const user = line.slice(colon + 1).trim();
    if (domain === '' || domain === '*' || user === '' || user === 'nobody') continue;
    out.push({ domain, user });
  }
  return out;
}

/** /etc/passwd of the server: user -> home directory (field 6). */
export function parseSystemPasswd(text: string): Map<string, string> {
  const homes = new Map<string, string>();
  for (const line of lines(text)) {
    const fields = line.split(':');
    if (fields.length < 7) continue;
    const [user, , , , , home] = fields;
    if (user && home) homes.set(user, home);
  }
  return homes;
}

/** var/cpanel/users/USER: KEY=VALUE lines (cpanel-layout.md §4.5). */
export function parseCpuserFile(text: string): CpuserInfo {
  const values = new Map<string, string>();
  for (const line of lines(text)) {
    if (line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    values.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const primary = values.get('DNS') || null;
  const others = [...values.entries()]
    .filter(([key, value]) => /^DNS\d+$/.test(key) && value !== '')
    .sort(([a], [b]) => Number(a.slice(3)) - Number(b.slice(3)))
    .map(([, value]) => value.toLowerCase());
  return {
    mailboxFormat: values.get('MAILBOX_FORMAT') || null,
    utf8MailboxNames: values.get('UTF8MAILBOX') === '1',
    suspended: values.get('SUSPENDED') === '1',
    primaryDomain: primary ? primary.toLowerCase() : null,
    domains: [...(primary ? [primary.toLowerCase()] : []), ...others],
    maxEmailQuota: values.get('MAX_EMAILACCT_QUOTA') || null,
    owner: values.get('OWNER') || null,
    plan: values.get('PLAN') || null,
  };
}

/** ~/etc/DOMAIN/passwd: the local parts, in file order (field 1; cpanel-layout.md §3.1). */
export function parseMailPasswd(text: string): string[] {
  const out: string[] = [];
  for (const line of lines(text)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const local = colon < 0 ? line : line.slice(0, colon);
    if (local !== '') out.push(local);
  }
  return out;
}

/**
 * ~/etc/DOMAIN/shadow -> local part -> whether a hash exists. The hash itself never leaves this function: only
 * its state is returned, so no caller can print it by accident.
 */
export function parseShadowStates(text: string): Map<string, Exclude<PasswordState, 'missing' | 'system'>> {
  const out = new Map<string, Exclude<PasswordState, 'missing' | 'system'>>();
  for (const line of lines(text)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const local = line.slice(0, colon);
    const rest = line.slice(colon + 1);
    const end = rest.indexOf(':');
    const hash = end < 0 ? rest : rest.slice(0, end);
    // A '!' prefix is how cPanel locks a mailbox on suspension (cpanel-layout.md §3.2); '*' or '!' alone has no hash.
    const state = hash === '' || hash === '*' || hash === '!' || hash === '!!' ? 'empty' : hash.startsWith('!') ? 'locked' : 'set';
    out.set(local, state);
  }
  return out;
}

/** ~/etc/DOMAIN/quota: `LOCAL:BYTES`; 0, missing or malformed = unlimited (null). */
export function parseQuotaFile(text: string): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const line of lines(text)) {
    const colon = line.lastIndexOf(':');
    if (colon <= 0) continue;
    const value = line.slice(colon + 1).trim();
    const bytes = /^\d+$/.test(value) ? Number(value) : 0;
    out.set(line.slice(0, colon), bytes > 0 && Number.isSafeInteger(bytes) ? bytes : null);
  }
  return out;
}

/**
 * maildirsize (maildir-format.md §4.2): line 1 `<n>S,<m>C`, then `<bytes> <count>` deltas. Returns undefined when
 * line 1 is not a quota definition.
 */
export function parseMaildirsize(text: string): MaildirsizeInfo | undefined {
  const all = lines(text);
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

/** Splits an Exim redirect list on commas outside double quotes (cPanel quotes destinations with spaces). */
export function splitDestinations(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      if (current.trim() !== '') out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim() !== '') out.push(current.trim());
  return out;
}

function classifyDestination(dest: string): ForwarderInfo['kind'] {
  const bare = dest.replace(/^"|"$/g, '');
  if (bare.startsWith(':fail:')) return 'fail';
  if (bare.startsWith(':blackhole:')) return 'blackhole';
  if (bare.startsWith(':defer:')) return 'defer';
  if (bare.startsWith(':include:')) return 'include';
  if (bare.startsWith('|')) return /\/autorespond(\s|$)/.test(bare) ? 'autoresponder' : 'pipe';
  if (bare.startsWith('/')) return 'file';
  return 'forward';
}

/**
 * /etc/valiases/DOMAIN (cpanel-layout.md §4.1): `KEY: DEST[,DEST...]`; `*` is the domain's default address
 * (catch-all). The user name as `*` value means "deliver to the default mailbox".
 */
export function parseValiases(text: string, domain: string, user: string): { forwarders: ForwarderInfo[]; catchAll: CatchAllInfo | null } {
  const forwarders: ForwarderInfo[] = [];
  let catchAll: CatchAllInfo | null = null;
  for (const line of lines(text)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === '*') {
      const first = splitDestinations(value)[0] ?? value;
      const kind = classifyDestination(first);
      catchAll = {
        domain,
        action: value,
        kind: kind === 'forward' ? (value === user ? 'default-mailbox' : 'forward') : kind === 'autoresponder' ? 'pipe' : kind,
      };
      continue;
    }
    // Special actions replace the whole list (Exim redirect semantics), so they are not split on commas.
    const special = /^:(fail|defer|blackhole|include):/.test(value);
    const destinations = special ? [value] : splitDestinations(value);
    const kinds = destinations.map(classifyDestination);
    const kind = kinds.includes('autoresponder') ? 'autoresponder' : (kinds[0] ?? 'forward');
    forwarders.push({ address: key, destinations, kind });
  }
  return { forwarders, catchAll };
}

/** /etc/vdomainaliases/DOMAIN: `DOMAIN: TARGET`. */
export function parseVdomainaliases(text: string, domain: string): string | null {
  for (const { domain: key, user: target } of parseDomainUserMap(text)) {
    if (key === domain.toLowerCase()) return target;
  }
  return null;
}

/**
 * Number of rules in a cPanel-generated Exim filter: cPanel writes one `if` block per rule. Counting `if` at the
 * start of a line also works for hand-written filters, as a lower bound.
 */
export function countFilterRules(text: string): number {
  let n = 0;
  for (const line of lines(text)) if (/^\s*if\s/.test(line)) n += 1;
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
  for (const line of lines(text)) {
    const m = /^\s*(\w+)\s*[=:]\s*(.*)$/.exec(line);
    if (m) kv.set(m[1]!.toLowerCase(), m[2]!);
  }
  return { start: pick(kv.get('start')), stop: pick(kv.get('stop')), intervalHours: pick(kv.get('interval')) };
}

const controlChars = /[\u0000-\u001f\u007f]/;

/**
 * Whether a name read from disk or a table is safe to turn into a path segment. Returns the problem, or undefined.
 * U+FFFD means the name was not valid UTF-8 (Node decoded it lossily), so a path built from it would not exist.
 */
export function checkNameSegment(name: string): string | undefined {
  if (name === '') return 'empty name';
  if (controlChars.test(name)) return 'control characters in name';
  if (name.includes('\uFFFD')) return 'name is not valid UTF-8';
  if (name.includes('/')) return '"/" in name';
  if (name === '.' || name === '..' || name.includes('..')) return '".." in name';
  return undefined;
}

/** Only control characters and undecodable bytes: for message file names, where ".." and "/" cannot occur. */
export function checkFileName(name: string): string | undefined {
  if (controlChars.test(name)) return 'control characters in name';
  if (isUndecodableName(name)) return 'name is not valid UTF-8';
  return undefined;
}

/**
 * A name that was not valid UTF-8 on disk (Latin-1 from an old Courier setup or a Windows client): Node decoded it
 * lossily, so a path built from it would not exist. Odd, not unsafe: it can neither climb out of a target nor reach
 * a terminal, and rsync copies its bytes as they are; discover cannot open it by that name.
 */
export function isUndecodableName(name: string): boolean {
  return name.includes('\uFFFD');
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
