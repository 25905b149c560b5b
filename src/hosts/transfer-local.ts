import { constants as fsConstants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, rename, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import { InterruptedError } from '../core/errors.js';
import { targetWriteError } from '../fsops/target-dir.js';
import { isGone, linkOnTheWayError, resolveInsideTree, walkInsideTree, type PathOnTheWay } from './inside-tree.js';
import { temporaryNameFor } from './local.js';

/**
 * transfer.ts's fetch and push of a list of small files when the far side is this machine: the same result as its
 * rsync, without starting one. A copy of a small account moved its control and account files with three rsync runs,
 * and each start blocks Node's main thread until the child has exec'd: most of what a campaign of thousands of small
 * local accounts waited for (see walk-local.ts for the same reason with find).
 *
 * Stricter than the rsync it replaces on one point: every directory between the root and a file must be a real
 * directory. rsync resolves a symlinked directory in a listed path (etc/DOMAIN -> /etc) like any program opening the
 * path, which would read, or write, a file outside the tree; here such a file is treated as missing (fetch) or refused
 * (push). A file that is itself a symlink, a device or anything but a regular file is never read (the readers of the
 * fetched copies take regular files only, so leaving it out is what they would decide).
 */

/** `trusted`: directories relative to the root the caller vouches for (transfer.ts FileListTransferOptions). */
export interface WalkOptions {
  readonly signal?: AbortSignal;
  readonly trusted?: readonly string[];
}

/** Copies the regular files among `relPaths` (relative to the local `root`) into `localDir`; the rest is left out. */
export async function fetchFilesHere(root: string, relPaths: readonly string[], localDir: string, options: WalkOptions = {}): Promise<Map<string, PathOnTheWay>> {
  await mkdir(localDir, { recursive: true });
  const found = new Map<string, PathOnTheWay>();
  for (const rel of relPaths) {
    if (options.signal?.aborted) throw new InterruptedError();
    found.set(rel, await fetchOneHere(root, rel, localDir, options));
  }
  return found;
}

/** One file of fetchFilesHere: copied ('file'), or what stopped it. */
async function fetchOneHere(root: string, rel: string, localDir: string, options: WalkOptions): Promise<PathOnTheWay> {
  const walked = await walkInsideTree(root, rel, options.trusted ? { trusted: options.trusted } : {});
  if (!('path' in walked)) return walked.stoppedBy;
  let stats;
  try {
    stats = await lstat(walked.path);
  } catch (err) {
    if (isGone(err)) return 'missing';
    throw err;
  }
  if (!stats.isFile()) return 'not-a-regular-file';
  const to = path.join(localDir, rel);
  await mkdir(path.dirname(to), { recursive: true });
  try {
    await copyFile(walked.path, to, fsConstants.COPYFILE_EXCL);
  } catch (err) {
    if (isGone(err)) return 'missing'; // renamed or removed since the lstat: as rsync's --ignore-missing-args
    throw err;
  }
  await chmod(to, stats.mode & 0o7777);
  await utimes(to, stats.atime, stats.mtime);
  return 'file';
}

/**
 * Writes each of `relPaths` (relative to the local `localDir`, files this run staged) to the same name under the
 * local `root`, replacing what is there by a rename (a reader sees the old or the new file, never half of one; a
 * symlink at that name is replaced, never written through). Missing parent directories are made with default
 * attributes, as rsync's receiver makes them (the chown after a copy gives them their owner and mode).
 */
export async function pushFilesHere(localDir: string, relPaths: readonly string[], root: string, options: WalkOptions = {}): Promise<void> {
  for (const rel of relPaths) {
    if (options.signal?.aborted) throw new InterruptedError();
    const to = await resolveInsideTree(root, rel, { makeMissing: true, ...(options.trusted ? { trusted: options.trusted } : {}) });
    if (to === undefined) {
      throw linkOnTheWayError(path.join(root, rel), rel);
    }
    const from = path.join(localDir, rel);
    const stats = await lstat(from);
    const temporary = temporaryNameFor(to);
    try {
      await copyFile(from, temporary, fsConstants.COPYFILE_EXCL);
      await chmod(temporary, stats.mode & 0o7777);
      await utimes(temporary, stats.atime, stats.mtime);
      await rename(temporary, to);
    } catch (err) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw targetWriteError(to, err);
    }
  }
}
