import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError, systemErrorCode } from '../core/errors.js';
import { targetWriteError } from '../fsops/target-dir.js';

/**
 * Files named by a path inside a tree that other users may write to (a cPanel home's etc/DOMAIN/passwd, a maildir's
 * dovecot-keywords): the directories on the way down from the tree's root are theirs to replace. A program that
 * opens `root/etc/example.com/shadow` lets the kernel resolve every directory on the way, so a link planted at
 * etc/example.com -> /etc makes it read the server's /etc/shadow, or write the system's /etc/passwd. O_NOFOLLOW
 * covers the last name only. So such a path is walked from the root, one directory at a time, and a name on the way
 * that is not a real directory ends the walk: the file is "not there" for a reader and refused for a writer.
 *
 * Here that walk is lstat per level (resolveInsideTree). Over ssh it is GNU find started at the root and pruned to
 * the directories on the way (buildWalkToArgv): find never descends into a link (-P below the start point), so it
 * reaches only files whose every parent is a real directory. The root itself is the caller's (an account's home
 * from passwd, a path the admin gave) and may be a link, as /home often is.
 */

/** `absPath` relative to `root`, '/'-separated; a path outside the root is a bug of the caller, not data. */
export function relativeInside(root: string, absPath: string): string {
  const rel = path.posix.relative(root, absPath);
  if (rel === '' || rel === '..' || rel.startsWith('../') || path.posix.isAbsolute(rel)) throw new Error(`${absPath} is not inside ${root}`);
  return rel;
}

/**
 * Where the walk to `rel` starts: the longest of `trusted` (directories relative to the root that the caller vouches
 * for, such as an account's home from passwd, which may be a link) that holds it, or the root itself ('').
 */
export function decideWalkStart(rel: string, trusted: readonly string[] = []): string {
  let best = '';
  for (const prefix of trusted) if (prefix !== '' && rel.startsWith(`${prefix}/`) && prefix.length > best.length) best = prefix;
  return best;
}

/** The directories on the way to each path below its start (relative to the root, parents first, once each). */
export function listDirectoriesOnTheWay(relPaths: readonly string[], trusted: readonly string[] = []): string[] {
  const dirs = new Set<string>();
  for (const rel of relPaths) {
    const start = decideWalkStart(rel, trusted);
    const parts = rel.split('/');
    const first = start === '' ? 1 : start.split('/').length + 1;
    for (let i = first; i < parts.length; i += 1) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs];
}

/** find's -path pattern matching exactly this path: its wildcard characters escaped. */
function exactPathPattern(absPath: string): string {
  return absPath.replace(/[*?[\\\]]/g, (c) => `\\${c}`);
}

/**
 * GNU find argv that walks from `root` (or, for a path under one of `trusted`, from there) down the directories on
 * the way to `relPaths` only (everything else pruned), never into a link, and runs `onFile` (find expression words:
 * tests and actions, printing %p, the full path) for each of the paths it reaches. With `printDirectories`, each
 * directory on the way that exists is printed as `TYPE NUL PATH NUL` (%y, %p), so the caller can tell "missing" from
 * "a link on the way".
 */
export function buildWalkToArgv(
  root: string,
  relPaths: readonly string[],
  onFile: readonly string[],
  options: { printDirectories?: boolean; trusted?: readonly string[] } = {},
): string[] {
  if (!root.startsWith('/')) throw new Error(`find root must be absolute: ${root}`);
  const top = root === '/' ? '/' : root.replace(/\/+$/, '');
  const abs = (rel: string) => (rel === '' ? top : path.posix.join(top, rel));
  const either = (paths: string[]) => ['(', ...paths.flatMap((p, i) => (i === 0 ? ['-path', exactPathPattern(p)] : ['-o', '-path', exactPathPattern(p)])), ')'];
  const starts = [...new Set(relPaths.map((rel) => abs(decideWalkStart(rel, options.trusted))))];
  const dirs = [...starts, ...listDirectoriesOnTheWay(relPaths, options.trusted).map(abs)];
  // -H: a start may be a link (the caller's own); below it find's default -P never follows one.
  return [
    'find', '-H', ...starts,
    ...either(dirs), ...(options.printDirectories ? ['-printf', '%y\\0%p\\0'] : []),
    '-o', ...either(relPaths.map(abs)), ...onFile, '-prune',
    '-o', '-prune',
  ];
}

/**
 * The same walk for a remote shell script (POSIX sh), to prepend to it: `reach ROOT REL` goes to ROOT/REL with
 * `cd -P` and succeeds only if the shell then stands at exactly that physical path (`pwd -P`), so no name below ROOT
 * was a link (a link never appears in a physical path) and every one was a directory; ROOT itself may be a link.
 * Afterwards `p` holds where the shell stands. `here` sets p to the physical working directory, keeping a trailing
 * newline of a name (command substitution strips them; the `.` guards it). Writes and renames that follow are by
 * names without a slash, in the directory the shell stands in, whatever happens to its path meanwhile.
 */
export const shellReachFunctions = [
  'here() { p=$(pwd -P; echo .); p=${p%?.}; }',
  'reach() { cd -P -- "${1:-/}" && here && w=${p%/}${2:+/$2} && cd -P -- "$w" && here && [ "$p" = "$w" ]; }',
].join('\n');

/** What a walk from the root found at one path. */
export type PathOnTheWay = 'file' | 'missing' | 'not-a-regular-file' | 'behind-a-link';

/**
 * Reads the `TYPE NUL PATH NUL` records of a walk (buildWalkToArgv with printDirectories and a `%y\0%p\0` onFile,
 * the same `root` and `trusted`) into what each asked path is: a regular file; missing (a directory on the way is
 * missing, or the file is); behind a link (a name on the way below its start is a link or not a directory: never to
 * be opened by its path); or something else.
 */
export function decidePathsOnTheWay(root: string, relPaths: readonly string[], records: string, trusted: readonly string[] = []): Map<string, PathOnTheWay> {
  const top = root === '/' ? '/' : root.replace(/\/+$/, '');
  const fields = records.split('\u0000');
  const types = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) types.set(path.posix.relative(top, fields[i + 1]!), fields[i]!);
  const out = new Map<string, PathOnTheWay>();
  for (const rel of relPaths) {
    const parts = rel.split('/');
    const start = decideWalkStart(rel, trusted);
    let verdict: PathOnTheWay | undefined;
    for (let i = start === '' ? 1 : start.split('/').length + 1; i < parts.length && !verdict; i += 1) {
      const type = types.get(parts.slice(0, i).join('/'));
      if (type === undefined) verdict = 'missing';
      else if (type !== 'd') verdict = 'behind-a-link';
    }
    if (!verdict) {
      const type = types.get(rel);
      verdict = type === undefined ? 'missing' : type === 'f' ? 'file' : 'not-a-regular-file';
    }
    out.set(rel, verdict);
  }
  return out;
}

/**
 * `root/rel` when every directory from root (or from the `trusted` directory that holds it) down to the file's parent
 * is a real directory (not a symlink; made when missing and asked to); undefined otherwise. `rel` is one of our own relative names: '..' or an absolute path is a
 * bug, not data.
 */
export async function resolveInsideTree(root: string, rel: string, options: { makeMissing?: boolean; trusted?: readonly string[] } = {}): Promise<string | undefined> {
  const walked = await walkInsideTree(root, rel, options);
  return 'path' in walked ? walked.path : undefined;
}

/** resolveInsideTree, saying why a path was not reached: a directory on the way is missing, or is not a real one. */
export async function walkInsideTree(
  root: string,
  rel: string,
  options: { makeMissing?: boolean; trusted?: readonly string[] } = {},
): Promise<{ readonly path: string } | { readonly stoppedBy: 'missing' | 'behind-a-link' }> {
  const parts = rel.split('/').filter((part) => part !== '' && part !== '.');
  if (path.isAbsolute(rel) || parts.includes('..') || parts.length === 0) throw new Error(`not a relative path inside the tree: ${rel}`);
  const start = decideWalkStart(parts.join('/'), options.trusted);
  let current = path.join(root, start);
  for (const part of parts.slice(start === '' ? 0 : start.split('/').length, -1)) {
    current = path.join(current, part);
    if (options.makeMissing) await mkdir(current).catch((err: unknown) => {
      // EEXIST is the usual case; the lstat below says whether what exists is a directory.
      if (systemErrorCode(err) !== 'EEXIST') throw targetWriteError(current, err);
    });
    try {
      if (!(await lstat(current)).isDirectory()) return { stoppedBy: 'behind-a-link' };
    } catch (err) {
      if (isGone(err)) return { stoppedBy: 'missing' };
      throw err;
    }
  }
  return { path: path.join(current, parts.at(-1)!) };
}

/** A name that is not there (any more), or a file where a directory was expected. */
export function isGone(err: unknown): boolean {
  const code = systemErrorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A write refused because a name on the way to `where` is a link or not a directory. */
export function linkOnTheWayError(where: string, rel: string): MailshiftError {
  return new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `a directory on the way to ${where} is not a real directory (a symlink is never written through); ${rel} was not written`, {
    hint: 'check the target tree: make that path a directory, then run again',
    scope: 'mailbox',
  });
}
