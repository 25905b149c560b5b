import path from 'node:path';
import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Location } from '../stores/spec.js';
import type { ExecTarget } from '../transport/exec.js';
import { listTree, type TreeEntry } from '../transport/list.js';
import { runOwnership, type OwnerIds, type OwnershipAction, type OwnershipResult, type OwnershipTree } from '../fsops/ownership.js';
import { accountHomeItems, isDomainDirName, isSafeDomain, parseGroupGid, parsePasswdHome, parseUserDomains } from './copy.js';
import { readSystemFile } from './run-copy.js';

/**
 * `mailshift chown` for a cPanel account (or one of its mailboxes) on the target: which trees, which ids.
 *
 * Resolving USER to uid/gid (decided, and documented in the README): explicit --uid/--gid win; otherwise
 * ROOT/etc/passwd of the target cPanel root (on a live server ROOT is "/", so that is the system's passwd); if ROOT is a
 * directory that has no entry for USER (a tree restored into a scratch directory), the passwd of the machine that holds
 * the target (this machine, or the ssh host) is used, because that machine's Dovecot will open the files. The `mail`
 * group is found the same way in etc/group. Nothing found: a configuration error that names both files and the flags.
 */

export interface ChownTarget {
  readonly location: Location;
  readonly root: string;
  readonly home: string;
  readonly user: string;
  readonly domains: readonly string[];
  /** Only this mailbox (relative to ~/mail), for a single-mailbox copy. */
  readonly mailboxDir?: string;
}

export interface IdOverrides {
  readonly uid?: number;
  readonly gid?: number;
  readonly mailGid?: number;
}

export async function resolveOwnerIds(
  exec: ExecTarget,
  root: string,
  user: string,
  overrides: IdOverrides = {},
  options: { requireMailGroup?: boolean } = {},
): Promise<OwnerIds & { source: string }> {
  let uid = overrides.uid;
  let gid = overrides.gid;
  let mailGid = overrides.mailGid;
  const sources: string[] = [];
  const candidates = root === '/' ? ['/'] : [root, '/'];
  for (const base of candidates) {
    if (uid !== undefined && gid !== undefined && mailGid !== undefined) break;
    if (uid === undefined || gid === undefined) {
      const passwd = await readSystemFile(exec, path.posix.join(base, 'etc/passwd'));
      const entry = passwd ? parsePasswdHome(passwd, user) : undefined;
      if (entry) {
        uid ??= entry.uid;
        gid ??= entry.gid;
        sources.push(path.posix.join(base, 'etc/passwd'));
      }
    }
    if (mailGid === undefined) {
      const group = await readSystemFile(exec, path.posix.join(base, 'etc/group'));
      const found = group ? parseGroupGid(group, 'mail') : undefined;
      if (found !== undefined) {
        mailGid = found;
        sources.push(path.posix.join(base, 'etc/group'));
      }
    }
  }
  if (uid === undefined || gid === undefined) {
    throw new MailshiftError('MAILSHIFT_CHOWN_NO_USER', `user ${user} is not in ${path.posix.join(root, 'etc/passwd')} nor in the target machine's /etc/passwd`, {
      hint: 'create the cPanel account on the target first, or pass --uid N --gid N',
      exitCode: ExitCode.config,
    });
  }
  if (mailGid === undefined && options.requireMailGroup === false) mailGid = gid;
  if (mailGid === undefined) {
    throw new MailshiftError('MAILSHIFT_CHOWN_NO_MAIL_GROUP', `group "mail" is not in ${path.posix.join(root, 'etc/group')} nor in the target machine's /etc/group`, {
      hint: 'pass --mail-gid N (cPanel gives ~/etc and the routing tables to group mail)',
      exitCode: ExitCode.config,
    });
  }
  return { uid, gid, mailGid, source: sources.join(', ') || 'command line' };
}

/** The trees chown walks for an account (or one mailbox), with the entries of their roots. */
export async function planChownTrees(exec: ExecTarget, target: ChownTarget): Promise<OwnershipTree[]> {
  const trees: OwnershipTree[] = [];
  const mailRoot = path.posix.join(target.home, 'mail');
  if (target.mailboxDir !== undefined) {
    const parent = path.posix.dirname(path.posix.join(mailRoot, target.mailboxDir));
    const entries = await listChildren(exec, parent);
    const entry = entries.get(path.posix.basename(target.mailboxDir));
    if (entry) trees.push({ root: path.posix.join(mailRoot, target.mailboxDir), area: 'mail', rootEntry: entry });
    return trees;
  }
  const home = await listChildren(exec, target.home, 2);
  const mail = home.get('mail');
  if (mail) trees.push({ root: mailRoot, area: 'mail', rootEntry: mail });
  const etc = home.get('etc');
  if (etc) trees.push({ root: path.posix.join(target.home, 'etc'), area: 'etc', rootEntry: etc });
  for (const item of accountHomeItems) {
    if (item === 'etc') continue;
    const entry = home.get(item);
    if (entry) trees.push({ root: path.posix.join(target.home, item), area: 'home-item', rootEntry: entry });
  }
  if (home.has('.cpanel/filter.yaml') && home.get('.cpanel')) {
    trees.push({ root: path.posix.join(target.home, '.cpanel'), area: 'home-item', rootEntry: home.get('.cpanel')!, rootOnly: true });
  }
  for (const table of ['valiases', 'vfilters', 'vdomainaliases']) {
    const dir = path.posix.join(target.root, 'etc', table);
    const files = await listChildren(exec, dir);
    for (const domain of target.domains) {
      const entry = files.get(domain);
      // A link here is left alone: /etc/v* files must be regular files (cPanel nulls the MX otherwise).
      if (entry && entry.type === 'file') trees.push({ root: path.posix.join(dir, domain), area: 'system-etc', rootEntry: entry, rootOnly: true });
    }
  }
  return trees;
}

/**
 * A plain maildir given to a user (`chown PATH --user USER`): the same owners and modes as a cPanel mailbox (the
 * README's promise: directories 0751, messages 0640, maildirsize 0600), the top directory included.
 */
export async function planPlainChownTrees(exec: ExecTarget, dir: string): Promise<OwnershipTree[]> {
  const root = dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
  const parent = path.posix.dirname(root);
  const name = path.posix.basename(root);
  let rootEntry: TreeEntry | undefined;
  await listTree(exec, parent, (e) => {
    if (e.path === name) rootEntry = e;
  }, { maxDepth: 1, names: [name] });
  return [{ root, area: 'mail', ...(rootEntry ? { rootEntry } : {}) }];
}

async function listChildren(exec: ExecTarget, dir: string, maxDepth = 1): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  await listTree(exec, dir, (e) => out.set(e.path, e), { maxDepth });
  return out;
}

export async function runAccountChown(
  exec: ExecTarget,
  target: ChownTarget,
  ids: OwnerIds,
  options: { dryRun?: boolean; signal?: AbortSignal; onAction?: (action: OwnershipAction) => void } = {},
): Promise<OwnershipResult> {
  const trees = await planChownTrees(exec, target);
  return runOwnership(exec, trees, ids, options);
}

/** The account's domains: its lines in ROOT/etc/userdomains plus the domain directories in ~/etc. */
export async function findAccountDomains(exec: ExecTarget, root: string, user: string, home: string): Promise<string[]> {
  const domains = new Set(parseUserDomains((await readSystemFile(exec, path.posix.join(root, 'etc/userdomains'))) ?? '', user));
  for (const [name, entry] of await listChildren(exec, path.posix.join(home, 'etc'))) {
    if (entry.type === 'dir' && isDomainDirName(name) && isSafeDomain(name)) domains.add(name);
  }
  return [...domains].sort();
}
