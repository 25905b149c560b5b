import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';

/**
 * A directory tree described as data, for fixtures git cannot hold (empty dirs, modes, mtimes, symlinks) and for
 * generated inputs. Keys are relative POSIX paths; parents are created as needed.
 *
 *   { 'mail/example.com/alice/cur/1.M1P1.host:2,S': { content: 'Subject: hi\n\nbody\n', mtime: 1577934245 },
 *     'mail/example.com/alice/new': { type: 'dir' },
 *     'mail/example.com/alice/.Escape': { type: 'symlink', target: '/etc' },
 *     'etc/example.com/passwd': 'alice:x:1000:1000::/home/u/mail/example.com/alice:/bin/false\n' }
 */
export type TreeManifest = Readonly<Record<string, string | Buffer | ManifestEntry>>;

export type ManifestEntry = ManifestFile | ManifestDir | ManifestSymlink;

export interface ManifestFile {
  readonly type?: 'file';
  readonly content: string | Buffer;
  /** Permission bits, e.g. 0o600. Default: the umask's choice (0644 as root). */
  readonly mode?: number;
  /** Modification time: a Date or Unix seconds. Maildir uses it as the received date. */
  readonly mtime?: Date | number;
}

export interface ManifestDir {
  readonly type: 'dir';
  readonly mode?: number;
  readonly mtime?: Date | number;
}

export interface ManifestSymlink {
  readonly type: 'symlink';
  /** Written verbatim: relative, absolute or dangling, as the test needs. */
  readonly target: string;
}

/** Resolves a manifest key inside root, refusing keys that would write outside it. */
function resolveInside(root: string, key: string): string {
  const normalized = posix.normalize(key);
  if (key === '' || posix.isAbsolute(key) || normalized === '..' || normalized.startsWith('../')) {
    throw new Error(`tree manifest path escapes the tree: ${JSON.stringify(key)}`);
  }
  return join(root, normalized);
}

function toDate(value: Date | number): Date {
  return typeof value === 'number' ? new Date(value * 1000) : value;
}

/**
 * Creates the manifest under root (created if missing). Content, then symlinks, then modes and mtimes, deepest
 * directories last, so a read-only directory can still be filled and a directory's mtime is not changed again by
 * writing its children.
 */
export async function writeTree(root: string, manifest: TreeManifest): Promise<void> {
  await mkdir(root, { recursive: true });
  const dirs: [string, ManifestDir][] = [];
  const files: [string, ManifestFile][] = [];
  for (const [key, raw] of Object.entries(manifest)) {
    const path = resolveInside(root, key);
    const entry: ManifestEntry = typeof raw === 'string' || Buffer.isBuffer(raw) ? { content: raw } : raw;
    if (entry.type === 'dir') {
      await mkdir(path, { recursive: true });
      dirs.push([path, entry]);
    } else if (entry.type === 'symlink') {
      await mkdir(dirname(path), { recursive: true });
      await symlink(entry.target, path);
    } else {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, entry.content);
      files.push([path, entry]);
    }
  }
  for (const [path, entry] of files) {
    if (entry.mode !== undefined) await chmod(path, entry.mode);
    if (entry.mtime !== undefined) await utimes(path, toDate(entry.mtime), toDate(entry.mtime));
  }
  dirs.sort(([a], [b]) => b.split('/').length - a.split('/').length);
  for (const [path, entry] of dirs) {
    if (entry.mode !== undefined) await chmod(path, entry.mode);
    if (entry.mtime !== undefined) await utimes(path, toDate(entry.mtime), toDate(entry.mtime));
  }
}

export interface TreeListingEntry {
  /** Relative POSIX path from the root. */
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  /** File size; 0 for directories and symlinks. */
  readonly sizeBytes: number;
  /** Permission bits only (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeMs: number;
  /** Symlinks only. */
  readonly linkTarget?: string;
  /** Files only, when read with { hash: true }. */
  readonly sha256?: string;
}

export interface ListTreeOptions {
  /** Add the SHA-256 of each regular file's content (streams nothing large: test trees are small). */
  readonly hash?: boolean;
}

/** Everything under root (root itself excluded), sorted by path, symlinks reported and never followed. */
export async function listTree(root: string, options: ListTreeOptions = {}): Promise<TreeListingEntry[]> {
  const entries: TreeListingEntry[] = [];
  async function visit(relative: string): Promise<void> {
    const names = (await readdir(relative === '' ? root : join(root, relative))).sort();
    for (const name of names) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const absolute = join(root, path);
      const stats = await lstat(absolute);
      const base = { path, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid, mtimeMs: stats.mtimeMs };
      if (stats.isSymbolicLink()) {
        entries.push({ ...base, type: 'symlink', sizeBytes: 0, linkTarget: await readlink(absolute) });
      } else if (stats.isDirectory()) {
        entries.push({ ...base, type: 'dir', sizeBytes: 0 });
        await visit(path);
      } else if (stats.isFile()) {
        const sha256 = options.hash ? createHash('sha256').update(await readFile(absolute)).digest('hex') : undefined;
        entries.push({ ...base, type: 'file', sizeBytes: stats.size, ...(sha256 === undefined ? {} : { sha256 }) });
      } else {
        entries.push({ ...base, type: 'other', sizeBytes: 0 });
      }
    }
  }
  await visit('');
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return entries;
}

/**
 * One line per entry, stable and readable in a failing assertion:
 *   "d 0755 cur/", "f 0600 123 cur/1.M1P1.host:2,S", "l .Escape -> /etc"
 */
export function formatTreeListing(entries: readonly TreeListingEntry[]): string[] {
  return entries.map((entry) => {
    const mode = entry.mode.toString(8).padStart(4, '0');
    switch (entry.type) {
      case 'dir':
        return `d ${mode} ${entry.path}/`;
      case 'symlink':
        return `l ${entry.path} -> ${entry.linkTarget ?? ''}`;
      case 'file':
        return `f ${mode} ${entry.sizeBytes} ${entry.path}`;
      default:
        return `? ${mode} ${entry.path}`;
    }
  });
}

