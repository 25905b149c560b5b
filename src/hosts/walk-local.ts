import { lstatSync, opendirSync, readlinkSync, type BigIntStats, type Dir } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { InterruptedError, systemErrorCode } from '../core/errors.js';
import type { FindOptions, ListTreeResult, TreeEntry, TreeEntryType } from './find.js';

/**
 * Lists a directory tree on this machine the way `listTree` lists it with GNU find over ssh — the same entries, the
 * same fields, the same depth and name filters, never following a symlink — but inside this process.
 *
 * Why not find here too: a copy lists about a dozen trees per account, and starting a child process costs this
 * process far more than the listing (fork copies the page tables of a large heap; a 60-account copy spent 40% of its
 * main thread in spawn), which is what a campaign of thousands of small accounts waits for. Why not fast-glob: it
 * stops at the first unreadable directory (or hides it when told to suppress errors), where find — and this — lists
 * everything else and reports what it could not read; and it has no device, inode, link count or allocated blocks.
 *
 * Synchronous system calls in slices: an lstat through the thread pool costs several times the call itself, and a
 * maildir can hold 100,000 files; every SLICE entries the walk yields to the event loop (other accounts, progress,
 * the abort signal) so a large directory never blocks the process for long.
 */

const SLICE = 256;

export async function listLocalTree(
  root: string,
  onEntry: (entry: TreeEntry) => void,
  options: FindOptions & { signal?: AbortSignal } = {},
): Promise<ListTreeResult> {
  if (!root.startsWith('/')) throw new Error(`tree root must be absolute: ${root}`);
  const errors: string[] = [];
  let rootStats: BigIntStats;
  try {
    rootStats = lstatSync(root, { bigint: true });
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return { exists: false, errors: '' };
    return { exists: true, errors: describeFailure(root, err) };
  }
  // find -P lists nothing below a root that is a link or a file (mindepth 1).
  if (!rootStats.isDirectory()) return { exists: true, errors: '' };

  const wanted = options.names && options.names.length > 0 ? new Set(options.names) : undefined;
  const pruned = new Set(options.prune ?? []);
  let sinceYield = 0;
  const pace = async (): Promise<void> => {
    sinceYield += 1;
    if (sinceYield < SLICE) return;
    sinceYield = 0;
    await yieldToEventLoop();
    if (options.signal?.aborted) throw new InterruptedError();
  };

  // Depth first, a directory before what it holds; a directory's subdirectories are walked after it is closed, so
  // at most one directory is open at a time however deep a (hostile) tree goes.
  const pending: { abs: string; rel: string; depth: number }[] = [{ abs: root, rel: '', depth: 0 }];
  while (pending.length > 0) {
    if (options.signal?.aborted) throw new InterruptedError();
    const dir = pending.pop()!;
    const subdirs: { abs: string; rel: string; depth: number }[] = [];
    let handle: Dir;
    try {
      handle = opendirSync(dir.abs);
    } catch (err) {
      errors.push(describeFailure(dir.abs, err));
      continue;
    }
    try {
      for (;;) {
        let dirent;
        try {
          dirent = handle.readSync();
        } catch (err) {
          errors.push(describeFailure(dir.abs, err));
          break;
        }
        if (dirent === null) break;
        // A listing of directories and links only (a mailbox's folders) has no use for a file's fields: the entry's
        // type from the directory itself spares its lstat (a mailbox's cur/ holds thousands).
        if (options.dirsAndLinksOnly && !dirent.isDirectory() && !dirent.isSymbolicLink()) {
          await pace();
          continue;
        }
        const abs = path.posix.join(dir.abs, dirent.name);
        const rel = dir.rel === '' ? dirent.name : `${dir.rel}/${dirent.name}`;
        const depth = dir.depth + 1;
        let stats: BigIntStats;
        try {
          stats = lstatSync(abs, { bigint: true });
        } catch (err) {
          errors.push(describeFailure(abs, err));
          await pace();
          continue;
        }
        const entry = buildTreeEntry(rel, stats, () => readlinkSync(abs, 'utf8'));
        if (isListed(entry, dirent.name, options, wanted)) onEntry(entry);
        if (entry.type === 'dir' && !pruned.has(rel) && (options.maxDepth === undefined || depth < options.maxDepth)) subdirs.push({ abs, rel, depth });
        await pace();
      }
    } finally {
      handle.closeSync();
    }
    // Reversed onto the stack so subdirectories are walked in the order they were read.
    for (let i = subdirs.length - 1; i >= 0; i--) pending.push(subdirs[i]!);
  }
  return { exists: true, errors: errors.slice(0, 50).join('\n') };
}

function isListed(entry: TreeEntry, name: string, options: FindOptions, wanted: Set<string> | undefined): boolean {
  if (options.dirsAndLinksOnly && entry.type !== 'dir' && entry.type !== 'symlink') return false;
  if (wanted && !wanted.has(name)) return false;
  return true;
}

/** The fields find's -printf gives (find.ts findPrintfFormat), from one lstat. */
export function buildTreeEntry(relPath: string, stats: BigIntStats, readLink: () => string): TreeEntry {
  const type: TreeEntryType = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : 'other';
  let linkTarget = '';
  if (type === 'symlink') {
    try {
      linkTarget = readLink();
    } catch {
      // Gone or replaced since the lstat: find prints an empty %l for a link it cannot read.
    }
  }
  return {
    type,
    path: relPath,
    sizeBytes: Number(stats.size),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
    mode: Number(stats.mode & 0o7777n),
    nlink: Number(stats.nlink),
    mtimeMs: mtimeMsAsFindPrintsIt(stats.mtimeNs),
    ctimeMs: mtimeMsAsFindPrintsIt(stats.ctimeNs),
    device: Number(stats.dev),
    inode: Number(stats.ino),
    ...(type === 'symlink' ? { linkTarget } : {}),
    ...(type === 'file' ? { allocatedBytes: Number(stats.blocks) * 512 } : {}),
  };
}

/**
 * find prints %T@ (and %C@) as seconds with ten decimals, which the parser reads with Number() and rounds to milliseconds;
 * going through the same text gives the same millisecond to the last bit, so a tree listed here and one listed
 * over ssh compare equal (resync compares their times).
 */
export function mtimeMsAsFindPrintsIt(mtimeNs: bigint): number {
  const sign = mtimeNs < 0n ? '-' : '';
  const magnitude = mtimeNs < 0n ? -mtimeNs : mtimeNs;
  const seconds = magnitude / 1_000_000_000n;
  const nanos = magnitude % 1_000_000_000n;
  return Math.round(Number(`${sign}${seconds}.${nanos.toString().padStart(9, '0')}0`) * 1000);
}

function describeFailure(absPath: string, err: unknown): string {
  const code = systemErrorCode(err);
  const text = code === 'EACCES' ? 'Permission denied' : code === 'ENOENT' ? 'No such file or directory' : code === 'ENOTDIR' ? 'Not a directory' : (code ?? String(err));
  return `'${absPath}': ${text}`;
}
