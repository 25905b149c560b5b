import path from 'node:path';
import { MailshiftError, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { findMailboxDirs } from '../engine/copy.js';
import { findDomainOwner, readSystemFile, resolveCpanelHome } from '../engine/run-copy.js';
import { formatSpec, type CpanelSpec, type Location, type MaildirSpec, type PathSpec } from '../stores/spec.js';
import type { ExecTarget } from '../transport/exec.js';
import { listTree, type TreeEntry } from '../transport/list.js';
import type { SshOptions } from '../transport/ssh.js';

/**
 * The two ends of a file-tree verify: both specs resolved to the same list of mailbox directories (a maildir, one
 * cPanel mailbox, or a whole account: the default mailbox plus every DOMAIN/LOCALPART maildir of the source), and how
 * to reach a side. The cPanel resolution is to come from one home (src/cpanel/resolve.ts) and the ssh side from
 * src/hosts/; this module is the one place in verify to swap for them.
 */

/** The file-tree specs verify compares (IMAP and mbox go through the store verify). */
export type FileTreeSpec = PathSpec | MaildirSpec | CpanelSpec;

export interface MailboxPair {
  /** Which mailbox of an account ("" for a plain maildir, the user for the default mailbox, "info@example.com"). */
  readonly label: string;
  readonly sourcePath: string;
  readonly targetPath: string;
}

/** Where a side's commands run: here, or over ssh with the run's ssh options. */
export function execOf(location: Location, ssh: SshOptions | undefined): ExecTarget {
  return location.type === 'ssh'
    ? { ssh: { host: location.host, ...(location.user ? { user: location.user } : {}), ...(location.port ? { port: location.port } : {}) }, ...(ssh ? { sshOptions: ssh } : {}) }
    : {};
}

export async function resolveMailboxPairs(source: FileTreeSpec, target: FileTreeSpec, ssh: SshOptions | undefined): Promise<MailboxPair[]> {
  if (source.kind === 'cpanel' && !source.mailbox) {
    if (target.kind !== 'cpanel' || target.mailbox) {
      throw new UsageError('a whole cPanel account is verified against a cPanel account', 'name the target as cpanel:ROOT#USER');
    }
    const srcExec = execOf(source.location, ssh);
    const srcMail = await findCpanelAccountMailDir(srcExec, source.root, source.user);
    const dstMail = await findCpanelAccountMailDir(execOf(target.location, ssh), target.root, target.user);
    const pairs: MailboxPair[] = [{ label: source.user, sourcePath: srcMail, targetPath: dstMail }];
    for (const dir of await listCpanelMailboxDirs(srcExec, srcMail, source)) {
      const [domain, local] = dir.split('/') as [string, string];
      pairs.push({ label: `${local}@${domain}`, sourcePath: path.posix.join(srcMail, dir), targetPath: path.posix.join(dstMail, dir) });
    }
    return pairs;
  }
  if (target.kind === 'cpanel' && !target.mailbox) {
    throw new UsageError('a whole cPanel account can only be verified against a whole account');
  }
  const label = source.kind === 'cpanel' && source.mailbox ? `${source.mailbox.localPart}@${source.mailbox.domain}` : '';
  return [{ label, sourcePath: await resolveMailboxDir(source, ssh), targetPath: await resolveMailboxDir(target, ssh) }];
}

/** A maildir path as it is; one cPanel mailbox its ~/mail/DOMAIN/LOCAL, the account found through etc/userdomains. */
async function resolveMailboxDir(spec: FileTreeSpec, ssh: SshOptions | undefined): Promise<string> {
  if (spec.kind === 'path' || spec.kind === 'maildir') return spec.path;
  if (!spec.mailbox) throw new Error('not a mailbox spec');
  const exec = execOf(spec.location, ssh);
  const userdomains = (await readSystemFile(exec, path.posix.join(spec.root, 'etc/userdomains'))) ?? '';
  const owner = findDomainOwner(userdomains, spec.mailbox.domain);
  if (!owner) {
    throw new MailshiftError('MAILSHIFT_CPANEL_DOMAIN_UNKNOWN', `no cPanel account owns ${spec.mailbox.domain} under ${spec.root}`, { exitCode: ExitCode.config });
  }
  return path.posix.join(await findCpanelAccountMailDir(exec, spec.root, owner), spec.mailbox.domain, spec.mailbox.localPart);
}

/** ~/mail of a cPanel account under `root`. */
async function findCpanelAccountMailDir(exec: ExecTarget, root: string, user: string): Promise<string> {
  return path.posix.join((await resolveCpanelHome(exec, root, user)).home, 'mail');
}

/** The DOMAIN/LOCAL mailbox directories of an account's ~/mail (cPanel's own rule, engine/copy.ts findMailboxDirs). */
async function listCpanelMailboxDirs(exec: ExecTarget, mailDir: string, spec: CpanelSpec): Promise<string[]> {
  const entries: TreeEntry[] = [];
  const listed = await listTree(exec, mailDir, (e) => entries.push(e), { maxDepth: 3, dirsAndLinksOnly: true });
  if (!listed.exists) throw new MailshiftError('MAILSHIFT_CPANEL_NO_MAIL', `${formatSpec(spec)}: ${mailDir} does not exist`, { exitCode: ExitCode.config });
  return findMailboxDirs(entries);
}
