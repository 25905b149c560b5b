import type { CatchAllInfo, CpuserInfo, ForwarderInfo, PasswordState } from './inventory/types.js';
import { isSafeDomain } from './layout.js';

/**
 * cPanel's and the system's text tables, one parser per file (formats in shared/reference/cpanel-layout.md):
 * etc/userdomains, etc/passwd, etc/group, var/cpanel/users/USER, ~/etc/DOMAIN/{passwd,shadow,quota},
 * etc/valiases/DOMAIN, etc/vdomainaliases/DOMAIN. Pure: they take file contents and return data; they never throw
 * on malformed lines (a hostile or broken file is data), they skip them. Used by discover's inventory, by copy,
 * chown, resync and verify (through resolve.ts), and by the account-file merges.
 */

export function splitTextLines(text: string): string[] {
  return text.split(/\r?\n/);
}

// ---------------------------------------------------------------------------------------------------------------
// etc/userdomains, etc/trueuserdomains: "domain: user" lines, the last one "*: nobody"

/**
 * Every "KEY: VALUE" line (the key trimmed and lower-cased, the value trimmed); lines without a key are skipped.
 * With `mentioning`, only the lines holding that text.
 */
function readDomainLines(text: string, mentioning?: string): { domain: string; user: string }[] {
  const out: { domain: string; user: string }[] = [];
  for (const line of splitTextLines(text)) {
    // A line that cannot name the user asked for is passed over before it is split: every account's copy asks a
    // server-wide file of one line per domain.
    if (mentioning !== undefined && !line.includes(mentioning)) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ domain: line.slice(0, colon).trim().toLowerCase(), user: line.slice(colon + 1).trim() });
  }
  return out;
}

/** `domain: user` maps (etc/userdomains, etc/trueuserdomains). The `*: nobody` line is dropped. */
export function parseDomainUserMap(text: string): { domain: string; user: string }[] {
  return readDomainLines(text).filter(({ domain, user }) => domain !== '' && domain !== '*' && user !== '' && user !== 'nobody');
}

/** Domains owned by USER, as safe host names (isSafeDomain: they become paths). */
export function parseUserDomains(text: string, user: string): string[] {
  if (user === '') return [];
  return readDomainLines(text, user)
    .filter((entry) => entry.user === user && entry.domain !== '*' && isSafeDomain(entry.domain))
    .map((entry) => entry.domain);
}

/**
 * The account that owns DOMAIN: the first line for it decides. Undefined when no line names it, or when its owner
 * is `nobody` or not a plausible cPanel user name (it becomes a path: ROOT/home/USER).
 */
export function findDomainOwner(text: string, domain: string): string | undefined {
  const entry = readDomainLines(text).find((e) => e.domain === domain);
  if (!entry) return undefined;
  return /^[a-z0-9_][a-z0-9_-]{0,31}$/i.test(entry.user) && entry.user !== 'nobody' ? entry.user : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// etc/passwd and etc/group of the system (passwd(5), group(5))

export interface PasswdEntry {
  readonly user: string;
  /** NaN when the field is not a number. */
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** Every passwd(5) line with its seven fields, in file order. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of splitTextLines(text)) {
    const entry = parsePasswdLine(line);
    if (entry) out.push(entry);
  }
  return out;
}

/** One passwd(5) line, or undefined when it has fewer than seven fields. */
function parsePasswdLine(line: string): PasswdEntry | undefined {
  const fields = line.split(':');
  if (fields.length < 7) return undefined;
  return { user: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]! };
}

/**
 * The home directory (field 6) and ids of USER, or undefined (absent, or ids that are not whole numbers). The first
 * well-formed line for USER decides, as in parsePasswd's order.
 *
 * Only the lines that start with `USER:` are split: every account's copy, chown and resync asks the server's passwd
 * for one user, and on a server of 25,000 accounts parsing all of it each time was most of a small account's copy.
 */
export function parsePasswdHome(text: string, user: string): { home: string; uid: number; gid: number } | undefined {
  if (user === '' || user.includes(':') || user.includes('\n')) return undefined;
  for (const line of linesStartingWith(text, `${user}:`)) {
    const entry = parsePasswdLine(line);
    if (!entry) continue;
    if (!Number.isInteger(entry.uid) || !Number.isInteger(entry.gid)) return undefined;
    return { home: entry.home, uid: entry.uid, gid: entry.gid };
  }
  return undefined;
}

/** The lines of `text` (without their CR LF or LF) that start with `prefix`, found without splitting the rest. */
function* linesStartingWith(text: string, prefix: string): Generator<string> {
  let start = text.startsWith(prefix) ? 0 : -1;
  if (start < 0) {
    const at = text.indexOf(`\n${prefix}`);
    start = at < 0 ? -1 : at + 1;
  }
  while (start >= 0) {
    const end = text.indexOf('\n', start);
    const line = text.slice(start, end < 0 ? text.length : end);
    yield line.endsWith('\r') ? line.slice(0, -1) : line;
    if (end < 0) return;
    const next = text.indexOf(`\n${prefix}`, end);
    start = next < 0 ? -1 : next + 1;
  }
}

/** /etc/passwd of the server: user -> home directory (field 6); a later line for a user wins. */
export function parseSystemPasswd(text: string): Map<string, string> {
  const homes = new Map<string, string>();
  for (const { user, home } of parsePasswd(text)) if (user && home) homes.set(user, home);
  return homes;
}

/** gid of a group from a group(5) text. */
export function parseGroupGid(text: string, group: string): number | undefined {
  for (const line of splitTextLines(text)) {
    const fields = line.split(':');
    if (fields[0] === group && fields.length >= 3) {
      const gid = Number(fields[2]);
      return Number.isInteger(gid) ? gid : undefined;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// var/cpanel/users/USER and the account's own tables

/** var/cpanel/users/USER: KEY=VALUE lines (cpanel-layout.md §4.5). */
export function parseCpuserFile(text: string): CpuserInfo {
  const values = new Map<string, string>();
  for (const line of splitTextLines(text)) {
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
  for (const line of splitTextLines(text)) {
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
  for (const line of splitTextLines(text)) {
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
  for (const line of splitTextLines(text)) {
    const colon = line.lastIndexOf(':');
    if (colon <= 0) continue;
    const value = line.slice(colon + 1).trim();
    const bytes = /^\d+$/.test(value) ? Number(value) : 0;
    out.set(line.slice(0, colon), bytes > 0 && Number.isSafeInteger(bytes) ? bytes : null);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// etc/valiases/DOMAIN and etc/vdomainaliases/DOMAIN

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
  for (const line of splitTextLines(text)) {
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
