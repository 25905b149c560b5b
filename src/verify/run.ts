import path from 'node:path';
import { MailshiftError, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { findMailboxDirs } from '../engine/copy.js';
import { findDomainOwner, readSystemFile, resolveCpanelHome } from '../engine/run-copy.js';
import { openLocalMaildir } from '../stores/open.js';
import { formatSpec, type Location, type StoreSpec } from '../stores/spec.js';
import type { ExecTarget } from '../transport/exec.js';
import { listTree, type TreeEntry } from '../transport/list.js';
import type { SshOptions } from '../transport/ssh.js';
import { compareFolder, type FolderComparison } from './compare.js';
import { buildVerifyReport, type VerifyReport } from './report.js';
import { snapshotsFromRemoteMaildirs, snapshotsFromStore } from './sides.js';
import type { FolderSnapshot, SkippedFolder } from './snapshot.js';

/**
 * `mailshift verify SRC DST`: resolves both specs to the same list of mailboxes (a maildir, one cPanel mailbox, or a
 * whole account: the default mailbox plus every DOMAIN/LOCALPART maildir of the source), reads each side (store
 * interface locally, find over ssh) and compares folder by folder.
 */

export interface VerifyOptions {
  readonly ssh?: SshOptions;
  readonly signal?: AbortSignal;
  readonly strict?: boolean;
}

interface MailboxPair {
  readonly label: string;
  readonly sourcePath: string;
  readonly targetPath: string;
}

export async function runVerify(source: StoreSpec, target: StoreSpec, options: VerifyOptions = {}): Promise<VerifyReport> {
  if (source.kind === 'imap' || target.kind === 'imap' || source.kind === 'mbox' || target.kind === 'mbox') {
    throw new UsageError('verify compares maildir trees (plain, cPanel mailboxes or whole cPanel accounts)', 'verify an mbox conversion by verifying the converted maildir against the target');
  }
  const pairs = await resolvePairs(source, target, options);
  const folders: FolderComparison[] = [];
  const skipped: SkippedFolder[] = [];
  const sourceSide = await readSide(source.location, pairs, 'source', options);
  const targetSide = await readSide(target.location, pairs, 'target', options);
  skipped.push(...sourceSide.skipped, ...targetSide.skipped);
  const key = (f: FolderSnapshot) => `${f.mailbox}\u0000${f.folder}`;
  const targetByKey = new Map(targetSide.folders.map((f) => [key(f), f]));
  for (const folder of sourceSide.folders) {
    folders.push(compareFolder(folder, targetByKey.get(key(folder))));
    targetByKey.delete(key(folder));
  }
  // Folders only on the target: listed (counts) so the report shows the whole target, never a difference.
  for (const folder of targetByKey.values()) folders.push(compareFolder(undefined, folder));
  return buildVerifyReport(formatSpec(source), formatSpec(target), folders, skipped, { strict: Boolean(options.strict) });
}

async function readSide(location: Location, pairs: readonly MailboxPair[], side: 'source' | 'target', options: VerifyOptions): Promise<{ folders: FolderSnapshot[]; skipped: SkippedFolder[] }> {
  const folders: FolderSnapshot[] = [];
  const skipped: SkippedFolder[] = [];
  if (location.type === 'local') {
    for (const pair of pairs) {
      const dir = side === 'source' ? pair.sourcePath : pair.targetPath;
      const store = openLocalMaildir(dir);
      try {
        const result = await snapshotsFromStore(store, pair.label, options.signal);
        folders.push(...result.folders);
        skipped.push(...result.skipped);
      } catch (err) {
        if (err instanceof MailshiftError && err.code === 'MAILSHIFT_MAILDIR_MISSING') {
          if (side === 'target' && pair === pairs[0]) throw missingTargetError(dir, err);
          skipped.push({ mailbox: pair.label, directory: dir, reason: 'does not exist' });
          continue;
        }
        throw err;
      } finally {
        await store[Symbol.asyncDispose]();
      }
    }
    return { folders, skipped };
  }
  // Over ssh: one find per side when the mailboxes share a root (a whole account), else one per mailbox.
  const exec: ExecTarget = { ssh: { host: location.host, ...(location.user ? { user: location.user } : {}), ...(location.port ? { port: location.port } : {}) }, ...(options.ssh ? { sshOptions: options.ssh } : {}) };
  const base = pairs[0];
  if (!base) return { folders, skipped };
  const rootPath = side === 'source' ? base.sourcePath : base.targetPath;
  const nested = pairs.slice(1).map((p) => path.posix.relative(rootPath, side === 'source' ? p.sourcePath : p.targetPath));
  if (nested.every((rel) => rel !== '' && !rel.startsWith('..') && rel.split('/').length === 2)) {
    const labels = new Map(pairs.slice(1).map((p, i) => [nested[i]!, p.label]));
    const result = await snapshotsFromRemoteMaildirs(exec, rootPath, { rootLabel: base.label, mailboxDirs: nested, labelOf: (dir) => labels.get(dir) ?? dir }, options);
    if (side === 'target' && isMissingRoot(result.skipped, rootPath)) throw missingTargetError(`${location.host}:${rootPath}`);
    if (side === 'source') throwIfUnreadable(result.skipped, location.host);
    return result;
  }
  for (const pair of pairs) {
    const dir = side === 'source' ? pair.sourcePath : pair.targetPath;
    const result = await snapshotsFromRemoteMaildirs(exec, dir, { rootLabel: pair.label, mailboxDirs: [], labelOf: (d) => d }, options);
    if (side === 'target' && pair === base && isMissingRoot(result.skipped, dir)) throw missingTargetError(`${location.host}:${dir}`);
    if (side === 'source') throwIfUnreadable(result.skipped, location.host);
    folders.push(...result.folders);
    skipped.push(...result.skipped);
  }
  return { folders, skipped };
}

/**
 * The target's top directory missing is a mistyped path, not a copy that lost everything: "11 missing" (exit 4)
 * would send the user looking for lost mail. A mailbox missing under an existing account root is still a difference.
 */
function missingTargetError(dir: string, cause?: unknown): MailshiftError {
  return new MailshiftError('MAILSHIFT_VERIFY_NO_TARGET', `target ${dir} does not exist (or is not a maildir)`, {
    hint: 'check the target path; if nothing was copied yet, run mailshift copy first',
    exitCode: ExitCode.config,
    ...(cause ? { cause } : {}),
  });
}

/** A source folder find could not enter (over ssh) is never left out quietly: the same error as a local one. */
function throwIfUnreadable(skipped: readonly SkippedFolder[], host: string): void {
  const denied = skipped.find((s) => s.reason.startsWith('listing was incomplete') && /Permission denied/.test(s.reason));
  if (!denied) return;
  throw new MailshiftError('MAILSHIFT_FOLDER_UNREADABLE', `cannot read part of the source on ${host}: ${denied.reason}`, {
    scope: 'mailbox',
    hint: 'log in as root or as the mailbox owner, or make the folder readable (chmod u+rx), then run again',
    exitCode: ExitCode.config,
  });
}

function isMissingRoot(skipped: readonly SkippedFolder[], dir: string): boolean {
  return skipped.some((s) => s.directory === dir && s.reason === 'does not exist');
}

function execOf(location: Location, options: VerifyOptions): ExecTarget {
  return location.type === 'ssh'
    ? { ssh: { host: location.host, ...(location.user ? { user: location.user } : {}), ...(location.port ? { port: location.port } : {}) }, ...(options.ssh ? { sshOptions: options.ssh } : {}) }
    : {};
}

async function resolvePairs(source: StoreSpec, target: StoreSpec, options: VerifyOptions): Promise<MailboxPair[]> {
  if (source.kind === 'imap' || target.kind === 'imap' || source.kind === 'mbox' || target.kind === 'mbox') return [];
  if (source.kind === 'cpanel' && !source.mailbox) {
    if (target.kind !== 'cpanel' || target.mailbox) {
      throw new UsageError('a whole cPanel account is verified against a cPanel account', 'name the target as cpanel:ROOT#USER');
    }
    const srcExec = execOf(source.location, options);
    const dstExec = execOf(target.location, options);
    const srcHome = await resolveCpanelHome(srcExec, source.root, source.user);
    const dstHome = await resolveCpanelHome(dstExec, target.root, target.user);
    const srcMail = path.posix.join(srcHome.home, 'mail');
    const dstMail = path.posix.join(dstHome.home, 'mail');
    const entries: TreeEntry[] = [];
    const listed = await listTree(srcExec, srcMail, (e) => entries.push(e), { maxDepth: 3, dirsAndLinksOnly: true });
    if (!listed.exists) throw new MailshiftError('MAILSHIFT_CPANEL_NO_MAIL', `${formatSpec(source)}: ${srcMail} does not exist`, { exitCode: ExitCode.config });
    const pairs: MailboxPair[] = [{ label: source.user, sourcePath: srcMail, targetPath: dstMail }];
    for (const dir of findMailboxDirs(entries)) {
      const [domain, local] = dir.split('/') as [string, string];
      pairs.push({ label: `${local}@${domain}`, sourcePath: path.posix.join(srcMail, dir), targetPath: path.posix.join(dstMail, dir) });
    }
    return pairs;
  }
  if (target.kind === 'cpanel' && !target.mailbox) {
    throw new UsageError('a whole cPanel account can only be verified against a whole account');
  }
  const label = source.kind === 'cpanel' && source.mailbox ? `${source.mailbox.localPart}@${source.mailbox.domain}` : '';
  return [{ label, sourcePath: await mailboxPath(source, options), targetPath: await mailboxPath(target, options) }];
}

async function mailboxPath(spec: StoreSpec, options: VerifyOptions): Promise<string> {
  if (spec.kind === 'path' || spec.kind === 'maildir') return spec.path;
  if (spec.kind !== 'cpanel' || !spec.mailbox) throw new Error('not a mailbox spec');
  const exec = execOf(spec.location, options);
  const userdomains = (await readSystemFile(exec, path.posix.join(spec.root, 'etc/userdomains'))) ?? '';
  const owner = findDomainOwner(userdomains, spec.mailbox.domain);
  if (!owner) {
    throw new MailshiftError('MAILSHIFT_CPANEL_DOMAIN_UNKNOWN', `no cPanel account owns ${spec.mailbox.domain} under ${spec.root}`, { exitCode: ExitCode.config });
  }
  const home = await resolveCpanelHome(exec, spec.root, owner);
  return path.posix.join(home.home, 'mail', spec.mailbox.domain, spec.mailbox.localPart);
}
