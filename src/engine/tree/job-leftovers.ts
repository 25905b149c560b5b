import path from 'node:path';
import type { TreeEntry } from '../../hosts/find.js';
import type { FileSide } from '../../hosts/side.js';
import type { CopyJob } from './plan-copy.js';

/**
 * What a copy job's rsync may have left half-written on its target, and its removal: the files with rsync's
 * temporary-name shape (`.NAME.XXXXXX`, written beside NAME and renamed when complete) whose change time is at or
 * after the job's recorded start (job-marker.ts), in the places only that job's rsync writes to. Used at the start of
 * a job whose marker an interrupted run left, and at the end of a job whose rsync was retried or failed (a remote
 * receiver killed with its connection cannot remove its file itself).
 *
 * Why the change time: rsync gives the temporary file the source's mtime just before the rename, so a file caught
 * between those two steps has an old mtime; its ctime is when it was written, and nobody can set that back.
 *
 * Why it is safe: nothing but a regular file with rsync's temporary shape, changed since the job started, in the
 * job's own places, is ever removed. A message file never has that shape (maildir names do not start with '.'); in
 * the account files a real file can (`.x.abc123`), and one changed since the interrupted job started is then removed
 * too: it is one that job copied (the next run's --ignore-existing copy brings it back from the source, before which
 * this sweep runs), or one changed on the target while the copy was interrupted (a target-side program writing a
 * name of exactly that shape into the copied directories: not a case mailshift can tell from rsync's). A finished
 * job keeps what its rsync itemized (its completed files), so only an interrupted run's start-of-next-job sweep has
 * that case at all.
 */

/** rsync's temporary name for NAME: "." + NAME + "." + six characters from [A-Za-z0-9]. */
export function isRsyncPartialName(name: string): boolean {
  return /^\..+\.[A-Za-z0-9]{6}$/.test(name);
}

/** NAME of rsync's temporary name `.NAME.XXXXXX` (undefined for any other name). */
export function finalNameOfPartial(name: string): string | undefined {
  return isRsyncPartialName(name) ? name.slice(1, -7) : undefined;
}

/**
 * How far before the recorded start a change time may lie and still count: file systems stamp times from a coarse
 * clock (a few ms behind the one the start was read from), some in whole seconds.
 */
export const leftoverSlackMs = 1000;

/** The rule: a regular file with rsync's temporary shape, changed at or after the job's start. */
export function isJobLeftover(entry: Pick<TreeEntry, 'type' | 'path' | 'ctimeMs'>, startedMs: number): boolean {
  return entry.type === 'file' && entry.ctimeMs >= startedMs - leftoverSlackMs && isRsyncPartialName(path.posix.basename(entry.path));
}

/** Where only one job's rsync writes on its target. Absolute paths. */
export interface LeftoverScope {
  /** Trees that job writes into, each without the subtrees (relative) other jobs write into or nobody does. */
  readonly trees: readonly { readonly root: string; readonly prune: readonly string[] }[];
  /** Single files it writes: their temporary names are `.NAME.XXXXXX` in `dir`. */
  readonly files: readonly { readonly dir: string; readonly name: string }[];
  /** Files other jobs write inside those trees (one-file jobs): their temporary names are not this job's. */
  readonly foreignFiles: readonly string[];
}

/**
 * The places of `job` among all the run's `jobs`. Jobs overlap on the target (the default mailbox's tree holds the
 * other mailboxes; ~/etc, copied by the account-files job, holds a renamed file copied by a job of its own), and
 * several run at once: a sweep must never take a file another job of the same run is writing.
 */
export function buildLeftoverScope(job: CopyJob, jobs: readonly CopyJob[]): LeftoverScope {
  const sameHost = (other: CopyJob) => other !== job && JSON.stringify(other.target.ssh ?? null) === JSON.stringify(job.target.ssh ?? null);
  const others = jobs.filter(sameHost);
  const target = job.target.path.replace(/\/+$/, '');
  if (job.target.isFile) return { trees: [], files: [{ dir: path.posix.dirname(target), name: path.posix.basename(target) }], foreignFiles: [] };
  const roots = job.filesFrom ? job.filesFrom.map((item) => path.posix.join(target, item)) : [target];
  const trees = roots.map((root) => {
    const prune = new Set(job.filesFrom ? [] : (job.skipDirs ?? []));
    for (const other of others) {
      const otherPath = other.target.path.replace(/\/+$/, '');
      if (!other.target.isFile && otherPath.startsWith(`${root}/`)) prune.add(otherPath.slice(root.length + 1));
    }
    return { root, prune: [...prune].sort() };
  });
  // An item of --files-from may be a file (.spamassassinenable, .cpanel/filter.yaml): its temporary name is beside it.
  const files = (job.filesFrom ?? []).map((item) => {
    const abs = path.posix.join(target, item);
    return { dir: path.posix.dirname(abs), name: path.posix.basename(abs) };
  });
  const foreignFiles = others
    .filter((other) => other.target.isFile && roots.some((root) => other.target.path.startsWith(`${root}/`)))
    .map((other) => other.target.path);
  return { trees, files, foreignFiles };
}

/** True when `relPath` is a pruned directory or lies below one: the sweep's own check, whatever the listing skipped. */
export function isUnderPruned(relPath: string, prune: readonly string[]): boolean {
  return prune.some((dir) => relPath === dir || relPath.startsWith(`${dir}/`));
}

/**
 * The leftovers in a scope, as absolute paths: listings of its trees and of the directories of its files. `keep`
 * says which of them are complete files after all (a finished job's itemized files). Lists, removes nothing.
 */
export async function findJobLeftovers(
  side: FileSide,
  scope: LeftoverScope,
  startedMs: number,
  options: { keep?: (absPath: string) => boolean; signal?: AbortSignal } = {},
): Promise<string[]> {
  const found: string[] = [];
  const foreign = new Set(scope.foreignFiles);
  const signal = options.signal ? { signal: options.signal } : {};
  const consider = (absPath: string) => {
    const finalName = finalNameOfPartial(path.posix.basename(absPath));
    if (finalName !== undefined && foreign.has(path.posix.join(path.posix.dirname(absPath), finalName))) return;
    if (options.keep?.(absPath)) return;
    found.push(absPath);
  };
  for (const tree of scope.trees) {
    await side.list(tree.root, (entry) => {
      if (isUnderPruned(entry.path, tree.prune) || !isJobLeftover(entry, startedMs)) return;
      consider(path.posix.join(tree.root, entry.path));
    }, { ...(tree.prune.length > 0 ? { prune: tree.prune } : {}), ...signal });
  }
  const namesByDir = new Map<string, Set<string>>();
  for (const file of scope.files) namesByDir.set(file.dir, (namesByDir.get(file.dir) ?? new Set()).add(file.name));
  for (const [dir, names] of namesByDir) {
    await side.list(dir, (entry) => {
      const finalName = finalNameOfPartial(entry.path);
      if (finalName === undefined || !names.has(finalName) || !isJobLeftover(entry, startedMs)) return;
      consider(path.posix.join(dir, entry.path));
    }, { maxDepth: 1, ...signal });
  }
  return [...new Set(found)];
}
