import { constants as fsConstants } from 'node:fs';
import { lstat, open, opendir, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { InterruptedError } from '../core/errors.js';
import type { ArchiveEntry, ArchiveEntryType, EntryVisitor } from './tar.js';

/**
 * A cPanel incremental backup (or an unpacked cpmove archive) is a directory with the archive's layout: homedir/,
 * cp/USER, va/... (campaigns-archives-scaleout.md §C.1: "uses a combination of hard links and files"). It is read
 * through the same visitor as a tar, so restore and discover have one router for both: the walk hands out entries
 * as tar would (hard links after their first copy as 'link' entries, symlinks with their text, never followed).
 */

/** A directory that is laid out as a cpmove tree: homedir/ (or homedir.tar) beside cp/. */
export async function isBackupDirectory(dir: string): Promise<boolean> {
  const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
  const isFile = async (p: string) => (await lstat(p).catch(() => undefined))?.isFile() ?? false;
  if (!(await isDir(dir)) || !(await isDir(path.join(dir, 'cp')))) return false;
  return (await isDir(path.join(dir, 'homedir'))) || (await isFile(path.join(dir, 'homedir.tar')));
}

/**
 * Walks `dir` depth first, in name order, handing each entry to `visit` with names relative to it (`homedir/...`).
 * A nested homedir.tar is not read here: the visitor's 'read-nested' is honoured by the caller that knows tar.
 */
export async function readDirectoryEntries(dir: string, visit: EntryVisitor, readNested: (file: string) => Promise<void>, signal?: AbortSignal): Promise<void> {
  const firstPathOfInode = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    const handle = await opendir(path.join(dir, rel));
    const names: string[] = [];
    for await (const dirent of handle) names.push(dirent.name);
    names.sort();
    for (const name of names) {
      if (signal?.aborted) throw new InterruptedError();
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const abs = path.join(dir, childRel);
      const stats = await lstat(abs);
      const base = { name: childRel, nested: false, size: 0, mtimeSec: stats.mtimeMs / 1000 };
      let entry: ArchiveEntry;
      let body: Readable | undefined;
      if (stats.isDirectory()) entry = { ...base, type: 'directory', body: Readable.from([]) };
      else if (stats.isSymbolicLink()) entry = { ...base, type: 'symlink', linkname: await readlink(abs), body: Readable.from([]) };
      else if (stats.isFile()) {
        const key = `${stats.dev}:${stats.ino}`;
        const first = stats.nlink > 1 ? firstPathOfInode.get(key) : undefined;
        if (first !== undefined) entry = { ...base, type: 'link', linkname: first, body: Readable.from([]) };
        else {
          if (stats.nlink > 1) firstPathOfInode.set(key, childRel);
          body = lazyFile(abs);
          entry = { ...base, type: 'file', size: stats.size, body };
        }
      } else entry = { ...base, type: kindOf(stats), body: Readable.from([]) };
      const result = await visit(entry);
      if (result === 'read-nested') await readNested(abs);
      else body?.destroy();
      if (entry.type === 'directory') await walk(childRel);
    }
  };
  await walk('');
}

function kindOf(stats: { isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean }): ArchiveEntryType {
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'device';
  if (stats.isFIFO()) return 'fifo';
  return 'unsupported';
}

/** The file is opened only if the visitor reads it (never through a link: O_NOFOLLOW). */
function lazyFile(abs: string): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    const handle = await open(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    yield* handle.createReadStream() as AsyncIterable<Buffer>;
  }
  return Readable.from(chunks(), { objectMode: false });
}
