import { constants as fsConstants } from 'node:fs';
import { chmod, lchown, lstat, mkdir, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InterruptedError, MailshiftError, systemErrorCode } from '../../../core/errors.js';
import { ExitCode } from '../../../core/exit-codes.js';
import type { CpanelSpec, Location, MaildirSpec, PathSpec } from '../../../stores/spec.js';
import { classifyRemoteMkdirFailure, targetWriteError } from '../../../fsops/target-dir.js';
import { runExec, type ExecTarget } from '../../../transport/exec.js';
import { buildRsyncArgv, type RsyncEndpoint } from '../../../transport/rsync/args.js';
import { runRsync } from '../../../transport/rsync/run.js';
import type { SshEndpoint, SshOptions } from '../../../transport/ssh.js';

/**
 * The two ends of a resync: where a spec's tree is (a cPanel account or mailbox resolved to its directory), and every
 * file operation resync does on an end outside rsync transfers and listings: read a few small files, write one
 * atomically, create directories, rename without replacing, read the owner, remove our staging directory. Each is one
 * function with a local and an ssh branch.
 *
 * One module on purpose: cPanel resolution is to come from one home (src/cpanel/resolve.ts) and these operations from
 * one FileSide (src/hosts/: list, readSmall, writeAtomic, mkdirs, renameNoClobber, owner); this is the only place in
 * resync to swap for them. Other steps get an ExecTarget from `execOf` for their own find/stat/grep commands.
 */

export interface ResyncSide {
  readonly root: string;
  readonly ssh?: SshEndpoint;
}

/** Owner and mode of the target root: what every directory and file we create is given. */
export interface Owner {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  /** We may set owners (root here, or root on the remote end). */
  readonly canChown: boolean;
}

/** What the operations on a side need of a run's options (ResyncOptions has them all). */
export interface SideOptions {
  readonly ssh?: SshOptions;
  readonly signal?: AbortSignal;
  readonly retries?: number;
  readonly ioTimeoutS?: number;
}

/** The file-tree specs resync accepts (IMAP and mbox are refused before this). */
export type FileTreeSpec = PathSpec | MaildirSpec | CpanelSpec;

// ---------------------------------------------------------------------------------------------------------------
// Where an end is

export function sshOf(location: Location): SshEndpoint | undefined {
  if (location.type !== 'ssh') return undefined;
  return { host: location.host, ...(location.user ? { user: location.user } : {}), ...(location.port ? { port: location.port } : {}) };
}

/** Where a side's commands run: here, or over ssh with the run's ssh options. */
export function execOf(side: ResyncSide, ssh: SshOptions | undefined): ExecTarget {
  return side.ssh ? { ssh: side.ssh, ...(ssh ? { sshOptions: ssh } : {}) } : {};
}

export function rsyncEndpointOf(side: ResyncSide, p: string): RsyncEndpoint {
  return side.ssh ? { path: p, ssh: side.ssh } : { path: p };
}

/**
 * The tree a spec names: a maildir path as it is; a whole cPanel account its ~/mail; one cPanel mailbox its
 * ~/mail/DOMAIN/LOCAL.
 */
export async function resolveResyncSide(spec: FileTreeSpec, which: 'source' | 'target', options: Pick<SideOptions, 'ssh'>): Promise<ResyncSide> {
  const ssh = sshOf(spec.location);
  const at = (root: string): ResyncSide => (ssh ? { root, ssh } : { root });
  if (spec.kind !== 'cpanel') return at(spec.path);
  const exec = execOf(at(spec.root), options.ssh);
  return at(spec.mailbox ? await findCpanelMailboxDir(exec, spec.root, spec.mailbox, which) : await findCpanelAccountMailDir(exec, spec.root, spec.user));
}

/** ~/mail of a cPanel account under `root`. */
async function findCpanelAccountMailDir(exec: ExecTarget, root: string, user: string): Promise<string> {
  // Loaded for cPanel specs only: start-up time counts at 100,000 messages (a resync is ~1 s).
  const { resolveCpanelHome } = await import('../../run-copy.js');
  return path.posix.join((await resolveCpanelHome(exec, root, user)).home, 'mail');
}

/** ~/mail/DOMAIN/LOCAL of one cPanel mailbox, its account found through etc/userdomains. */
async function findCpanelMailboxDir(exec: ExecTarget, root: string, mailbox: NonNullable<CpanelSpec['mailbox']>, which: 'source' | 'target'): Promise<string> {
  const { findDomainOwner, readSystemFile, resolveCpanelHome } = await import('../../run-copy.js');
  const userdomainsPath = path.posix.join(root, 'etc/userdomains');
  const owner = findDomainOwner((await readSystemFile(exec, userdomainsPath)) ?? '', mailbox.domain);
  if (!owner) {
    throw new MailshiftError('MAILSHIFT_CPANEL_DOMAIN_UNKNOWN', `${which}: no cPanel account owns ${mailbox.domain} in ${userdomainsPath}`, {
      hint: 'check the domain name and the cPanel root',
      exitCode: ExitCode.config,
    });
  }
  return path.posix.join((await resolveCpanelHome(exec, root, owner)).home, 'mail', mailbox.domain, mailbox.localPart);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading small files (control files: dovecot-keywords, subscriptions)

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
 * Small regular files of a side (paths relative to its root) as text, by relative path. Links, missing files and
 * files over 1 MiB are absent from the result.
 */
export async function readSmallFiles(side: ResyncSide, relPaths: readonly string[], options: SideOptions): Promise<Map<string, string>> {
  if (side.ssh) return readRemoteSmallFiles(execOf(side, options.ssh), side.root, relPaths, options.signal);
  const out = new Map<string, string>();
  for (const rel of relPaths) {
    const text = await readSmallRegularFile(path.join(side.root, rel));
    if (text !== undefined) out.set(rel, text);
  }
  return out;
}

/**
 * Over ssh in one round trip, without rsync: `find F... -maxdepth 0 -type f` prints each regular file's path, its
 * bytes (cat) and a NUL. Control files hold no NUL byte; a reply that does not parse is treated as "nothing read"
 * (the caller then has no table).
 */
async function readRemoteSmallFiles(exec: ExecTarget, root: string, relPaths: readonly string[], signal?: AbortSignal): Promise<Map<string, string>> {
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

// ---------------------------------------------------------------------------------------------------------------
// Writing

/**
 * Replaces one small file so a reader (Dovecot) never sees half of it. Locally: a temporary file beside it, created
 * exclusively, then renamed over it. Remotely: written under `stagingDir` here and rsync'ed over (rsync writes a temp
 * file next to the target and renames it into place). Returns false when the transfer failed.
 */
export async function writeSmallFile(side: ResyncSide, rel: string, text: string, owner: Owner, stagingDir: string, options: SideOptions): Promise<boolean> {
  if (side.ssh) return pushSmallFile(side, rel, text, owner, stagingDir, options);
  const abs = path.join(side.root, rel);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.mailshift-${process.pid}`);
  await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
  if (owner.canChown) await lchown(tmp, owner.uid, owner.gid);
  await rename(tmp, abs);
  return true;
}

async function pushSmallFile(side: ResyncSide, rel: string, text: string, owner: Owner, staging: string, options: SideOptions): Promise<boolean> {
  const local = path.join(staging, rel);
  await mkdir(path.dirname(local), { recursive: true });
  await writeFile(local, text, { mode: 0o600 });
  const argv = buildRsyncArgv({
    source: { path: staging },
    target: rsyncEndpointOf(side, side.root),
    ...(options.ssh ? { ssh: options.ssh } : {}),
    filesFromStdin: true,
    noImpliedDirs: true,
    numericIds: true,
    ...(owner.canChown ? { chown: { uid: owner.uid, gid: owner.gid } } : {}),
    ioTimeoutS: options.ioTimeoutS ?? 120,
  });
  const result = await runRsync({ argv, stdin: Buffer.from(`${rel}\u0000`, 'utf8'), retries: options.retries ?? 3, ...(options.signal ? { signal: options.signal } : {}) });
  return result.exit.outcome === 'ok';
}

export async function readOwner(side: ResyncSide, options: SideOptions): Promise<Owner> {
  if (!side.ssh) {
    const stats = await lstat(side.root);
    return { uid: stats.uid, gid: stats.gid, mode: stats.mode & 0o7777, canChown: process.getuid?.() === 0 };
  }
  const result = await runExec(execOf(side, options.ssh), ['stat', '-c', '%u:%g:%a', '--', side.root]);
  const match = /^(\d+):(\d+):([0-7]+)/.exec(result.stdout.toString('utf8'));
  if (result.exitCode !== 0 || !match) {
    throw new MailshiftError('MAILSHIFT_SSH_FAILED', `cannot read the owner of ${side.root} on ${side.ssh.host}: ${result.stderr.trim().split('\n').pop() ?? ''}`, {
      retry: result.exitCode === 255 ? 'later' : 'no',
    });
  }
  const user = side.ssh.user ?? os.userInfo().username;
  return { uid: Number(match[1]), gid: Number(match[2]), mode: parseInt(match[3]!, 8), canChown: user === 'root' };
}

/**
 * Creates directories in order (parents first), never through a link: locally mkdir one level at a time (EEXIST on
 * a link is an error, not a follow); remotely `mkdir` without -p for the same reason. Owner and mode from the target
 * root, so a folder created by us looks like one the target made.
 */
export async function createDirs(side: ResyncSide, relDirs: readonly string[], owner: Owner, options: SideOptions): Promise<void> {
  const mode = (owner.mode & 0o777) | 0o700;
  if (!side.ssh) {
    for (const rel of relDirs) {
      const abs = path.join(side.root, rel);
      try {
        await mkdir(abs, { mode });
        await chmod(abs, mode);
        if (owner.canChown) await lchown(abs, owner.uid, owner.gid);
      } catch (err) {
        if (systemErrorCode(err) !== 'EEXIST') throw targetWriteError(side.root, err);
        const stats = await lstat(abs);
        if (!stats.isDirectory()) throw new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${abs} exists and is not a directory; not written through`, { scope: 'mailbox' });
      }
    }
    return;
  }
  const exec = execOf(side, options.ssh);
  const abs = relDirs.map((rel) => path.posix.join(side.root, rel));
  const made = await runExec(exec, ['mkdir', '-m', mode.toString(8), '--', ...abs]);
  if (made.exitCode === 255) throw new MailshiftError('MAILSHIFT_SSH_FAILED', `ssh to ${side.ssh.host} failed while creating folders`, { retry: 'later' });
  const known = made.exitCode !== 0 ? classifyRemoteMkdirFailure(`${side.root} on ${side.ssh.host}`, made.stderr.replace(/^.*File exists.*$/gm, '')) : undefined;
  if (known) throw known;
  if (made.exitCode !== 0 && !/File exists/.test(made.stderr)) {
    throw new MailshiftError('MAILSHIFT_MKDIR_FAILED', `cannot create folders on ${side.ssh.host}: ${made.stderr.trim().split('\n').pop() ?? ''}`);
  }
  // "File exists" may be a link planted where a folder should be: every path must now be a real directory, or
  // rsync would write through it. find -P does not follow a starting point that is a link.
  const check = await runExec(exec, ['find', ...abs, '-maxdepth', '0', '!', '-type', 'd', '-print0']);
  const notDirs = check.stdout.toString('utf8').split('\u0000').filter(Boolean);
  if (check.exitCode === 255) throw new MailshiftError('MAILSHIFT_SSH_FAILED', `ssh to ${side.ssh.host} failed while creating folders`, { retry: 'later' });
  if (notDirs.length > 0) {
    throw new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${notDirs[0]} on ${side.ssh.host} exists and is not a directory; not written through`, { scope: 'mailbox' });
  }
  if (owner.canChown) await runExec(exec, ['chown', '-h', `${owner.uid}:${owner.gid}`, '--', ...abs]);
}

/**
 * Renames on a side, never replacing a file: locally rename() after checking the new name is free; remotely
 * `mv -n -T -v` (one per pair, through xargs -0, names never seen by a shell). Returns the pairs that were done.
 */
export async function renameNoClobber<T extends { from: string; to: string }>(side: ResyncSide, pairs: readonly T[], options: SideOptions): Promise<T[]> {
  const signal = options.signal;
  if (!side.ssh) {
    const done: T[] = [];
    for (const pair of pairs) {
      if (signal?.aborted) throw new InterruptedError();
      const from = path.join(side.root, pair.from);
      const to = path.join(side.root, pair.to);
      try {
        await lstat(to);
        continue; // the name is taken: leave both as they are
      } catch (err) {
        if (systemErrorCode(err) !== 'ENOENT') throw err;
      }
      try {
        await rename(from, to);
        done.push(pair);
      } catch (err) {
        // The file moved on since we listed it (a client changed its flags): nothing lost, run again.
        if (systemErrorCode(err) !== 'ENOENT') throw err;
      }
    }
    return done;
  }
  const input = Buffer.from(pairs.map((p) => `${path.posix.join(side.root, p.from)}\u0000${path.posix.join(side.root, p.to)}\u0000`).join(''), 'utf8');
  const result = await runExec(execOf(side, options.ssh), ['xargs', '-0', '-n', '2', 'mv', '-n', '-T', '-v', '--'], { input, ...(signal ? { signal } : {}) });
  if (result.exitCode === 255) throw new MailshiftError('MAILSHIFT_SSH_FAILED', `ssh to ${side.ssh.host} failed while renaming`, { retry: 'later' });
  return parseRenamedPairs(result.stdout.toString('utf8'), side.root, pairs);
}

/**
 * The pairs `mv -v` says it renamed: it prints "renamed 'A' -> 'B'" for each rename it did (-n skips silently when B
 * exists). A name mv had to quote differently (it holds a quote or a control character) does not parse; each such
 * line stands for one pair whose new name has such a character. Pure.
 */
export function parseRenamedPairs<T extends { to: string }>(mvOutput: string, root: string, pairs: readonly T[]): T[] {
  const renamedTo = new Set<string>();
  let unparsed = 0;
  for (const line of mvOutput.split('\n')) {
    if (!line.startsWith('renamed ')) continue;
    const match = /^renamed '.*' -> '([^']*)'$/.exec(line);
    if (match) renamedTo.add(match[1]!);
    else unparsed += 1;
  }
  const done: T[] = [];
  for (const pair of pairs) {
    if (renamedTo.has(path.posix.join(root, pair.to))) done.push(pair);
    else if (unparsed > 0 && /['\u0000-\u001f]/.test(pair.to)) {
      unparsed -= 1;
      done.push(pair);
    }
  }
  return done;
}

/** Removes a staging directory of ours (its name is ours alone) and everything in it. */
export async function removeOwnDir(side: ResyncSide, absDir: string, options: SideOptions): Promise<void> {
  if (!side.ssh) await rm(absDir, { recursive: true, force: true });
  else await runExec(execOf(side, options.ssh), ['rm', '-rf', '--', absDir]);
}
