import { targetWriteError } from '../fsops/target-dir.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseSubscriptions } from '../../converters/folders/subscriptions.js';
import type { MboxVariant } from '../../converters/mbox/framer.js';
import { mboxFileToMailboxPath, type Mutf7Names } from '../../converters/mbox/folder-path.js';
import type { GmailLabelMode } from '../../converters/mbox/gmail-folders.js';
import { describeError, isMailshiftError, systemErrorCode, throwIfAborted } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { MailboxPath } from '../core/types.js';
import { MaildirTarget, type UidOutcome } from '../stores/maildir/index.js';
import { readMboxSourceTree, type IgnoredSourceEntry, type MboxSourceFile } from '../stores/mbox/index.js';
import { ConvertState, convertFile, TooManyBadMessages } from './convert-file.js';

export type { MboxVariant };

export interface ConvertOptions {
  readonly source: string;
  readonly target: string;
  readonly dryRun: boolean;
  /** How many messages may be skipped as unconvertible before the run stops. */
  readonly maxBad: number;
  readonly gmailLabels: GmailLabelMode | 'ignore';
  readonly variant: MboxVariant;
  /** Folder for a single-file source (default INBOX). */
  readonly folder?: MailboxPath;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
  readonly onProgress?: (progress: ConvertProgress) => void;
}

export interface ConvertProgress {
  readonly sourceBytesDone: number;
  readonly sourceBytesTotal: number;
  readonly messages: number;
}

export interface SkippedItem {
  readonly file: string;
  /** Byte offset in the (decompressed) source where the skipped item starts. */
  readonly offset: number;
  readonly reason: string;
}

export interface FolderReport {
  readonly mailbox: MailboxPath;
  readonly directory: string;
  readonly sourceFiles: string[];
  messages: number;
  bytes: number;
  alreadyPresent: number;
  uidValidity?: number;
  uids?: UidOutcome;
  note?: string;
}

export interface ConvertReport {
  readonly source: string;
  readonly target: string;
  readonly dryRun: boolean;
  readonly folders: FolderReport[];
  readonly totals: { messages: number; bytes: number; alreadyPresent: number; skipped: number; pseudoMessagesSkipped: number; folders: number };
  readonly skipped: SkippedItem[];
  readonly ignored: IgnoredSourceEntry[];
  readonly warnings: string[];
  readonly subscriptionsAdded: number;
  /** Set when the run stopped before the end (too many bad messages); everything before it is complete. */
  readonly stopped?: { readonly reason: string };
  readonly durationMs: number;
}

/**
 * mbox -> Maildir++. Streams every source file once (plus one read-only sniffing pass), writes each message through
 * tmp/ under a name derived from its content, and flushes each folder to disk before reporting it. Mail already in
 * the target is never touched; a re-run adds nothing twice.
 */
export async function runConvert(options: ConvertOptions): Promise<ConvertReport> {
  try {
    return await convertTree(options);
  } catch (err) {
    throw classifyTargetFailure(err, options.target);
  }
}

const targetWriteCodes = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EEXIST', 'EISDIR', 'ENAMETOOLONG']);

/**
 * A system error while creating or writing the target (a read-only filesystem, a directory the user may not write,
 * a file where a directory should be) is the user's to fix, not a bug: said as such, with the path and a hint.
 */
function classifyTargetFailure(err: unknown, targetArgument: string): unknown {
  if (isMailshiftError(err)) return err;
  const code = systemErrorCode(err);
  const at = typeof err === 'object' && err !== null && 'path' in err && typeof err.path === 'string' ? err.path : undefined;
  if (!code || !targetWriteCodes.has(code) || !at) return err;
  const target = path.resolve(targetArgument);
  const relative = path.relative(target, path.resolve(at));
  // The target root itself, something in it, or a parent directory created for it.
  const isTarget = relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative)) || target.startsWith(`${path.resolve(at)}${path.sep}`);
  if (!isTarget) return err;
  return targetWriteError(target, err, 'target', at);
}

async function convertTree(options: ConvertOptions): Promise<ConvertReport> {
  const started = Date.now();
  const tree = await readMboxSourceTree(options.source, options.folder ? { singleFileFolder: options.folder } : {});
  const target = MaildirTarget.open(options.target, { dryRun: options.dryRun });
  const relativeTarget = path.relative(tree.root, target.root);
  if (!tree.isSingleFile && relativeTarget !== '' && !relativeTarget.startsWith('..') && !path.isAbsolute(relativeTarget)) {
    options.logger.warn(`the target is inside the source tree (${relativeTarget}); it is not read as a source`);
  }
  const state = new ConvertState(options, target);
  for (const entry of tree.ignored) state.ignored.push({ path: entry.path, reason: entry.reason });

  const totalBytes = tree.files.reduce((sum, file) => sum + file.sizeBytes, 0);
  let bytesBefore = 0;
  // Folders that no later file maps to can be finished (flushed, reported) as soon as their last file is done.
  const remainingFiles = new Map<MailboxPath, number>();
  for (const file of tree.files) remainingFiles.set(file.folder, (remainingFiles.get(file.folder) ?? 0) + 1);
  warnAboutMergedFolders(tree.files, options.logger, state.warnings);

  try {
    for (const entry of tree.unreadable) state.recordBad({ file: entry.path, offset: 0, reason: entry.reason });
    for (const file of tree.files) {
      throwIfAborted(options.signal);
      await convertFile(file, state, tree.isSingleFile, (done) =>
        options.onProgress?.({ sourceBytesDone: bytesBefore + done, sourceBytesTotal: totalBytes, messages: state.totals.messages }),
      );
      bytesBefore += file.sizeBytes;
      const left = (remainingFiles.get(file.folder) ?? 1) - 1;
      remainingFiles.set(file.folder, left);
      const written = state.writtenFolder(file.folder);
      // Finished once its last messages are placed; they may still wait for their digests while the next file is read.
      if (left === 0 && written) {
        state.placements.afterPlaced(() => {
          if (!state.dynamicFolders.has(written)) state.finishFolderInBackground(written);
        });
      }
      state.throwIfFinishFailed();
    }
    state.placements.placeAll();
  } catch (err) {
    state.placements.abort();
    if (!(err instanceof TooManyBadMessages)) {
      // Whatever was written is complete (tmp/ then rename); flush it and its bookkeeping before reporting.
      await state.finishAll().catch(() => undefined);
      await target.close().catch(() => undefined);
      throw err;
    }
    state.stopped = { reason: err.message };
  }
  try {
    await state.finishAll();
  } finally {
    await target.close();
  }

  let subscriptionsAdded = 0;
  if (!state.stopped) {
    const subscribed = await readSourceSubscriptions(tree.root, tree.subscriptionFiles, state.warnings, tree.mutf7Names);
    // Without a subscription list in the source, subscribe every converted folder so clients show them all.
    subscriptionsAdded = target.subscribe(subscribed ?? state.folderReports.keys());
  }
  const folders = [...state.folderReports.values()].sort((a, b) => (a.mailbox < b.mailbox ? -1 : a.mailbox > b.mailbox ? 1 : 0));
  return {
    source: tree.root,
    target: target.root,
    dryRun: options.dryRun,
    folders,
    totals: { ...state.totals, skipped: state.skipped.length, folders: folders.length },
    skipped: state.skipped,
    ignored: state.ignored,
    warnings: state.warnings,
    subscriptionsAdded,
    ...(state.stopped ? { stopped: state.stopped } : {}),
    durationMs: Date.now() - started,
  };
}

async function readSourceSubscriptions(root: string, files: string[], warnings: string[], mutf7Names: Mutf7Names): Promise<MailboxPath[] | undefined> {
  if (files.length === 0) return undefined;
  const names = new Set<MailboxPath>();
  for (const file of files) {
    try {
      // Dovecot's mbox `.subscriptions` and UW-IMAP's `.mailboxlist` hold one folder path per line, '/'-separated.
      for (const name of parseSubscriptions(await readFile(path.join(root, file), 'utf8'), '/')) names.add(mboxFileToMailboxPath(name, mutf7Names));
    } catch (err) {
      warnings.push(`${file}: cannot read subscriptions: ${describeError(err)}`);
    }
  }
  return [...names];
}

function warnAboutMergedFolders(files: readonly MboxSourceFile[], logger: Logger, warnings: string[]): void {
  const byFolder = new Map<MailboxPath, string[]>();
  for (const file of files) byFolder.set(file.folder, [...(byFolder.get(file.folder) ?? []), file.relativePath]);
  for (const [folder, sources] of byFolder) {
    if (sources.length < 2) continue;
    const message = `${sources.join(' and ')} all become folder ${folder}; identical messages are stored once`;
    warnings.push(message);
    logger.warn(message);
  }
}
