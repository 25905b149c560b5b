import path from 'node:path';
import { isDomainDirName } from '../cpanel/layout.js';
import { checkFileName, checkNameSegment } from '../cpanel/unsafe.js';

/**
 * What the names inside a cPanel backup mean (campaigns-archives-scaleout.md §C.1, §C.2; cpanel-layout.md §10), and
 * which names are refused before anything is written. Pure: names in, decisions out.
 *
 *   cpmove-USER/homedir/mail/DOMAIN/LOCAL/{cur,new,tmp}/FILE      a mailbox's INBOX message
 *   cpmove-USER/homedir/mail/DOMAIN/LOCAL/.Folder/cur/FILE        a folder's message
 *   cpmove-USER/homedir/mail/{cur,new,.Sent/cur}/FILE             the account's default mailbox
 *   cpmove-USER/homedir/etc/DOMAIN/{passwd,shadow,quota}          the mailbox tables (merged, never copied over)
 *   cpmove-USER/homedir.tar                                       the home directory packed on its own (nested)
 *   cpmove-USER/cp/USER, va/DOMAIN, vad/DOMAIN, vf/DOMAIN          account settings and routing tables
 */

/** The user a backup file's name names: `cpmove-USER[.tar[.gz]]`, `USER.tar[.gz]`, `backup-DATE_USER.tar[.gz]`. */
export function parseBackupFileName(fileName: string): string | undefined {
  const stem = path.posix.basename(fileName).replace(/\.tar(?:\.gz)?$|\.tgz$/, '');
  // backup-M.D.YYYY_hh-mm-ss_USER (pkgacct's prefix for backups), or an older backup-DATE_USER.
  const candidates = [/^cpmove-(.+)$/.exec(stem)?.[1], /^backup-\d+\.\d+\.\d+_\d+-\d+-\d+_(.+)$/.exec(stem)?.[1], /^backup-[^_]+_(.+)$/.exec(stem)?.[1], stem];
  return candidates.find((c): c is string => c !== undefined && isCpanelUserName(c));
}

export function isCpanelUserName(name: string): boolean {
  return /^[a-z0-9_][a-z0-9_-]{0,31}$/i.test(name);
}

/** Why an entry's name is refused; the kinds are the reason codes of the skipped items. */
export type NameRefusal = 'nul-byte' | 'absolute-path' | 'parent-segment' | 'empty-name' | 'unsafe-name';

export type EntryName = { readonly ok: true; readonly parts: readonly string[] } | { readonly ok: false; readonly refusal: NameRefusal; readonly detail: string };

/** The members of a cpmove tree: a name starting with one of them has no `cpmove-USER/` directory above it. */
const cpmoveMembers = new Set(['homedir', 'homedir.tar', 'cp', 'va', 'vad', 'vf', 'meta', 'shadow', 'quota', 'mm', 'mma', 'userdata']);

/**
 * An entry name split into safe segments, relative to the cpmove tree (the `cpmove-USER/` level removed). Refused:
 * a NUL byte, an absolute name, any `..` segment, a segment a path could not carry (control characters). `.` and
 * empty segments (`./a//b`) are dropped, as tar does.
 */
export function parseEntryName(name: string, options: { readonly nested?: boolean } = {}): EntryName {
  if (name.includes('\u0000')) return { ok: false, refusal: 'nul-byte', detail: 'the name contains a NUL byte' };
  if (name.startsWith('/')) return { ok: false, refusal: 'absolute-path', detail: 'absolute name' };
  const raw = name.split('/').filter((p) => p !== '' && p !== '.');
  if (raw.some((p) => p === '..')) return { ok: false, refusal: 'parent-segment', detail: 'a ".." segment climbs out of the tree' };
  if (raw.length === 0) return { ok: false, refusal: 'empty-name', detail: 'empty name' };
  for (const part of raw) {
    const problem = checkFileName(part);
    if (problem && !problem.includes('UTF-8')) return { ok: false, refusal: 'unsafe-name', detail: problem };
  }
  // Inside the nested homedir.tar names are relative to the home directory already.
  if (options.nested) return { ok: true, parts: ['homedir', ...raw] };
  return { ok: true, parts: cpmoveMembers.has(raw[0]!) ? raw : raw.slice(1) };
}

/** The top directory of a name (`cpmove-bob`), when the name has one. */
export function topDirOf(name: string): string | undefined {
  const first = name.split('/').find((p) => p !== '' && p !== '.');
  return first !== undefined && !cpmoveMembers.has(first) ? first : undefined;
}

/** What a member of the cpmove tree is to a restore. */
export type Member =
  | { readonly kind: 'mail'; readonly rest: readonly string[] }
  | { readonly kind: 'nested-home' }
  | { readonly kind: 'home'; readonly rest: readonly string[] }
  | { readonly kind: 'cpuser'; readonly user: string }
  | { readonly kind: 'routing'; readonly table: 'valiases' | 'vdomainaliases' | 'vfilters'; readonly domain: string }
  | { readonly kind: 'homedir-paths' }
  | { readonly kind: 'other' };

const routingTables = { va: 'valiases', vad: 'vdomainaliases', vf: 'vfilters' } as const;

export function classifyMember(parts: readonly string[]): Member {
  const [first, second, ...more] = parts;
  if (first === 'homedir.tar' && parts.length === 1) return { kind: 'nested-home' };
  if (first === 'homedir') {
    if (second === 'mail') return { kind: 'mail', rest: more };
    return { kind: 'home', rest: parts.slice(1) };
  }
  if (first === 'cp' && second !== undefined && more.length === 0) return { kind: 'cpuser', user: second };
  if ((first === 'va' || first === 'vad' || first === 'vf') && second !== undefined && more.length === 0) {
    return { kind: 'routing', table: routingTables[first], domain: second };
  }
  if (first === 'meta' && second === 'homedir_paths' && more.length === 0) return { kind: 'homedir-paths' };
  return { kind: 'other' };
}

/**
 * A path under ~/mail: which mailbox (`DOMAIN/LOCAL`, or '' for the account's default mailbox), which Maildir++
 * folder of it ('' for INBOX, '.Sent'), and what the item is. `mdbox` is anything of Dovecot's mdbox layout
 * (storage/, mailboxes/), which only Dovecot can turn back into messages.
 */
export type MailItem =
  | { readonly kind: 'message'; readonly mailbox: string; readonly folder: string; readonly sub: 'cur' | 'new'; readonly name: string }
  | { readonly kind: 'maildir-dir'; readonly mailbox: string; readonly folder: string; readonly sub?: 'cur' | 'new' | 'tmp' }
  | { readonly kind: 'control'; readonly mailbox: string; readonly folder: string; readonly name: ControlFileName }
  | { readonly kind: 'tmp-file'; readonly mailbox: string; readonly folder: string }
  | { readonly kind: 'index'; readonly mailbox: string }
  | { readonly kind: 'mdbox'; readonly mailbox: string }
  | { readonly kind: 'format-marker' }
  | { readonly kind: 'other'; readonly mailbox: string; readonly problem?: string };

/** The Dovecot files that carry what the messages' names do not: UIDs, keyword names, subscriptions. */
export const restoredControlFiles = ['dovecot-uidlist', 'dovecot-keywords', 'subscriptions', 'maildirfolder'] as const;
export type ControlFileName = (typeof restoredControlFiles)[number];

function isControlFileName(name: string): name is ControlFileName {
  return (restoredControlFiles as readonly string[]).includes(name);
}

/** Regenerable Dovecot state, never restored (the rsync filters leave the same files out). */
function isIndexFile(name: string): boolean {
  return name.startsWith('dovecot.index') || name.startsWith('dovecot.list.index') || name === 'dovecot-uidlist.lock' || name === 'dovecot-quota' || name === 'maildirsize' || name.startsWith('dovecot-uidvalidity');
}

export function classifyMailPath(rest: readonly string[]): MailItem {
  if (rest.length === 1 && rest[0] === 'mailbox_format.cpanel') return { kind: 'format-marker' };
  const isMailboxDir = rest.length >= 2 && isDomainDirName(rest[0]!) && !rest[1]!.startsWith('.');
  if (rest.length === 1 && isDomainDirName(rest[0]!)) return { kind: 'maildir-dir', mailbox: '', folder: '' };
  const mailbox = isMailboxDir ? `${rest[0]}/${rest[1]}` : '';
  const inner = isMailboxDir ? rest.slice(2) : rest;
  if (inner.length === 0) return { kind: 'maildir-dir', mailbox, folder: '' };
  if (inner[0] === 'storage' || inner[0] === 'mailboxes') return { kind: 'mdbox', mailbox };
  const isFolder = inner[0]!.startsWith('.') && inner[0] !== '.' ;
  const folder = isFolder ? inner[0]! : '';
  const within = isFolder ? inner.slice(1) : inner;
  if (isFolder) {
    const problem = checkNameSegment(folder.slice(1)) ?? (folder.slice(1).split('.').some((level) => level === '') ? 'an empty folder level' : undefined);
    if (problem && !problem.includes('UTF-8')) return { kind: 'other', mailbox, problem: `folder ${folder}: ${problem}` };
  }
  if (within.length === 0) return { kind: 'maildir-dir', mailbox, folder };
  const [head, name, ...deeper] = within;
  if ((head === 'cur' || head === 'new' || head === 'tmp') && name === undefined) return { kind: 'maildir-dir', mailbox, folder, sub: head };
  if ((head === 'cur' || head === 'new') && name !== undefined && deeper.length === 0) return { kind: 'message', mailbox, folder, sub: head, name };
  if (head === 'tmp' && deeper.length === 0) return { kind: 'tmp-file', mailbox, folder };
  if (within.length === 1 && isControlFileName(head!)) return { kind: 'control', mailbox, folder, name: head };
  if (within.length === 1 && isIndexFile(head!)) return { kind: 'index', mailbox };
  return { kind: 'other', mailbox };
}

/** `DOMAIN/LOCAL` as an address, or the account's default mailbox. */
export function describeMailbox(mailbox: string, user: string): string {
  if (mailbox === '') return `${user} (default mailbox)`;
  const [domain, local] = mailbox.split('/');
  return `${local}@${domain}`;
}
