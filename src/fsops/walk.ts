import fs, { constants as fsConstants, type Dirent, type Stats } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import { systemErrorCode } from '../core/errors.js';
import { Limiter } from '../core/async.js';

/**
 * Reading a server tree that may contain hostile data (a cPanel user controls everything under their home): a
 * TreeReader lists directories, stats, reads links and small files, and never follows a symlink a user could have
 * planted, and never opens anything outside ROOT.
 *
 * Two kinds of paths:
 * - system paths (ROOT/etc, ROOT/var/cpanel/users, ROOT/home, an account's home directory itself) are owned by root
 *   on a real server; a link there (/home -> /data/home) is an admin's choice. `resolveSystemPath` follows such
 *   links the way the server would (absolute targets are taken relative to ROOT, like a chroot) and refuses any that
 *   leave ROOT.
 * - everything below a trusted directory (an account's home): no component may be a symlink. Files are opened with
 *   O_NOFOLLOW | O_NONBLOCK and fstat'ed, so a link or a FIFO planted as the last component is refused without
 *   blocking. Links are reported (with their target text, read by readlink, which opens nothing) and never followed.
 *
 * Limit: the check of the intermediate directories and the open are two steps (Node has no openat2/RESOLVE_BENEATH);
 * a user racing discover could swap a directory for a link in between. discover only reads small control files
 * this way and never writes.
 *
 * Speed. Directory reads, lstats, readlinks and small-file reads are synchronous calls, with a yield to the event
 * loop every few hundred calls (so Ctrl-C and progress still work). Measured on tmpfs, warm:
 *   200,000 message files in 40,600 directories, bare walkers:           du -s 0.59 s
 *     fs.readdirSync(withFileTypes)                       0.42 s
 *     fs.promises.readdir(withFileTypes), 16 in flight    0.52 s
 *     fs.opendirSync + readSync per entry                 0.89 s
 *     fs.promises.opendir + for await per entry           7.68 s   (one promise per entry)
 *     fast-glob stream '**'                               2.15 s   (pattern matching and path building per entry)
 *   the same with all of discover's work (200 accounts, 2,000 mailboxes, 215,000 files):  du -s 0.8 s
 *     synchronous calls                                   1.8 s
 *     promise calls through libuv's thread pool           2.7 s
 * An async call costs a thread-pool round trip (futex wake-ups, an eventfd write, an epoll return), which on a
 * cached tree is more than the getdents or statx it wraps; du is synchronous too. readdir gives each entry's type
 * from getdents (d_type), so a maildir folder costs one listing and no stat per message; sizes come from the ",S="
 * part of the names. fast-glob is used where patterns save code and the directories are few (finding the homes
 * that hold etc/DOMAIN/passwd: `globFiles`), never on the message hot path. */

export type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

export interface TreeEntry {
  readonly name: string;
  readonly kind: EntryKind;
}

/** Why something could not be looked at. 'unreadable' = the kernel said EACCES/EPERM. */
export type RefusalReason = 'missing' | 'unreadable' | 'symlink' | 'not-a-directory' | 'not-a-file' | 'outside-root' | 'too-many-links' | 'error';

export interface Refusal {
  readonly ok: false;
  readonly reason: RefusalReason;
  /** Root-relative path of the component that caused the refusal (a link, a missing directory). */
  readonly at: string;
  readonly errno?: string;
  /** For 'symlink': the link's target text. */
  readonly target?: string;
}

export type ListResult = { readonly ok: true; readonly entries: TreeEntry[] } | Refusal;

export interface FileText {
  readonly ok: true;
  readonly text: string;
  readonly sizeBytes: number;
  readonly mode: number;
  readonly mtimeMs: number;
  /** True when the file was longer than maxBytes and only its start was read. */
  readonly truncated: boolean;
}

export type StatResult = { readonly ok: true; readonly stats: Stats; readonly kind: EntryKind } | Refusal;

function kindOfDirent(dirent: Dirent): EntryKind {
  if (dirent.isFile()) return 'file';
  if (dirent.isDirectory()) return 'dir';
  if (dirent.isSymbolicLink()) return 'symlink';
  return 'other';
}

export function kindOfStats(stats: Stats): EntryKind {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

function refusalFromError(err: unknown, at: string): Refusal {
  const errno = systemErrorCode(err);
  const reason: RefusalReason =
    errno === 'ENOENT'
      ? 'missing'
      : errno === 'EACCES' || errno === 'EPERM'
        ? 'unreadable'
        : errno === 'ENOTDIR'
          ? 'not-a-directory'
          : errno === 'ELOOP'
            ? 'symlink'
            : 'error';
  return { ok: false, reason, at, ...(errno ? { errno } : {}) };
}

/** Root-relative paths use '/' and never start with '/'; '' is ROOT itself. */
export function joinRel(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/**
 * Where a symlink points, read as the server would: absolute targets relative to ROOT, relative ones from the
 * link's directory. Returns the root-relative target, or undefined when it leaves ROOT. Pure; touches nothing.
 *
 * Over 400 lines because the two kinds of paths and the one descriptor discipline (O_NOFOLLOW, fstat, never a
 * second lookup) belong together: a split would put the rule that keeps a walk inside ROOT in two places.
 */
export function resolveLinkTarget(linkRel: string, target: string): string | undefined {
  let joined: string;
  if (target.startsWith('/')) {
    // On the server '/..' is '/', so an absolute target can never climb out; normalize handles it.
    joined = target;
  } else {
    const dir = path.posix.dirname(linkRel);
    joined = dir === '.' ? target : `${dir}/${target}`;
    // A relative target that climbs above ROOT leaves the tree we were given.
    if (countClimbAboveRoot(joined)) return undefined;
  }
  const normal = path.posix.normalize(`/${joined}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return normal;
}

function countClimbAboveRoot(rel: string): boolean {
  let depth = 0;
  for (const part of rel.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      depth -= 1;
      if (depth < 0) return true;
    } else depth += 1;
  }
  return false;
}

/** True when `rel` is `base` or below it (both root-relative). */
export function isWithin(rel: string, base: string): boolean {
  return base === '' || rel === base || rel.startsWith(`${base}/`);
}

export interface TreeReaderOptions {
  /** Directory reads and stats in flight at once. */
  concurrency?: number;
}

/**
 * fast-glob's file system adapter, looked up at call time rather than captured when fast-glob loads: the calls then
 * go through node:fs as it is now, which lets a test record every path the walker touches.
 */
const globFs = {
  lstat: ((...args: Parameters<typeof fs.lstat>) => fs.lstat(...args)) as typeof fs.lstat,
  stat: ((...args: Parameters<typeof fs.stat>) => fs.stat(...args)) as typeof fs.stat,
  lstatSync: ((...args: Parameters<typeof fs.lstatSync>) => fs.lstatSync(...args)) as typeof fs.lstatSync,
  statSync: ((...args: Parameters<typeof fs.statSync>) => fs.statSync(...args)) as typeof fs.statSync,
  readdir: ((...args: Parameters<typeof fs.readdir>) => fs.readdir(...args)) as typeof fs.readdir,
  readdirSync: ((...args: Parameters<typeof fs.readdirSync>) => fs.readdirSync(...args)) as typeof fs.readdirSync,
};

/** Every open: never through a link at the last component, never blocking on a FIFO, never a controlling tty. */
const openFlags = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY;

/** Synchronous calls between two yields to the event loop (signals, timers, progress). */
const callsPerYield = 256;

export class TreeReader {
  /** Absolute, symlink-free path of ROOT (the user named it; following it is their choice). */
  readonly root: string;
  private readonly limiter: Limiter;
  /** Root-relative directories already verified as real directories (no symlink on the way from their base). */
  private readonly verified = new Set<string>();
  private readonly systemCache = new Map<string, Promise<{ ok: true; rel: string } | Refusal>>();
  private callsSinceYield = 0;

  private constructor(root: string, options: TreeReaderOptions) {
    this.root = root;
    this.limiter = new Limiter(options.concurrency ?? 16);
  }

  static async open(root: string, options: TreeReaderOptions = {}): Promise<TreeReader> {
    return new TreeReader(await fsp.realpath(root), options);
  }

  /** Lets the event loop run (Ctrl-C, progress) between batches of synchronous calls. */
  private async maybeYield(): Promise<void> {
    this.callsSinceYield += 1;
    await this.yieldIfDue();
  }

  /** Yields to the event loop when enough synchronous calls were made since the last time. */
  async yieldIfDue(): Promise<void> {
    if (this.callsSinceYield < callsPerYield) return;
    this.callsSinceYield = 0;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  abs(rel: string): string {
    // Root-relative paths are built from directory entry names (never "", "." or "..", never with "/"), so plain
    // concatenation is exact; path.join's normalisation showed up in profiles at a million calls.
    return rel === '' ? this.root : this.root === '/' ? `/${rel}` : `${this.root}/${rel}`;
  }

  /**
   * Follows links in a system path (owned by root on a real server) like a chroot would; refuses targets outside
   * ROOT. Returns the link-free root-relative path. Every component must exist.
   */
  resolveSystemPath(rel: string): Promise<{ ok: true; rel: string } | Refusal> {
    let cached = this.systemCache.get(rel);
    if (!cached) {
      cached = this.resolveUncached(rel);
      this.systemCache.set(rel, cached);
    }
    return cached;
  }

  private async resolveUncached(rel: string): Promise<{ ok: true; rel: string } | Refusal> {
    let pending = rel.split('/').filter((p) => p !== '' && p !== '.');
    let done: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '..') {
        if (done.length === 0) return { ok: false, reason: 'outside-root', at: rel };
        done.pop();
        continue;
      }
      const here = joinRel(...done, part);
      let stats: Stats;
      let target = '';
      try {
        stats = fs.lstatSync(this.abs(here));
        if (stats.isSymbolicLink()) target = fs.readlinkSync(this.abs(here));
      } catch (err) {
        return refusalFromError(err, here);
      }
      if (stats.isSymbolicLink()) {
        hops += 1;
        if (hops > 40) return { ok: false, reason: 'too-many-links', at: here };
        if (target.startsWith('/')) done = [];
        pending = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...pending];
        if (!target.startsWith('/') && countClimbAboveRoot(joinRel(...done, target))) {
          return { ok: false, reason: 'outside-root', at: here, target };
        }
        continue;
      }
      done.push(part);
    }
    return { ok: true, rel: joinRel(...done) };
  }

  /**
   * Checks that every directory from `base` (trusted, link-free) down to `base/sub` is a real directory, never a
   * link. Results are cached, so checking many files of one directory costs one lstat per component.
   */
  async verifyDir(base: string, sub: string): Promise<{ ok: true } | Refusal> {
    let here = base;
    for (const part of sub.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') return { ok: false, reason: 'outside-root', at: joinRel(here, part) };
      here = joinRel(here, part);
      if (this.verified.has(here)) continue;
      const result = await this.lstat(here);
      if (!result.ok) return result;
      if (result.kind === 'symlink') {
        const target = await this.readLink(here);
        return { ok: false, reason: 'symlink', at: here, ...(target !== undefined ? { target } : {}) };
      }
      if (result.kind !== 'dir') return { ok: false, reason: 'not-a-directory', at: here };
      this.verified.add(here);
    }
    return { ok: true };
  }

  /** Marks a directory as verified (the caller saw it as a directory entry, not a link, in a verified parent). */
  trustDir(rel: string): void {
    this.verified.add(rel);
  }

  /**
   * Lists a directory the caller already knows to be a real directory inside a verified parent (it came from a
   * listing). The hot path: one readdir, entry types from d_type, no stat.
   */
  async listKnownDir(rel: string): Promise<ListResult> {
    await this.maybeYield();
    return this.listKnownDirSync(rel);
  }

  /** listKnownDir without the promise: for hot loops that yield themselves (see yieldIfDue). */
  listKnownDirSync(rel: string): ListResult {
    this.callsSinceYield += 1;
    try {
      const dirents = fs.readdirSync(this.abs(rel), { withFileTypes: true });
      const entries: TreeEntry[] = new Array(dirents.length);
      for (let i = 0; i < dirents.length; i++) {
        const d = dirents[i]!;
        entries[i] = { name: d.name, kind: kindOfDirent(d) };
      }
      return { ok: true, entries };
    } catch (err) {
      return refusalFromError(err, rel);
    }
  }

  /** Lists `base/sub` after checking that no component below `base` is a link. */
  async list(base: string, sub = ''): Promise<ListResult> {
    const check = await this.verifyDir(base, sub);
    if (!check.ok) return check;
    return this.listKnownDir(joinRel(base, sub));
  }

  /** lstat of a path whose parent is verified (never follows the last component). */
  async lstat(rel: string): Promise<StatResult> {
    await this.maybeYield();
    return this.lstatSync(rel);
  }

  /** lstat without the promise, for hot loops (a message file without ",S="). */
  lstatSync(rel: string): StatResult {
    this.callsSinceYield += 1;
    try {
      const stats = fs.lstatSync(this.abs(rel));
      return { ok: true, stats, kind: kindOfStats(stats) };
    } catch (err) {
      return refusalFromError(err, rel);
    }
  }

  /** The target text of a link (readlink opens nothing), or undefined if it cannot be read. */
  async readLink(rel: string): Promise<string | undefined> {
    try {
      return fs.readlinkSync(this.abs(rel));
    } catch {
      return undefined;
    }
  }

  /**
   * Opens `base/sub` for reading, refusing links (O_NOFOLLOW) and anything but a regular file (fstat after an
   * O_NONBLOCK open, so a FIFO neither blocks nor is read). The caller closes the handle.
   */
  async openFile(base: string, sub: string): Promise<{ ok: true; handle: fsp.FileHandle; stats: Stats } | Refusal> {
    const dir = path.posix.dirname(sub);
    const check = await this.verifyDir(base, dir === '.' ? '' : dir);
    if (!check.ok) return check;
    const rel = joinRel(base, sub);
    let handle: fsp.FileHandle;
    try {
      handle = await this.limiter.run(() => fsp.open(this.abs(rel), openFlags));
    } catch (err) {
      const refusal = refusalFromError(err, rel);
      if (refusal.reason === 'symlink') {
        const target = await this.readLink(rel);
        return { ...refusal, ...(target !== undefined ? { target } : {}) };
      }
      return refusal;
    }
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      return { ok: false, reason: 'not-a-file', at: rel };
    }
    return { ok: true, handle, stats };
  }

  /**
   * Reads the start of a small control file (passwd, quota, valiases...): at most maxBytes. Same guards as
   * openFile (O_NOFOLLOW, O_NONBLOCK, regular files only), synchronous for speed.
   */
  async readText(base: string, sub: string, maxBytes = 4 * 1024 * 1024): Promise<FileText | Refusal> {
    const dir = path.posix.dirname(sub);
    const check = await this.verifyDir(base, dir === '.' ? '' : dir);
    if (!check.ok) return check;
    const rel = joinRel(base, sub);
    await this.maybeYield();
    let fd: number;
    try {
      fd = fs.openSync(this.abs(rel), openFlags);
    } catch (err) {
      const refusal = refusalFromError(err, rel);
      if (refusal.reason === 'symlink') {
        const target = await this.readLink(rel);
        return { ...refusal, ...(target !== undefined ? { target } : {}) };
      }
      return refusal;
    }
    try {
      const stats = fs.fstatSync(fd);
      if (!stats.isFile()) return { ok: false, reason: 'not-a-file', at: rel };
      const length = Math.min(stats.size, maxBytes);
      const buffer = Buffer.alloc(length);
      let offset = 0;
      while (offset < length) {
        const bytesRead = fs.readSync(fd, buffer, offset, length - offset, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
      }
      return {
        ok: true,
        text: buffer.subarray(0, offset).toString('utf8'),
        sizeBytes: stats.size,
        mode: stats.mode,
        mtimeMs: stats.mtimeMs,
        truncated: stats.size > maxBytes,
      };
    } catch (err) {
      return refusalFromError(err, rel);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Files and links matching glob patterns under the verified directory `base` (patterns are relative to it and
   * must not contain user data: build them from constants). Links are returned as links and never descended into.
   * Paths are root-relative.
   */
  async globFiles(base: string, patterns: string[]): Promise<TreeEntry[]> {
    // fast-glob starts each pattern at its static prefix ("etc" in "etc/*/passwd") with a plain readdir, which
    // would follow a link there; so those prefixes are verified here, and only the dynamic part is left to it.
    const usable: string[] = [];
    for (const pattern of patterns) {
      const parts = pattern.split('/');
      const firstDynamic = parts.findIndex((part) => fg.isDynamicPattern(part));
      if (firstDynamic < 0) throw new Error(`globFiles needs a dynamic pattern, got "${pattern}"`);
      const check = await this.verifyDir(base, parts.slice(0, firstDynamic).join('/'));
      if (check.ok) usable.push(pattern);
    }
    if (usable.length === 0) return [];
    const found = await fg(usable, {
      cwd: this.abs(base),
      dot: true,
      onlyFiles: false,
      followSymbolicLinks: false,
      objectMode: true,
      suppressErrors: true,
      unique: true,
      fs: globFs,
    });
    return found
      .map((entry) => ({ name: joinRel(base, entry.path), kind: entry.dirent ? kindOfDirent(entry.dirent as Dirent) : ('other' as EntryKind) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
