import path from 'node:path';
import type { RsyncEndpoint } from '../transport/rsync/args.js';
import { buildAnchoredRule, escapeFilterLiteral, type FilterRule } from '../transport/rsync/filters.js';
import type { TreeEntry } from '../transport/list.js';
import { renameAccountPath, type Rewrite } from './account-files.js';

/**
 * Planning a copy: which trees go through rsync with which rules, which small files are merged instead of copied.
 * Pure: it takes listings (from transport/list.ts) and returns data; engine/run-copy.ts executes the plan.
 *
 * Decisions (and why):
 * - Mail is copied with --ignore-existing: a message file already on the target is never rewritten, and nothing is
 *   ever deleted. A message whose flags changed on the source since an earlier copy arrives under its new name next
 *   to the old one; that is what `mailshift resync` is for (it compares base names).
 * - Kept: dovecot-uidlist, dovecot-keywords, dovecot-uidvalidity*, subscriptions, maildirsize, maildirfolder — UIDs,
 *   keywords and subscriptions survive (maildir-format.md §5). Left out: dovecot.index*, dovecot.list.index*
 *   (regenerable, endian-specific), dovecot-quota (regenerated), lock files, and the contents of tmp/ (deliveries in
 *   progress). cur/ and new/ are matched first so that no message can ever fall under an exclude rule.
 * - Control files that already exist on the target are not overwritten by the main pass (same --ignore-existing);
 *   run-copy.ts then decides per file with decideControlFile (uidlist.ts) whether the source's version may replace
 *   it.
 * - A whole cPanel account is split into one rsync per mailbox (run N at a time with --jobs), plus the default
 *   mailbox (~/mail minus the per-mailbox trees), plus the account's other files. Symlinks are copied as links;
 *   links that point out of the copied tree are left out (--safe-links).
 */

export interface CopyJob {
  /** For logs and the report: "info@example.com", "alice (default mailbox)", "alice (account files)". */
  readonly label: string;
  readonly kind: 'maildir' | 'files';
  readonly source: RsyncEndpoint;
  readonly target: RsyncEndpoint;
  readonly rules: readonly FilterRule[];
  /** Paths relative to the source, for --files-from; absent = the whole source tree. */
  readonly filesFrom?: readonly string[];
  /** Directories (relative to the source) that the rules leave to another job or never copy: not scanned. */
  readonly skipDirs?: readonly string[];
}

/** copy's rsync --temp-dir in each target maildir root (engine/run-copy.ts prepareTempDir). */
export const copyTempDirName = 'mailshift-tmp';

/** Rules for one maildir tree (a mailbox root with its Maildir++ folders). */
export function buildMaildirRules(options: { excludeDirs?: readonly string[]; excludeTop?: readonly string[] } = {}): FilterRule[] {
  const rules: FilterRule[] = [];
  // Trees copied by their own job (one rsync per mailbox); anchored at the transfer root.
  for (const dir of options.excludeDirs ?? []) rules.push(buildAnchoredRule('exclude', dir, true));
  for (const dir of options.excludeTop ?? []) rules.push(buildAnchoredRule('exclude', dir, true));
  rules.push(
    // Every message file is copied, whatever its name looks like.
    { action: 'include', pattern: 'cur/*' },
    { action: 'include', pattern: 'new/*' },
    // A source that was itself the target of a killed copy may still hold copy's temp dir: never carried over.
    { action: 'exclude', pattern: `/${copyTempDirName}/` },
    // Deliveries in progress: the directory is copied (Dovecot needs it), its contents are not. Anchored to the
    // maildir's own tmp/ and its folders' (Maildir++ folders are one level deep), so a directory that merely
    // happens to be called "tmp" deeper down (a mailbox named tmp, a hostile name containing "/tmp/") is copied.
    { action: 'exclude', pattern: '/tmp/*' },
    { action: 'exclude', pattern: '/.*/tmp/*' },
    { action: 'exclude', pattern: 'dovecot.index*' },
    { action: 'exclude', pattern: 'dovecot.list.index*' },
    { action: 'exclude', pattern: 'dovecot-quota' },
    { action: 'exclude', pattern: 'dovecot-uidlist.lock' },
    { action: 'exclude', pattern: 'dovecot-keywords.lock' },
    { action: 'exclude', pattern: 'subscriptions.lock' },
    { action: 'exclude', pattern: 'maildirsize.lock' },
  );
  return rules;
}

/** A plain maildir tree to another. */
export function planMaildirCopy(source: RsyncEndpoint, target: RsyncEndpoint, label = 'maildir'): CopyJob {
  return { label, kind: 'maildir', source, target, rules: buildMaildirRules(), skipDirs: [copyTempDirName] };
}

/**
 * Mailbox directories under ~/mail, by cPanel's own rule (Cpanel/Email/Maildir/Utils.pm): DOMAIN/LOCALPART where
 * DOMAIN is a real directory whose name contains a '.', does not start with '.', and LOCALPART is a real directory
 * (not a symlink, not a dot entry) that contains cur/. `entries` is a listing of ~/mail to depth 3.
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
    if (local.startsWith('.') || local === '@pwcache' || local === 'boxtrapper') continue;
    if (dirs.has(`${domain}/${local}/cur`)) out.push(entry.path);
  }
  return out.sort();
}

const notDomainNames = new Set(['new', 'cur', 'tmp', 'INBOX', 'dbox-Mails', 'subscriptions', 'maildirfolder', 'maildirsize']);

/** Cpanel/Email/Maildir/Link.pm::_get_mail_domains_in_homedir: contains a '.', is not a maildir or Dovecot name. */
export function isDomainDirName(name: string): boolean {
  return name.includes('.') && !name.startsWith('.') && !notDomainNames.has(name) && !name.startsWith('dovecot');
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

export interface AccountSide {
  readonly root: string;
  readonly home: string;
  readonly user: string;
  readonly ssh?: RsyncEndpoint['ssh'];
}

export interface AccountListing {
  /** ~/mail to depth 3, relative to ~/mail. */
  readonly mail: readonly TreeEntry[];
  /** ~ to depth 2, relative to ~. */
  readonly home: readonly TreeEntry[];
}

/** A small text file merged rather than copied (engine/account-files.ts). */
export interface MergeItem {
  readonly kind: 'passwd' | 'shadow' | 'quota' | 'valiases' | 'vdomainaliases' | 'vfilters';
  readonly domain: string;
  /** Relative to the source and target roots (the cPanel root, not the home). */
  readonly sourcePath: string;
  readonly targetPath: string;
}

export interface AccountCopyPlan {
  readonly jobs: CopyJob[];
  readonly merges: MergeItem[];
  readonly mailboxes: string[];
  readonly domains: string[];
}

export function planAccountCopy(input: {
  readonly source: AccountSide;
  readonly target: AccountSide;
  readonly listing: AccountListing;
  /** Domains of the account (etc/userdomains plus ~/etc/DOMAIN directories). */
  readonly domains: readonly string[];
  readonly rewrite: Rewrite;
}): AccountCopyPlan {
  const { source, target, listing, rewrite } = input;
  const ep = (side: AccountSide, p: string, isFile = false): RsyncEndpoint => ({
    path: p,
    ...(side.ssh ? { ssh: side.ssh } : {}),
    ...(isFile ? { isFile: true } : {}),
  });
  const srcMail = path.posix.join(source.home, 'mail');
  const dstMail = path.posix.join(target.home, 'mail');
  const mailboxes = findMailboxDirs(listing.mail);
  const jobs: CopyJob[] = [];
  // Dovecot's virtual-folder indexes (~/mail/virtual) are regenerable, like the other indexes.
  const excludeTop = listing.mail.some((e) => e.path === 'virtual' && e.type === 'dir') ? ['virtual'] : [];
  jobs.push({
    label: `${source.user} (default mailbox)`,
    kind: 'maildir',
    source: ep(source, srcMail),
    target: ep(target, dstMail),
    rules: buildMaildirRules({ excludeDirs: mailboxes, excludeTop }),
    skipDirs: [...mailboxes, ...excludeTop, copyTempDirName],
  });
  for (const dir of mailboxes) {
    const [domain, local] = dir.split('/') as [string, string];
    jobs.push({
      label: `${local}@${domain}`,
      kind: 'maildir',
      source: ep(source, path.posix.join(srcMail, dir)),
      target: ep(target, path.posix.join(dstMail, dir)),
      rules: buildMaildirRules(),
      skipDirs: [copyTempDirName],
    });
  }

  const present = new Set(listing.home.map((e) => e.path));
  const homeItems = accountHomeItems.filter((item) => present.has(item));
  const renamed: CopyJob[] = [];
  const etcRules: FilterRule[] = [
    // Merged line by line instead (never clobber the target's passwords and quotas).
    { action: 'exclude', pattern: '/etc/*/passwd' },
    { action: 'exclude', pattern: '/etc/*/shadow' },
    { action: 'exclude', pattern: '/etc/*/quota' },
    // cPanel's auth cache: do not migrate (cpanel-layout.md §1).
    { action: 'exclude', pattern: '/etc/*/@pwcache/' },
  ];
  for (const entry of listing.home) {
    const renamedPath = renameAccountPath(entry.path, rewrite);
    if (renamedPath !== entry.path && entry.type === 'file') {
      etcRules.push(buildAnchoredRule('exclude', entry.path, false));
      renamed.push({
        label: `${source.user} (${entry.path} -> ${renamedPath})`,
        kind: 'files',
        source: ep(source, path.posix.join(source.home, entry.path), true),
        target: ep(target, path.posix.join(target.home, renamedPath), true),
        rules: [],
      });
    }
  }
  if (homeItems.length > 0) {
    jobs.push({
      label: `${source.user} (account files)`,
      kind: 'files',
      source: ep(source, source.home),
      target: ep(target, target.home),
      rules: etcRules,
      filesFrom: homeItems,
    });
  }
  jobs.push(...renamed);

  const merges: MergeItem[] = [];
  const relHome = (side: AccountSide) => path.posix.relative(side.root, side.home);
  for (const domain of input.domains) {
    for (const kind of ['passwd', 'shadow', 'quota'] as const) {
      if (!present.has(`etc/${domain}/${kind}`)) continue;
      merges.push({
        kind,
        domain,
        sourcePath: path.posix.join(relHome(source), 'etc', domain, kind),
        targetPath: path.posix.join(relHome(target), 'etc', domain, kind),
      });
    }
    for (const kind of ['valiases', 'vdomainaliases', 'vfilters'] as const) {
      merges.push({ kind, domain, sourcePath: `etc/${kind}/${domain}`, targetPath: `etc/${kind}/${domain}` });
    }
  }
  return { jobs, merges, mailboxes, domains: [...input.domains] };
}

/** Domains owned by USER according to etc/userdomains ("domain: user" lines, the last one "*: nobody"). */
export function parseUserDomains(text: string, user: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const domain = line.slice(0, colon).trim().toLowerCase();
    const owner = line.slice(colon + 1).trim();
    if (owner === user && domain !== '*' && isSafeDomain(domain)) out.push(domain);
  }
  return out;
}

/** Domain names used to build paths must be plain host names: no '/', no '..', no wildcards. */
export function isSafeDomain(domain: string): boolean {
  return /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(domain);
}

/** The home directory of USER from a passwd(5) text (field 6), or undefined. */
export function parsePasswdHome(text: string, user: string): { home: string; uid: number; gid: number } | undefined {
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === user && fields.length >= 7) {
      const uid = Number(fields[2]);
      const gid = Number(fields[3]);
      if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
      return { home: fields[5] ?? '', uid, gid };
    }
  }
  return undefined;
}

/** gid of a group from a group(5) text. */
export function parseGroupGid(text: string, group: string): number | undefined {
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === group && fields.length >= 3) {
      const gid = Number(fields[2]);
      return Number.isInteger(gid) ? gid : undefined;
    }
  }
  return undefined;
}

/** Literal-safe form of a relative path for a filter rule (exported for resync's reuse). */
export function escapeRelativePathForRule(relativePath: string): string {
  return relativePath.split('/').map(escapeFilterLiteral).join('/');
}
