import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { runExec, type ExecTarget } from './exec.js';
import { classifySshFailure, decideSshHint } from '../transport/rsync/exit.js';
import { listLocalTree } from './walk-local.js';

/**
 * Lists a directory tree over ssh with GNU find (nothing to install on the remote) — or here, with the same fields,
 * in-process (walk-local.ts) — streaming: entries are
 * handed to a callback as find prints them, never collected. find never follows symlinks (its default -P), and every
 * field is NUL-terminated, so names with newlines, spaces or shell syntax arrive intact.
 */

export type TreeEntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface TreeEntry {
  readonly type: TreeEntryType;
  /** Relative to the listed root, '/'-separated, never empty. */
  readonly path: string;
  readonly sizeBytes: number;
  readonly uid: number;
  readonly gid: number;
  /** Permission bits incl. setuid/setgid/sticky (e.g. 0o640). */
  readonly mode: number;
  readonly nlink: number;
  readonly mtimeMs: number;
  /**
   * Last status change (ctime), milliseconds. Unlike mtime nobody can set it back (rsync gives a file the source's
   * mtime before renaming it into place): what tells a file written after a given moment (engine/tree/job-leftovers.ts).
   */
  readonly ctimeMs: number;
  /** Device and inode: together they say which names are hard links of one file. */
  readonly device: number;
  readonly inode: number;
  /** The link text, for symlinks. */
  readonly linkTarget?: string;
  /** Bytes the file system allocated (st_blocks * 512): far below sizeBytes for a sparse file. */
  readonly allocatedBytes?: number;
}

// type, size, uid, gid, mode, nlink, mtime, ctime, device, inode, link text, 512-byte blocks, path — each
// NUL-terminated.
const fieldsPerEntry = 13;
export const findPrintfFormat = '%y\\0%s\\0%U\\0%G\\0%m\\0%n\\0%T@\\0%C@\\0%D\\0%i\\0%l\\0%b\\0%P\\0';

export interface FindOptions {
  readonly maxDepth?: number;
  /** Only directories and symlinks (a layout scan: no per-message lines). */
  readonly dirsAndLinksOnly?: boolean;
  /** Only entries with exactly one of these names (find -name, with wildcards escaped). */
  readonly names?: readonly string[];
  /**
   * Directories (relative to the root) not to walk into: listed themselves (as the other options say), nothing below
   * them. Honoured here and by GNU find over ssh (-path … -prune).
   */
  readonly prune?: readonly string[];
}

export function buildFindArgv(root: string, options: FindOptions = {}): string[] {
  // A root starting with '-' would be read by find as an expression; we only ever list absolute paths.
  if (!root.startsWith('/')) throw new Error(`find root must be absolute: ${root}`);
  const argv = ['find', root, '-mindepth', '1'];
  if (options.maxDepth !== undefined) argv.push('-maxdepth', String(options.maxDepth));
  const filters: string[] = [];
  if (options.dirsAndLinksOnly) filters.push('(', '-type', 'd', '-o', '-type', 'l', ')');
  if (options.names && options.names.length > 0) {
    filters.push('(');
    options.names.forEach((name, i) => {
      if (i > 0) filters.push('-o');
      filters.push('-name', escapeFindPattern(name));
    });
    filters.push(')');
  }
  if (options.prune && options.prune.length > 0) {
    // A pruned directory is printed when the filters take it, and not walked into: `PRUNED -prune FILTERS -printf`,
    // or else everything else as usual. -path matches the whole path as find prints it (the root as given).
    const base = root.length > 1 ? root.replace(/\/+$/, '') : '';
    argv.push('(');
    options.prune.forEach((dir, i) => {
      if (i > 0) argv.push('-o');
      argv.push('-path', escapeFindPattern(`${base}/${dir}`));
    });
    argv.push(')', '-prune', ...filters, '-printf', findPrintfFormat, '-o');
  }
  argv.push(...filters, '-printf', findPrintfFormat);
  return argv;
}

/** A name or path find takes literally: its wildcard characters escaped. */
function escapeFindPattern(text: string): string {
  return text.replace(/[*?[\\\]]/g, (c) => `\\${c}`);
}

/** A streaming parser for find's NUL-separated records. */
export function createFindParser(onEntry: (entry: TreeEntry) => void): { push(chunk: Buffer): void; end(): void } {
  let carry: Buffer = Buffer.alloc(0);
  let fields: Buffer[] = [];
  const emit = () => {
    const [y, s, u, g, m, n, t, c, d, i, l, b, p] = fields.map((f) => f.toString('utf8'));
    fields = [];
    if (p === undefined || p === '') return;
    const type: TreeEntryType = y === 'f' ? 'file' : y === 'd' ? 'dir' : y === 'l' ? 'symlink' : 'other';
    onEntry({
      type,
      path: p,
      sizeBytes: Number(s),
      uid: Number(u),
      gid: Number(g),
      mode: parseInt(m ?? '0', 8),
      nlink: Number(n),
      mtimeMs: Math.round(Number(t) * 1000),
      ctimeMs: Math.round(Number(c) * 1000),
      device: Number(d),
      inode: Number(i),
      ...(type === 'symlink' ? { linkTarget: l ?? '' } : {}),
      ...(type === 'file' ? { allocatedBytes: Number(b) * 512 } : {}),
    });
  };
  return {
    push(chunk) {
      let data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      let start = 0;
      for (;;) {
        const nul = data.indexOf(0, start);
        if (nul < 0) break;
        fields.push(data.subarray(start, nul));
        start = nul + 1;
        if (fields.length === fieldsPerEntry) emit();
      }
      // Keep copies of the fields of a half-received record: `data` is reused by the next chunk.
      fields = fields.map((f) => Buffer.from(f));
      carry = Buffer.from(data.subarray(start));
      data = Buffer.alloc(0);
    },
    end() {
      carry = Buffer.alloc(0);
      fields = [];
    },
  };
}

export interface ListTreeResult {
  /** False when the root does not exist (nothing was listed). */
  readonly exists: boolean;
  /** find's complaints about unreadable parts of the tree (bounded). */
  readonly errors: string;
}

export class ListTreeError extends Error {}

export async function listTree(
  target: ExecTarget,
  root: string,
  onEntry: (entry: TreeEntry) => void,
  options: FindOptions & { signal?: AbortSignal } = {},
): Promise<ListTreeResult> {
  // Here: the same listing inside this process (walk-local.ts says why); over ssh: GNU find, nothing to install.
  if (!target.ssh) return listLocalTree(root, onEntry, options);
  return listTreeWithFind(target, root, onEntry, options);
}

/** GNU find's listing, here or over ssh: what listTree runs over ssh, and what the local walk is tested against. */
export async function listTreeWithFind(
  target: ExecTarget,
  root: string,
  onEntry: (entry: TreeEntry) => void,
  options: FindOptions & { signal?: AbortSignal } = {},
): Promise<ListTreeResult> {
  const parser = createFindParser(onEntry);
  const result = await runExec(target, buildFindArgv(root, options), {
    onStdout: (chunk) => parser.push(chunk),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  parser.end();
  if (result.exitCode === 0) return { exists: true, errors: '' };
  if (target.ssh && result.exitCode === 255) throw sshFailure(target.ssh.host, result.stderr);
  const missingRoot = result.stderr.includes(`'${root}': No such file or directory`) || result.stderr.includes(`${root}: No such file or directory`);
  if (missingRoot) return { exists: false, errors: '' };
  if (result.exitCode === 127) throw new ListTreeError('find is not installed on the remote host');
  return { exists: true, errors: result.stderr.trim() };
}

/** ssh itself failed (exit 255): a configuration problem (key, host key) or a network one worth retrying later. */
export function sshFailure(host: string, stderr: string): MailshiftError {
  const { isRetryable, line } = classifySshFailure(stderr);
  return new MailshiftError('MAILSHIFT_SSH_FAILED', `ssh to ${host} failed: ${line}`, {
    retry: isRetryable ? 'later' : 'no',
    hint: isRetryable ? 'the connection failed; check the host and port, then run again' : decideSshHint(line),
    exitCode: isRetryable ? ExitCode.tempFail : ExitCode.config,
  });
}
