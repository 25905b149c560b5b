import path from 'node:path';
import { MailshiftError, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { MailStore } from '../stores/store.js';
import type { SshOptions } from '../transport/ssh.js';
import { compareFolder, type FolderComparison } from './compare.js';
import { openFileSide } from '../hosts/open.js';
import { resolveMailboxPairs, type FileTreeSpec, type MailboxPair } from './ends.js';
import { snapshotsFromRemoteMaildirs } from './remote-maildirs.js';
import { buildVerifyReport, type VerifyReport } from './report.js';
import { messageMetaFromRef, type FolderSnapshot, type MessageMeta, type SkippedFolder } from './snapshot.js';
import { formatSpec, type StoreSpec } from '../stores/spec.js';

/**
 * `mailshift verify SRC DST` on file trees: resolves both specs to the same list of mailboxes (ends.ts), reads each
 * side (locally through the store interface, over ssh with one find: remote-maildirs.ts) and compares folder by
 * folder.
 */

export interface VerifyOptions {
  readonly ssh?: SshOptions;
  readonly signal?: AbortSignal;
  readonly strict?: boolean;
}

interface SideSnapshots {
  folders: FolderSnapshot[];
  skipped: SkippedFolder[];
}

export async function runVerify(source: StoreSpec, target: StoreSpec, options: VerifyOptions = {}): Promise<VerifyReport> {
  if (source.kind === 'imap' || target.kind === 'imap' || source.kind === 'mbox' || target.kind === 'mbox' || source.kind === 'archive' || target.kind === 'archive') {
    throw new UsageError('verify compares maildir trees (plain, cPanel mailboxes or whole cPanel accounts)', 'verify an mbox conversion by verifying the converted maildir against the target; verify a restore from a cPanel backup against the restored tree');
  }
  const pairs = await resolveMailboxPairs(source, target, options.ssh);
  const folders: FolderComparison[] = [];
  const skipped: SkippedFolder[] = [];
  const sourceSide = await readSide(source, pairs, 'source', options);
  const targetSide = await readSide(target, pairs, 'target', options);
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

async function readSide(spec: FileTreeSpec, pairs: readonly MailboxPair[], side: 'source' | 'target', options: VerifyOptions): Promise<SideSnapshots> {
  const location = spec.location;
  const pathOf = (pair: MailboxPair) => (side === 'source' ? pair.sourcePath : pair.targetPath);
  const folders: FolderSnapshot[] = [];
  const skipped: SkippedFolder[] = [];
  if (location.type === 'local') {
    // Opened through the driver table like any store (never a driver by name), loaded here only: a remote verify
    // never needs the maildir driver.
    const { openLocalMaildir } = await import('../stores/open.js');
    for (const pair of pairs) {
      const dir = pathOf(pair);
      const store = await openLocalMaildir(dir);
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
  const host = openFileSide(location, options.ssh);
  const base = pairs[0];
  if (!base) return { folders, skipped };
  const rootPath = pathOf(base);
  const nested = decideNestedMailboxDirs(rootPath, pairs.slice(1).map(pathOf));
  if (nested) {
    const labels = new Map(pairs.slice(1).map((p, i) => [nested[i]!, p.label]));
    const result = await snapshotsFromRemoteMaildirs(host, rootPath, { rootLabel: base.label, mailboxDirs: nested, labelOf: (dir) => labels.get(dir) ?? dir }, options);
    if (side === 'target' && isMissingRoot(result.skipped, rootPath)) throw missingTargetError(`${location.host}:${rootPath}`);
    if (side === 'source') throwIfUnreadable(result.skipped, location.host);
    return result;
  }
  for (const pair of pairs) {
    const dir = pathOf(pair);
    const result = await snapshotsFromRemoteMaildirs(host, dir, { rootLabel: pair.label, mailboxDirs: [], labelOf: (d) => d }, options);
    if (side === 'target' && pair === base && isMissingRoot(result.skipped, dir)) throw missingTargetError(`${location.host}:${dir}`);
    if (side === 'source') throwIfUnreadable(result.skipped, location.host);
    folders.push(...result.folders);
    skipped.push(...result.skipped);
  }
  return { folders, skipped };
}

/**
 * The other mailboxes' directories relative to the first one's, when every one of them sits two levels below it
 * (DOMAIN/LOCAL under an account's ~/mail): then one listing of the first covers all. Undefined otherwise. Pure.
 */
export function decideNestedMailboxDirs(rootPath: string, otherPaths: readonly string[]): string[] | undefined {
  const nested = otherPaths.map((p) => path.posix.relative(rootPath, p));
  return nested.every((rel) => rel !== '' && !rel.startsWith('..') && rel.split('/').length === 2) ? nested : undefined;
}

/** Any MailStore read as snapshots, with the folders it found and could not offer. */
export async function snapshotsFromStore(store: MailStore, mailbox: string, signal?: AbortSignal): Promise<SideSnapshots> {
  const folders: FolderSnapshot[] = [];
  for await (const info of store.listMailboxes(signal)) {
    const box = await store.openMailbox(info.path, 'read');
    try {
      const status = await box.status();
      const messages: MessageMeta[] = [];
      for await (const ref of box.list(signal)) messages.push(messageMetaFromRef(ref));
      folders.push({ mailbox, folder: info.path, ...(status.uidValidity !== undefined ? { uidValidity: status.uidValidity } : {}), messages });
    } finally {
      await box[Symbol.asyncDispose]();
    }
  }
  const skipped = (store.skippedFolders ?? []).map((s) => ({ mailbox, ...s }));
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
