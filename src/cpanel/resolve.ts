import path from 'node:path';
import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { TreeEntry } from '../hosts/find.js';
import type { FileSide, HostLocation } from '../hosts/side.js';
import { findDomainOwner, parsePasswdHome, parseUserDomains } from './files.js';
import { findMailboxDirs, isDomainDirName, isSafeDomain, mailboxDirOf, mailRootOf } from './layout.js';

/**
 * From a spec's parts (`cpanel:ROOT#USER`, `cpanel:ROOT#local@domain`) to the directories, owner and domains they
 * name, read through a FileSide (this machine or an ssh host): ROOT/etc/userdomains says who owns a domain,
 * ROOT/etc/passwd where that user's home is, ~/mail holds the mailboxes. The one resolution copy, resync, verify
 * and chown share. ROOT is "/" on a live server, a directory for a restored or scratch tree; homes are taken
 * relative to ROOT (like a chroot) and may never leave it.
 */

/** A cPanel account (or one of its mailboxes) on a side, as copy's last step and chown see it. */
export interface CpanelTarget {
  readonly location: HostLocation;
  readonly root: string;
  readonly home: string;
  readonly user: string;
  readonly domains: readonly string[];
  /** Only this mailbox directory (relative to ~/mail), for a single-mailbox copy or chown. */
  readonly mailboxDir?: string;
}

export interface CpanelHome {
  readonly home: string;
  /** From ROOT/etc/passwd, when the user is there. */
  readonly uid?: number;
  readonly gid?: number;
}

/**
 * Home directory of a cPanel user: field 6 of ROOT/etc/passwd, taken relative to ROOT (like a chroot), else
 * ROOT/home/USER. Refused if it would leave ROOT.
 */
export async function resolveCpanelHome(side: FileSide, root: string, user: string): Promise<CpanelHome> {
  const passwd = await side.readSmall(path.posix.join(root, 'etc/passwd'));
  const entry = passwd ? parsePasswdHome(passwd, user) : undefined;
  const homeInRoot = entry && entry.home.startsWith('/') ? path.posix.join(root, entry.home) : path.posix.join(root, 'home', user);
  const relative = path.posix.relative(root, homeInRoot);
  if (relative === '' || relative.startsWith('..')) {
    throw new MailshiftError('MAILSHIFT_CPANEL_HOME_OUTSIDE', `home directory of ${user} (${homeInRoot}) is not inside ${root}`, { exitCode: ExitCode.config });
  }
  return { home: homeInRoot, ...(entry ? { uid: entry.uid, gid: entry.gid } : {}) };
}

/** The account that owns DOMAIN by ROOT/etc/userdomains (a missing file owns nothing). */
export async function findCpanelDomainOwner(side: FileSide, root: string, domain: string): Promise<string | undefined> {
  const userdomains = (await side.readSmall(path.posix.join(root, 'etc/userdomains'))) ?? '';
  return findDomainOwner(userdomains, domain);
}

export interface CpanelMailbox {
  /** The account that owns the mailbox's domain. */
  readonly user: string;
  readonly home: string;
  /** DOMAIN/LOCALPART, relative to ~/mail. */
  readonly mailboxDir: string;
  /** The mailbox's maildir root. */
  readonly path: string;
}

/**
 * One mailbox, `cpanel:ROOT#local@domain`: its owner, home and maildir. A domain no account owns is a configuration
 * error that says which side and what to do (`role`: which end of a transfer this is).
 */
export async function resolveCpanelMailbox(
  side: FileSide,
  root: string,
  mailbox: { readonly localPart: string; readonly domain: string },
  role: 'source' | 'target',
): Promise<CpanelMailbox> {
  const user = await findCpanelDomainOwner(side, root, mailbox.domain);
  if (!user) {
    throw new MailshiftError('MAILSHIFT_CPANEL_DOMAIN_UNKNOWN', `${role}: no cPanel account owns ${mailbox.domain} in ${path.posix.join(root, 'etc/userdomains')}`, {
      hint: role === 'target' ? 'create the domain on the target server first (cPanel: add it to the account), then copy' : 'check the domain name and the cPanel root',
      exitCode: ExitCode.config,
    });
  }
  const { home } = await resolveCpanelHome(side, root, user);
  const mailboxDir = mailboxDirOf(mailbox);
  return { user, home, mailboxDir, path: path.posix.join(mailRootOf(home), mailboxDir) };
}

/**
 * The account's domains: its lines in ROOT/etc/userdomains plus the domain directories of ~/etc (a domain whose
 * line is gone but whose mail settings are still there). Only names safe as paths (isSafeDomain). Sorted.
 */
export function decideAccountDomains(userdomainsText: string, user: string, etcDirNames: readonly string[]): string[] {
  const domains = new Set(parseUserDomains(userdomainsText, user));
  for (const name of etcDirNames) if (isDomainDirName(name) && isSafeDomain(name)) domains.add(name);
  return [...domains].sort();
}

/** decideAccountDomains over the side: reads etc/userdomains and lists ~/etc. */
export async function readCpanelAccountDomains(side: FileSide, root: string, user: string, home: string): Promise<string[]> {
  const userdomains = (await side.readSmall(path.posix.join(root, 'etc/userdomains'))) ?? '';
  const etcDirs: string[] = [];
  await side.list(path.posix.join(home, 'etc'), (e) => {
    if (e.type === 'dir') etcDirs.push(e.path);
  }, { maxDepth: 1 });
  return decideAccountDomains(userdomains, user, etcDirs);
}

export interface CpanelMailListing {
  /** ~/mail itself. */
  readonly mailRoot: string;
  /** ~/mail to depth 3, directories and links only, relative to ~/mail. */
  readonly entries: TreeEntry[];
  /** The mailbox directories (DOMAIN/LOCALPART) found in it, sorted. */
  readonly mailboxDirs: string[];
}

/**
 * Lists ~/mail of a home to find its mailboxes (findMailboxDirs). A missing ~/mail is a configuration error: the
 * wrong root or user, never "an account without mail".
 */
export async function listCpanelMail(side: FileSide, home: string, label: string, options: { signal?: AbortSignal } = {}): Promise<CpanelMailListing> {
  const mailRoot = mailRootOf(home);
  const entries: TreeEntry[] = [];
  const listed = await side.list(mailRoot, (e) => entries.push(e), { maxDepth: 3, dirsAndLinksOnly: true, ...(options.signal ? { signal: options.signal } : {}) });
  if (!listed.exists) {
    throw new MailshiftError('MAILSHIFT_CPANEL_NO_MAIL', `${label}: ${mailRoot} does not exist`, { hint: 'check the cPanel root and the user name', exitCode: ExitCode.config });
  }
  return { mailRoot, entries, mailboxDirs: findMailboxDirs(entries) };
}

/**
 * What chown (and copy's last step) works on for a spec: the whole account `cpanel:ROOT#USER` with its domains, or
 * the one mailbox of `cpanel:ROOT#local@domain`.
 */
export async function resolveCpanelTarget(
  side: FileSide,
  spec: { readonly location: HostLocation; readonly root: string; readonly user: string; readonly mailbox?: { readonly localPart: string; readonly domain: string } },
): Promise<CpanelTarget> {
  if (spec.mailbox) {
    const mailbox = await resolveCpanelMailbox(side, spec.root, spec.mailbox, 'target');
    return { location: spec.location, root: spec.root, home: mailbox.home, user: mailbox.user, domains: [spec.mailbox.domain], mailboxDir: mailbox.mailboxDir };
  }
  const { home } = await resolveCpanelHome(side, spec.root, spec.user);
  return { location: spec.location, root: spec.root, home, user: spec.user, domains: await readCpanelAccountDomains(side, spec.root, spec.user, home) };
}
