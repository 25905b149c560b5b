import { isBackupDirectory, readDirectoryEntries } from './directory.js';
import { readArchiveCompression, type ArchiveCompression } from './sniff.js';
import type { EntryVisitor } from './tar.js';

/**
 * What a cPanel backup is on disk: a tar file (gzipped or not, told by its first bytes) or a directory laid out the
 * same way (an incremental backup, an unpacked archive). Both are read through one visitor, once, start to end.
 */
export type BackupSource =
  | { readonly kind: 'tar'; readonly path: string; readonly compression: ArchiveCompression }
  | { readonly kind: 'directory'; readonly path: string };

export async function readBackupSource(p: string): Promise<BackupSource | undefined> {
  const compression = await readArchiveCompression(p);
  if (compression) return { kind: 'tar', path: p, compression };
  if (await isBackupDirectory(p)) return { kind: 'directory', path: p };
  return undefined;
}

/** How people are told what the source is. */
export function describeBackupSource(source: BackupSource): string {
  if (source.kind === 'directory') return 'a backup directory';
  return source.compression === 'gzip' ? 'a gzipped tar' : 'a tar';
}

export async function readBackupEntries(source: BackupSource, visit: EntryVisitor, signal?: AbortSignal): Promise<void> {
  // Loaded here, not at the top: every copy to a local path asks readBackupSource whether it is a backup, and the
  // tar reader (tar-stream, ~90 KB) would otherwise load with it on every such start.
  const { readArchiveEntries } = await import('./tar.js');
  if (source.kind === 'tar') return readArchiveEntries(source.path, source.compression, visit, { ...(signal ? { signal } : {}) });
  // A homedir.tar beside the directory's own entries is read as the nested tar it is in an archive.
  return readDirectoryEntries(source.path, visit, (file) => readArchiveEntries(file, 'none', visit, { nested: true, ...(signal ? { signal } : {}) }), signal);
}
