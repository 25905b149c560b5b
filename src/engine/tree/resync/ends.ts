import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError, systemErrorCode } from '../../../core/errors.js';
import { runExec, type ExecTarget } from '../../../transport/exec.js';

/** Small file helpers for resync: open without following links, fetch a few remote files into a local directory. */

/** Opens a file for reading, refusing symlinks (O_NOFOLLOW); undefined when it cannot be opened. */
export async function openNoFollow(file: string): Promise<FileHandle | undefined> {
  try {
    return await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    if (systemErrorCode(err)) return undefined;
    throw err;
  }
}

/** A small regular file as text (control files: at most 1 MiB); undefined when missing, a link or not a file. */
export async function readSmallRegularFile(file: string): Promise<string | undefined> {
  const handle = await openNoFollow(file);
  if (!handle) return undefined;
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size > 1024 * 1024) return undefined;
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Small text files (control files) read over ssh in one round trip, without rsync: `find F... -maxdepth 0 -type f`
 * prints each regular file's path, its bytes (cat) and a NUL. Links and missing files are simply absent. Control
 * files hold no NUL byte; a reply that does not parse is treated as "nothing read" (the caller then has no table).
 */
export async function readRemoteSmallFiles(exec: ExecTarget, root: string, relPaths: readonly string[], signal?: AbortSignal): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (relPaths.length === 0) return out;
  const abs = relPaths.map((rel) => path.posix.join(root, rel));
  const result = await runExec(exec, ['find', ...abs, '-maxdepth', '0', '-type', 'f', '-size', '-1024k', '-printf', '%p\\0', '-exec', 'cat', '--', '{}', ';', '-printf', '\\0'], signal ? { signal } : {});
  if (result.exitCode === 255) throw new MailshiftError('MAILSHIFT_SSH_FAILED', `ssh to ${exec.ssh?.host ?? ''} failed while reading control files`, { retry: 'later' });
  const parts = result.stdout.toString('utf8').split('\u0000');
  if (parts.length % 2 !== 1) return out;
  const prefix = root.endsWith('/') ? root : `${root}/`;
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const file = parts[i]!;
    if (file.startsWith(prefix)) out.set(file.slice(prefix.length), parts[i + 1]!);
  }
  return out;
}
