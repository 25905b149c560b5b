import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { mailRootOf } from '../cpanel/layout.js';
import { listCpanelMail, resolveCpanelHome, resolveCpanelMailbox } from '../cpanel/resolve.js';
import { openFileSide } from '../hosts/open.js';
import { formatSpec, type CpanelSpec, type MaildirSpec, type PathSpec } from '../stores/spec.js';
import type { SshOptions } from '../transport/ssh.js';

/**
 * The two ends of a file-tree verify: both specs resolved to the same list of mailbox directories (a maildir, one
 * cPanel mailbox, or a whole account: the default mailbox plus every DOMAIN/LOCALPART maildir of the source).
 * cPanel's rules come from cpanel/resolve.ts, read through each side's FileSide (src/hosts/).
 */

/** The file-tree specs verify compares (IMAP and mbox go through the store verify). */
export type FileTreeSpec = PathSpec | MaildirSpec | CpanelSpec;

export interface MailboxPair {
  /** Which mailbox of an account ("" for a plain maildir, the user for the default mailbox, "info@example.com"). */
  readonly label: string;
  readonly sourcePath: string;
  readonly targetPath: string;
}

export async function resolveMailboxPairs(source: FileTreeSpec, target: FileTreeSpec, ssh: SshOptions | undefined): Promise<MailboxPair[]> {
  if (source.kind === 'cpanel' && !source.mailbox) {
    if (target.kind !== 'cpanel' || target.mailbox) {
      throw new UsageError('a whole cPanel account is verified against a cPanel account', 'name the target as cpanel:ROOT#USER');
    }
    const srcSide = openFileSide(source.location, ssh);
    const srcHome = (await resolveCpanelHome(srcSide, source.root, source.user)).home;
    const dstHome = (await resolveCpanelHome(openFileSide(target.location, ssh), target.root, target.user)).home;
    const srcMail = mailRootOf(srcHome);
    const dstMail = mailRootOf(dstHome);
    const pairs: MailboxPair[] = [{ label: source.user, sourcePath: srcMail, targetPath: dstMail }];
    for (const dir of (await listCpanelMail(srcSide, srcHome, formatSpec(source))).mailboxDirs) {
      const [domain, local] = dir.split('/') as [string, string];
      pairs.push({ label: `${local}@${domain}`, sourcePath: path.posix.join(srcMail, dir), targetPath: path.posix.join(dstMail, dir) });
    }
    return pairs;
  }
  if (target.kind === 'cpanel' && !target.mailbox) {
    throw new UsageError('a whole cPanel account can only be verified against a whole account');
  }
  const label = source.kind === 'cpanel' && source.mailbox ? `${source.mailbox.localPart}@${source.mailbox.domain}` : '';
  return [{ label, sourcePath: await resolveMailboxDir(source, 'source', ssh), targetPath: await resolveMailboxDir(target, 'target', ssh) }];
}

/** A maildir path as it is; one cPanel mailbox its ~/mail/DOMAIN/LOCAL, the account found through etc/userdomains. */
async function resolveMailboxDir(spec: FileTreeSpec, role: 'source' | 'target', ssh: SshOptions | undefined): Promise<string> {
  if (spec.kind === 'path' || spec.kind === 'maildir') return spec.path;
  if (!spec.mailbox) throw new Error('not a mailbox spec');
  return (await resolveCpanelMailbox(openFileSide(spec.location, ssh), spec.root, spec.mailbox, role)).path;
}
