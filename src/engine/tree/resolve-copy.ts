import path from 'node:path';
import { UsageError } from '../../core/errors.js';
import type { Rewrite } from '../../cpanel/merge.js';
import { decideAccountDomains, listCpanelMail, resolveCpanelHome, resolveCpanelMailbox, type CpanelTarget } from '../../cpanel/resolve.js';
import type { TreeEntry } from '../../hosts/find.js';
import { openFileSide } from '../../hosts/open.js';
import { sshEndpointOf } from '../../hosts/side.js';
import { formatSpec, type Location, type StoreSpec } from '../../stores/spec.js';
import type { RsyncEndpoint } from '../../transport/rsync/args.js';
import type { CopyOptions } from './copy-report.js';
import { planAccountCopy, planMaildirCopy, type AccountSide, type CopyJob, type MergeItem } from './plan-copy.js';

/**
 * From two specs to what a tree copy does: the rsync jobs, the small files to merge, the roots whose control files
 * are settled, and the cPanel target chown works on afterwards. cPanel specs are resolved by cpanel/resolve.ts on
 * each end's FileSide; the plan itself is pure (plan-copy.ts).
 */
export interface ResolvedCopy {
  readonly jobs: CopyJob[];
  readonly merges: MergeItem[];
  readonly mailboxes: string[];
  readonly rewrite?: Rewrite;
  /** Roots the control-file pass compares (source and target maildir roots, matching relative paths). */
  readonly controlRoots: { source: RsyncEndpoint; target: RsyncEndpoint }[];
  readonly sourceRoot?: RsyncEndpoint;
  readonly targetRoot?: RsyncEndpoint;
  readonly cpanelTarget?: CpanelTarget;
  /**
   * The accounts' homes relative to sourceRoot and targetRoot. They come from passwd (the admin's, not the user's), so
   * they may be links; the account files below them are reached from there without passing one (hosts/inside-tree.ts).
   */
  readonly homesRel?: { readonly source: string; readonly target: string };
}

type FileSpec = Exclude<StoreSpec, { kind: 'imap' | 'mbox' }>;
type CpanelSpec = Extract<StoreSpec, { kind: 'cpanel' }>;

export function endpointOf(location: Location, p: string): RsyncEndpoint {
  const ssh = sshEndpointOf(location);
  return ssh ? { path: p, ssh } : { path: p };
}

export async function resolveCopy(source: StoreSpec, target: StoreSpec, options: CopyOptions): Promise<ResolvedCopy> {
  if (source.kind === 'imap' || target.kind === 'imap') {
    throw new UsageError(
      'copy moves file trees with rsync; IMAP is not a file tree',
      'run `mailshift copy imaps://user@host TARGET` (with an IMAP end, copy goes message by message over IMAP), or add --imap-fallback imaps://user@host when the source files cannot be read',
    );
  }
  if (source.kind === 'mbox' || target.kind === 'mbox') {
    throw new UsageError('copy moves maildir trees; mbox needs converting', 'use mailshift convert for mbox');
  }
  if (source.location.type === 'ssh' && target.location.type === 'ssh') {
    throw new UsageError('both ends are remote; rsync copies between this machine and one remote host', 'run mailshift on the source or the target server');
  }
  const isTree = (s: StoreSpec) => s.kind === 'path' || s.kind === 'maildir';
  if (isTree(source) && isTree(target)) {
    const job = planMaildirCopy(endpointOf(source.location, (source as { path: string }).path), endpointOf(target.location, (target as { path: string }).path), 'maildir');
    return { jobs: [job], merges: [], mailboxes: ['(maildir)'], controlRoots: [{ source: job.source, target: job.target }] };
  }
  if (source.kind === 'cpanel' && !source.mailbox && target.kind === 'cpanel' && !target.mailbox) {
    return resolveAccountCopy(source, target, options);
  }
  if (source.kind === 'cpanel' && !source.mailbox) {
    throw new UsageError('a whole cPanel account can only be copied into a cPanel root', 'name the target as cpanel:ROOT#USER, or copy one mailbox with cpanel:ROOT#local@domain');
  }
  // One mailbox: cpanel:ROOT#local@domain or a maildir path on either side.
  const src = await resolveMailboxEnd(source, options, 'source');
  const dst = await resolveMailboxEnd(target, options, 'target');
  const job = planMaildirCopy(endpointOf(source.location, src.path), endpointOf(target.location, dst.path), 'mailbox');
  return {
    jobs: [job],
    merges: [],
    mailboxes: [source.kind === 'cpanel' && source.mailbox ? `${source.mailbox.localPart}@${source.mailbox.domain}` : '(maildir)'],
    controlRoots: [{ source: job.source, target: job.target }],
    ...(dst.cpanel ? { cpanelTarget: dst.cpanel } : {}),
  };
}

/** One end of a mailbox copy: a maildir path as it is, a cPanel mailbox resolved (the target with what chown needs). */
export async function resolveMailboxEnd(spec: FileSpec, options: Pick<CopyOptions, 'ssh'>, role: 'source' | 'target'): Promise<{ path: string; cpanel?: CpanelTarget }> {
  if (spec.kind !== 'cpanel') return { path: spec.path };
  if (!spec.mailbox) throw new Error('not a mailbox spec');
  const mailbox = await resolveCpanelMailbox(openFileSide(spec.location, options.ssh), spec.root, spec.mailbox, role);
  return {
    path: mailbox.path,
    ...(role === 'target'
      ? { cpanel: { location: spec.location, root: spec.root, home: mailbox.home, user: mailbox.user, domains: [spec.mailbox.domain], mailboxDir: mailbox.mailboxDir } }
      : {}),
  };
}

async function resolveAccountCopy(source: CpanelSpec, target: CpanelSpec, options: CopyOptions): Promise<ResolvedCopy> {
  const rename = options.renameUser;
  if (rename) {
    if (rename.from !== source.user) throw new UsageError(`--rename-user ${rename.from}:${rename.to} does not start from the source user ${source.user}`);
    if (rename.to !== target.user) throw new UsageError(`--rename-user ${rename.from}:${rename.to} does not end at the target user ${target.user}`);
  } else if (source.user !== target.user) {
    throw new UsageError(`source user ${source.user} and target user ${target.user} differ`, `add --rename-user ${source.user}:${target.user} to rewrite the home paths and names`);
  }
  const srcSide = openFileSide(source.location, options.ssh);
  const dstSide = openFileSide(target.location, options.ssh);
  const srcHome = await resolveCpanelHome(srcSide, source.root, source.user);
  const dstHome = await resolveCpanelHome(dstSide, target.root, target.user);

  const signal = options.signal ? { signal: options.signal } : {};
  const { mailRoot, entries: mail } = await listCpanelMail(srcSide, srcHome.home, formatSpec(source), signal);
  const home: TreeEntry[] = [];
  await srcSide.list(srcHome.home, (e) => home.push(e), { maxDepth: 2, ...signal });
  await srcSide.list(path.posix.join(srcHome.home, 'etc'), (e) => home.push({ ...e, path: `etc/${e.path}` }), { maxDepth: 2 });

  const userdomains = (await srcSide.readSmall(path.posix.join(source.root, 'etc/userdomains'))) ?? '';
  const etcDirs = home.flatMap((e) => {
    const m = /^etc\/([^/]+)$/.exec(e.path);
    return m && e.type === 'dir' ? [m[1]!] : [];
  });
  const domains = decideAccountDomains(userdomains, source.user, etcDirs);
  const rewrite: Rewrite = {
    sourceHome: path.posix.join('/', path.posix.relative(source.root, srcHome.home)),
    targetHome: path.posix.join('/', path.posix.relative(target.root, dstHome.home)),
    sourceUser: source.user,
    targetUser: target.user,
    ...(dstHome.uid !== undefined ? { targetUid: dstHome.uid } : {}),
    ...(dstHome.gid !== undefined ? { targetGid: dstHome.gid } : {}),
  };
  const sideOf = (spec: CpanelSpec, homeDir: string): AccountSide => {
    const ssh = sshEndpointOf(spec.location);
    return { root: spec.root, home: homeDir, user: spec.user, ...(ssh ? { ssh } : {}) };
  };
  const plan = planAccountCopy({ source: sideOf(source, srcHome.home), target: sideOf(target, dstHome.home), listing: { mail, home }, domains, rewrite });
  return {
    jobs: plan.jobs,
    merges: plan.merges,
    mailboxes: ['(default)', ...plan.mailboxes],
    rewrite,
    controlRoots: [{ source: endpointOf(source.location, mailRoot), target: endpointOf(target.location, path.posix.join(dstHome.home, 'mail')) }],
    sourceRoot: endpointOf(source.location, source.root),
    targetRoot: endpointOf(target.location, target.root),
    cpanelTarget: { location: target.location, root: target.root, home: dstHome.home, user: target.user, domains: plan.domains },
    homesRel: { source: path.posix.relative(source.root, srcHome.home), target: path.posix.relative(target.root, dstHome.home) },
  };
}
