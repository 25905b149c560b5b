import path from 'node:path';
import type { RsyncEndpoint } from '../../transport/rsync/args.js';
import { buildAnchoredRule, type FilterRule } from '../../transport/rsync/filters.js';
import type { TreeEntry } from '../../hosts/find.js';
import { renameAccountPath, type Rewrite } from '../../cpanel/merge.js';
import { accountHomeItems, domainRoutingTables, findMailboxDirs, mergedDomainFiles } from '../../cpanel/layout.js';

/**
 * Planning a copy: which trees go through rsync with which rules, which small files are merged instead of copied.
 * Pure: it takes listings (hosts/find.ts) and returns data; engine/tree/run-copy.ts executes the plan. Where
 * cPanel keeps things is cpanel/layout.ts.
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

/**
 * Where builds before 2026-12 had rsync write each message (--temp-dir) in a target maildir root. A run of such a
 * build killed with -9 left half-written files in it: a job into that root removes it (job-marker.ts), and no
 * source's copy of it is ever carried over.
 */
export const copyTempDirName = 'mailshift-tmp';

/**
 * A copy job's marker in its target directory (for a one-file job `NAME.FILE` beside the file): it exists while the
 * job's rsync may be writing there (job-marker.ts). A source that was itself the target of an interrupted copy may
 * hold one: never carried over.
 */
export const jobMarkerName = 'mailshift-copy-in-progress';

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
    // A source that was itself the target of a killed copy may still hold copy's marker, or an older build's temp
    // dir: never carried over.
    { action: 'exclude', pattern: `/${copyTempDirName}/` },
    { action: 'exclude', pattern: `/${jobMarkerName}` },
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

/** A small text file merged rather than copied (cpanel/merge.ts). */
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
    // The markers of an interrupted copy into this source, if it ever was a target (a one-file job's is beside it).
    { action: 'exclude', pattern: `/${jobMarkerName}` },
    { action: 'exclude', pattern: `${jobMarkerName}.*` },
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
    for (const kind of mergedDomainFiles) {
      if (!present.has(`etc/${domain}/${kind}`)) continue;
      merges.push({
        kind,
        domain,
        sourcePath: path.posix.join(relHome(source), 'etc', domain, kind),
        targetPath: path.posix.join(relHome(target), 'etc', domain, kind),
      });
    }
    for (const kind of domainRoutingTables) {
      merges.push({ kind, domain, sourcePath: `etc/${kind}/${domain}`, targetPath: `etc/${kind}/${domain}` });
    }
  }
  return { jobs, merges, mailboxes, domains: [...input.domains] };
}
