import path from 'node:path';
import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { TreeEntry } from '../hosts/find.js';
import type { FileSide } from '../hosts/side.js';
import { runOwnership, type OwnerIds, type OwnershipAction, type OwnershipResult, type OwnershipTree } from '../fsops/ownership.js';
import { parseGroupGid, parsePasswdHome } from './files.js';
import { accountHomeItems } from './layout.js';
import type { CpanelTarget } from './resolve.js';

/**
 * `mailshift chown` (and copy's last step) for a cPanel account (or one of its mailboxes) on the target: which trees, which ids.
 *
 * Resolving USER to uid/gid (decided, and documented in the README): explicit --uid/--gid win; otherwise
 * ROOT/etc/passwd of the target cPanel root (on a live server ROOT is "/", so that is the system's passwd); if ROOT is a
 * directory that has no entry for USER (a tree restored into a scratch directory), the passwd of the machine that holds
 * the target (this machine, or the ssh host) is used, because that machine's Dovecot will open the files. The `mail`
 * group is found the same way in etc/group. Nothing found: a configuration error that names both files and the flags.
 */

export interface IdOverrides {
  readonly uid?: number;
  readonly gid?: number;
  readonly mailGid?: number;
}

export async function resolveOwnerIds(
  side: FileSide,
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
      const passwd = await side.readSmall(path.posix.join(base, 'etc/passwd'));
      const entry = passwd ? parsePasswdHome(passwd, user) : undefined;
      if (entry) {
        uid ??= entry.uid;
        gid ??= entry.gid;
        sources.push(path.posix.join(base, 'etc/passwd'));
      }
    }
    if (mailGid === undefined) {
      const group = await side.readSmall(path.posix.join(base, 'etc/group'));
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
export async function planChownTrees(side: FileSide, target: CpanelTarget): Promise<OwnershipTree[]> {
  const trees: OwnershipTree[] = [];
  const mailRoot = path.posix.join(target.home, 'mail');
  if (target.mailboxDir !== undefined) {
    const parent = path.posix.dirname(path.posix.join(mailRoot, target.mailboxDir));
    const entries = await listChildren(side, parent);
    const entry = entries.get(path.posix.basename(target.mailboxDir));
    if (entry) trees.push({ root: path.posix.join(mailRoot, target.mailboxDir), area: 'mail', rootEntry: entry });
    return trees;
  }
  const home = await listChildren(side, target.home, 2);
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
    // Only this account's domains: the directory holds a file for every domain on the server, and listing all of
    // them for every account made a campaign into one target quadratic in its accounts (at 25,000, 37,500 entries
    // per account on average over the three tables: ~0.4 s of CPU here, two thirds of what a small account's copy costs).
    if (target.domains.length === 0) continue;
    const files = await listChildren(side, dir, 1, target.domains);
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
export async function planPlainChownTrees(side: FileSide, dir: string): Promise<OwnershipTree[]> {
  const root = dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
  const parent = path.posix.dirname(root);
  const name = path.posix.basename(root);
  let rootEntry: TreeEntry | undefined;
  await side.list(parent, (e) => {
    if (e.path === name) rootEntry = e;
  }, { maxDepth: 1, names: [name] });
  return [{ root, area: 'mail', ...(rootEntry ? { rootEntry } : {}) }];
}

async function listChildren(side: FileSide, dir: string, maxDepth = 1, names?: readonly string[]): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  await side.list(dir, (e) => out.set(e.path, e), { maxDepth, ...(names ? { names } : {}) });
  return out;
}

export async function runAccountChown(
  side: FileSide,
  target: CpanelTarget,
  ids: OwnerIds,
  options: { dryRun?: boolean; signal?: AbortSignal; onAction?: (action: OwnershipAction) => void } = {},
): Promise<OwnershipResult> {
  const trees = await planChownTrees(side, target);
  return runOwnership(side.exec, trees, ids, options);
}
