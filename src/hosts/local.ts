import { constants as fsConstants } from 'node:fs';
import { chmod, lchown, lstat, mkdir, open, readdir, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { InterruptedError, MailshiftError, systemErrorCode } from '../core/errors.js';
import { isProcessAlive } from '../core/process-alive.js';
import { targetWriteError } from '../fsops/target-dir.js';
import { linkOnTheWayError, relativeInside, resolveInsideTree } from './inside-tree.js';
import { runExec, type ExecOptions, type ExecResult, type ExecTarget } from './exec.js';
import { listTree, type FindOptions, type ListTreeResult, type TreeEntry } from './find.js';
import { SMALL_FILE_MAX_BYTES, requireAbsolute, type FileSide, type MakeDirsOptions, type PathOwner, type RenamePair } from './side.js';

/** This machine's files, through node:fs; listings through the same GNU find as over ssh (one TreeEntry shape). */
export class LocalFileSide implements FileSide {
  readonly exec: ExecTarget = {};

  describe(absPath: string): string {
    return absPath;
  }

  run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return runExec(this.exec, argv, options);
  }

  list(root: string, onEntry: (entry: TreeEntry) => void, options: FindOptions & { signal?: AbortSignal } = {}): Promise<ListTreeResult> {
    return listTree(this.exec, root, onEntry, options);
  }

  async readSmall(absPath: string): Promise<string | undefined> {
    try {
      return await readFile(requireAbsolute(absPath), 'utf8');
    } catch (err) {
      if (systemErrorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async readSmallFiles(absPaths: readonly string[], options: { signal?: AbortSignal; within: string }): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const file of absPaths) {
      if (options.signal?.aborted) throw new InterruptedError();
      const inside = await resolveInsideTree(options.within, relativeInside(options.within, requireAbsolute(file)));
      const text = inside === undefined ? undefined : await readSmallRegularFile(inside);
      if (text !== undefined) out.set(file, text);
    }
    return out;
  }

  async writeAtomic(absPath: string, text: string, options: { mode?: number; owner?: { uid: number; gid: number }; within: string }): Promise<void> {
    const mode = options.mode ?? 0o600;
    const rel = relativeInside(options.within, requireAbsolute(absPath));
    if ((await resolveInsideTree(options.within, rel)) === undefined) throw linkOnTheWayError(absPath, rel);
    const tmp = temporaryNameFor(absPath);
    await removeDeadTemporaries(absPath);
    try {
      // 'wx': never through a link or over a file someone else put at our temporary name.
      await writeFile(tmp, text, { mode, flag: 'wx' });
      await chmod(tmp, mode); // the umask may have taken bits away
      if (options.owner) await lchown(tmp, options.owner.uid, options.owner.gid);
      await rename(tmp, absPath);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  async mkdirs(absDirs: readonly string[]): Promise<void> {
    for (const dir of absDirs) {
      await mkdir(requireAbsolute(dir), { recursive: true }).catch((err: unknown) => {
        throw targetWriteError(dir, err);
      });
    }
  }

  async makeDirsNoFollow(absDirs: readonly string[], options: MakeDirsOptions): Promise<void> {
    const errorRoot = options.errorRoot ?? absDirs[0] ?? '/';
    for (const dir of absDirs) {
      try {
        // One level at a time: mkdir on a name a link holds is EEXIST, never a follow.
        await mkdir(requireAbsolute(dir), { mode: options.mode });
        await chmod(dir, options.mode); // the umask may have taken bits away
        if (options.owner) await lchown(dir, options.owner.uid, options.owner.gid);
      } catch (err) {
        if (systemErrorCode(err) !== 'EEXIST') throw targetWriteError(errorRoot, err);
        const stats = await lstat(dir);
        if (!stats.isDirectory()) throw new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${dir} exists and is not a directory; not written through`, { scope: 'mailbox' });
      }
    }
  }

  async createExclusive(absPath: string, mode = 0o600, content = ''): Promise<boolean> {
    try {
      const handle = await open(requireAbsolute(absPath), fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, mode);
      try {
        if (content !== '') await handle.writeFile(content);
      } finally {
        await handle.close();
      }
      return true;
    } catch (err) {
      if (systemErrorCode(err) === 'EEXIST') return false;
      throw err;
    }
  }

  async renameNoClobber<T extends RenamePair>(pairs: readonly T[], signal?: AbortSignal): Promise<T[]> {
    const done: T[] = [];
    for (const pair of pairs) {
      if (signal?.aborted) throw new InterruptedError();
      if ((await this.owner(pair.to)) !== undefined) continue; // the name is taken: leave both as they are
      try {
        await rename(requireAbsolute(pair.from), requireAbsolute(pair.to));
        done.push(pair);
      } catch (err) {
        // The file moved on since it was listed (a client changed its flags): nothing lost, the next run sees it.
        if (systemErrorCode(err) !== 'ENOENT') throw err;
      }
    }
    return done;
  }

  async owner(absPath: string): Promise<PathOwner | undefined> {
    try {
      const stats = await lstat(requireAbsolute(absPath));
      return { uid: stats.uid, gid: stats.gid, mode: stats.mode & 0o7777 };
    } catch (err) {
      if (systemErrorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async removeFiles(absPaths: readonly string[]): Promise<void> {
    for (const file of absPaths) await rm(requireAbsolute(file), { force: true });
  }

  async removeTree(absDir: string): Promise<void> {
    await rm(requireAbsolute(absDir), { recursive: true, force: true });
  }
}

/** `.NAME.mailshift-PID` beside NAME: a dot name no mail reader takes for a message or a table. */
export function temporaryNameFor(absPath: string): string {
  return path.posix.join(path.posix.dirname(absPath), `.${path.posix.basename(absPath)}.mailshift-${process.pid}`);
}

/**
 * Removes the temporary names of `absPath` (`.NAME.mailshift-PID`) whose process is gone: a run killed between
 * writing one and renaming it left it beside the file for good. A name of that shape is ours; a live run's is left.
 */
async function removeDeadTemporaries(absPath: string): Promise<void> {
  const prefix = `.${path.posix.basename(absPath)}.mailshift-`;
  const dir = path.posix.dirname(absPath);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !/^\d+$/.test(name.slice(prefix.length))) continue;
    const pid = Number(name.slice(prefix.length));
    if (pid === process.pid || isProcessAlive(pid)) continue;
    await rm(path.posix.join(dir, name), { force: true }).catch(() => undefined);
  }
}

/** Opens a file for reading, refusing symlinks (O_NOFOLLOW); undefined when it cannot be opened. */
export async function openNoFollow(file: string): Promise<FileHandle | undefined> {
  try {
    return await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    if (systemErrorCode(err)) return undefined;
    throw err;
  }
}

/** A small regular file as text (at most SMALL_FILE_MAX_BYTES); undefined when missing, a link or not a file. */
async function readSmallRegularFile(file: string): Promise<string | undefined> {
  const handle = await openNoFollow(file);
  if (!handle) return undefined;
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size > SMALL_FILE_MAX_BYTES) return undefined;
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
