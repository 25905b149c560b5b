import type { ExecTarget } from '../../hosts/exec.js';
import { listTree } from '../../hosts/find.js';

/**
 * What really arrived of the files rsync itemized, by a listing of the target afterwards. Needed when rsync dies
 * (a full disk, a dropped connection): it prints an item before the file is closed and renamed into place, a
 * sending rsync even before the receiver wrote it, and --stats never comes. `candidates` are paths relative to
 * `root`; only regular files count. One find over the target, streamed: only the candidates are kept in memory.
 */
export async function listArrivedFiles(
  exec: ExecTarget,
  root: string,
  candidates: ReadonlySet<string>,
  options: { signal?: AbortSignal } = {},
): Promise<{ paths: string[]; bytes: number }> {
  const paths: string[] = [];
  let bytes = 0;
  if (candidates.size === 0) return { paths, bytes };
  await listTree(exec, root, (entry) => {
    if (entry.type !== 'file' || !candidates.has(entry.path)) return;
    paths.push(entry.path);
    bytes += entry.sizeBytes;
  }, options.signal ? { signal: options.signal } : {});
  return { paths, bytes };
}
