import path from 'node:path';
import type { TreeEntry } from '../hosts/find.js';

/**
 * Where cPanel keeps an account's mail and mail settings (shared/reference/cpanel-layout.md): the rules that say
 * which directory of ~/mail is a domain, which is a mailbox, and which home items travel with an account. Pure.
 */

/**
 * Names in ~/mail that are never a domain directory, though a rule that only asks for a dot would let through none
 * of them anyway: the maildir's own directories and files, Dovecot's mdbox and virtual folders, the archive
 * (cpanel-layout.md §2.2, Cpanel/Email/Maildir/Link.pm). Kept as a list so the rule reads as cPanel's.
 */
export const reservedMailDirNames: ReadonlySet<string> = new Set([
  'new',
  'cur',
  'tmp',
  'INBOX',
  'dbox-Mails',
  'storage',
  'mailboxes',
  'archive',
  'virtual',
  'subscriptions',
  'maildirfolder',
  'maildirsize',
]);

/**
 * A domain directory of ~/mail (or ~/etc), by Cpanel/Email/Maildir/Link.pm::_get_mail_domains_in_homedir: its name
 * contains a '.', does not start with '.' (a Maildir++ folder), is not reserved and not a Dovecot file.
 */
export function isDomainDirName(name: string): boolean {
  return name.includes('.') && !name.startsWith('.') && !reservedMailDirNames.has(name) && !name.startsWith('dovecot');
}

/** Domain names used to build paths must be plain host names: no '/', no '..', no wildcards, lower case. */
export function isSafeDomain(domain: string): boolean {
  return /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(domain);
}

/** Directories under ~/mail/DOMAIN that are cPanel's, not a mailbox. */
const notMailboxNames = new Set(['@pwcache', 'boxtrapper']);

/**
 * Mailbox directories under ~/mail, by cPanel's own rule (Cpanel/Email/Maildir/Utils.pm): DOMAIN/LOCALPART where
 * DOMAIN is a domain directory (isDomainDirName) and LOCALPART is a real directory (not a symlink, not a dot entry)
 * that contains cur/. `entries` is a listing of ~/mail to depth 3, relative to ~/mail. Sorted.
 */
export function findMailboxDirs(entries: readonly TreeEntry[]): string[] {
  const dirs = new Set(entries.filter((e) => e.type === 'dir').map((e) => e.path));
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.type !== 'dir') continue;
    const parts = entry.path.split('/');
    if (parts.length !== 2) continue;
    const [domain, local] = parts as [string, string];
    if (!isDomainDirName(domain)) continue;
    if (local.startsWith('.') || notMailboxNames.has(local)) continue;
    if (dirs.has(`${domain}/${local}/cur`)) out.push(entry.path);
  }
  return out.sort();
}

/** A mailbox's directory relative to ~/mail: DOMAIN/LOCALPART. */
export function mailboxDirOf(mailbox: { readonly localPart: string; readonly domain: string }): string {
  return `${mailbox.domain}/${mailbox.localPart}`;
}

/** ~/mail of a home directory. */
export function mailRootOf(home: string): string {
  return path.posix.join(home, 'mail');
}

/** Items of a home directory worth carrying (cpanel-layout.md §6-8); `~/etc` is handled with its own rules. */
export const accountHomeItems = [
  '.autorespond',
  '.spamassassin',
  '.spamassassinenable',
  '.spamassassindisabled',
  '.spamassassinboxenable',
  '.cphorde',
  '.sqmaildata',
  '.sqmailattach',
  '.cpanel/filter.yaml',
  '.caldav',
  '.subaccounts',
  'etc',
] as const;

/** The account files copy merges line by line instead of copying, per domain, under ~/etc/DOMAIN/. */
export const mergedDomainFiles = ['passwd', 'shadow', 'quota'] as const;
/** The system routing tables of a domain, ROOT/etc/TABLE/DOMAIN. */
export const domainRoutingTables = ['valiases', 'vdomainaliases', 'vfilters'] as const;
