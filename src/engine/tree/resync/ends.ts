import os from 'node:os';
import path from 'node:path';
import { MailshiftError } from '../../../core/errors.js';
import { isProcessAlive } from '../../../core/process-alive.js';
import { ExitCode } from '../../../core/exit-codes.js';
import { mailRootOf } from '../../../cpanel/layout.js';
import { resolveCpanelHome, resolveCpanelMailbox } from '../../../cpanel/resolve.js';
import { openFileSide } from '../../../hosts/open.js';
import type { FileSide } from '../../../hosts/side.js';
import type { CpanelSpec, MaildirSpec, PathSpec } from '../../../stores/spec.js';
import type { RsyncEndpoint } from '../../../transport/rsync/args.js';
import type { SshOptions } from '../../../transport/ssh.js';

/**
 * The two ends of a resync: where a spec's tree is (a cPanel account or mailbox resolved to its directory through
 * cpanel/resolve.ts), and the file operations resync does on an end outside rsync transfers and listings, in
 * resync's terms (paths relative to the tree root, the target root's owner and mode): read control files, write one
 * atomically, create folders, rename without replacing, read the owner, remove our staging directory. Each is the
 * end's FileSide (src/hosts/) doing the work, here or over ssh.
 */

export interface ResyncSide {
  readonly root: string;
  /** This machine or the ssh host the tree is on; its `ssh` is the rsync endpoint's. */
  readonly host: FileSide;
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
}

/** The file-tree specs resync accepts (IMAP and mbox are refused before this). */
export type FileTreeSpec = PathSpec | MaildirSpec | CpanelSpec;

// ---------------------------------------------------------------------------------------------------------------
// Where an end is

export function rsyncEndpointOf(side: ResyncSide, p: string): RsyncEndpoint {
  return side.host.ssh ? { path: p, ssh: side.host.ssh } : { path: p };
}

/**
 * The tree a spec names: a maildir path as it is; a whole cPanel account its ~/mail; one cPanel mailbox its
 * ~/mail/DOMAIN/LOCAL.
 */
export async function resolveResyncSide(spec: FileTreeSpec, which: 'source' | 'target', options: Pick<SideOptions, 'ssh'>): Promise<ResyncSide> {
  const host = openFileSide(spec.location, options.ssh);
  if (spec.kind !== 'cpanel') return { root: spec.path, host };
  if (spec.mailbox) {
    const mailbox = await resolveCpanelMailbox(host, spec.root, spec.mailbox, which);
    return { root: mailbox.path, host };
  }
  return { root: mailRootOf((await resolveCpanelHome(host, spec.root, spec.user)).home), host };
}

// ---------------------------------------------------------------------------------------------------------------
// Control files (dovecot-keywords, subscriptions)

/**
 * Small regular files of a side (paths relative to its root) as text, by relative path. Links, missing files and
 * files over 1 MiB are absent from the result.
 */
export async function readSmallFiles(side: ResyncSide, relPaths: readonly string[], options: SideOptions): Promise<Map<string, string>> {
  const byAbs = await side.host.readSmallFiles(relPaths.map((rel) => path.posix.join(side.root, rel)), { within: side.root, ...(options.signal ? { signal: options.signal } : {}) });
  const out = new Map<string, string>();
  for (const rel of relPaths) {
    const text = byAbs.get(path.posix.join(side.root, rel));
    if (text !== undefined) out.set(rel, text);
  }
  return out;
}

/**
 * Replaces one small file so a reader (Dovecot) never sees half of it: a temporary file beside it, created
 * exclusively, given mode 0600 and the target root's owner (when we may set owners), renamed over it. Returns false
 * when it could not be written on a remote end (the caller warns and moves on); a local failure throws.
 */
export async function writeSmallFile(side: ResyncSide, rel: string, text: string, owner: Owner): Promise<boolean> {
  try {
    await side.host.writeAtomic(path.posix.join(side.root, rel), text, { mode: 0o600, within: side.root, ...(owner.canChown ? { owner: { uid: owner.uid, gid: owner.gid } } : {}) });
    return true;
  } catch (err) {
    if (err instanceof MailshiftError && (err.code === 'MAILSHIFT_REMOTE_WRITE' || err.code === 'MAILSHIFT_SSH_FAILED')) return false;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The target tree

export async function readOwner(side: ResyncSide): Promise<Owner> {
  const found = await side.host.owner(side.root);
  if (!found) {
    throw new MailshiftError('MAILSHIFT_RESYNC_NO_TARGET', `cannot read the owner of ${side.host.describe(side.root)}: it does not exist`, { exitCode: ExitCode.config });
  }
  // Owners can be set by root only: this process here, the ssh login there.
  const canChown = side.host.ssh ? (side.host.ssh.user ?? os.userInfo().username) === 'root' : process.getuid?.() === 0;
  return { ...found, canChown };
}

/**
 * Creates directories in order (parents first), never through a link. Owner and mode from the target root, so a
 * folder created by us looks like one the target made.
 */
export async function createDirs(side: ResyncSide, relDirs: readonly string[], owner: Owner): Promise<void> {
  await side.host.makeDirsNoFollow(
    relDirs.map((rel) => path.posix.join(side.root, rel)),
    { mode: (owner.mode & 0o777) | 0o700, ...(owner.canChown ? { owner: { uid: owner.uid, gid: owner.gid } } : {}), errorRoot: side.root },
  );
}

/** Renames on a side (paths relative to its root), never replacing a file. Returns the pairs that were done. */
export async function renameNoClobber<T extends { from: string; to: string }>(side: ResyncSide, pairs: readonly T[], options: SideOptions): Promise<T[]> {
  const absolute = pairs.map((pair) => ({ from: path.posix.join(side.root, pair.from), to: path.posix.join(side.root, pair.to), pair }));
  return (await side.host.renameNoClobber(absolute, options.signal)).map((done) => done.pair);
}

/** The staging directory of one resync run in the target root's tmp/: named by the process that made it. */
export function buildStagingDirName(pid: number, startedMs: number): string {
  return `.mailshift-resync-${pid}-${startedMs}`;
}

/** The pid in a staging directory's name; undefined for any other name. Pure. */
export function stagingDirPid(name: string): number | undefined {
  const match = /^\.mailshift-resync-(\d+)-\d+$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/**
 * Removes the staging directories of resync runs that died (killed while their copies waited to be renamed): they
 * hold whole copies of messages, counted in the account's quota, and Dovecot's cleaning of tmp/ removes old files,
 * not directories. A run's process is looked for on this machine, where the run that named it ran. Returns how many.
 */
export async function removeDeadStagingDirs(side: ResyncSide, isAlive: (pid: number) => boolean = isProcessAlive): Promise<number> {
  const tmp = path.posix.join(side.root, 'tmp');
  const dead: string[] = [];
  try {
    await side.host.list(tmp, (entry) => {
      const pid = entry.type === 'dir' && !entry.path.includes('/') ? stagingDirPid(entry.path) : undefined;
      if (pid !== undefined && pid !== process.pid && !isAlive(pid)) dead.push(path.posix.join(tmp, entry.path));
    }, { maxDepth: 1, dirsAndLinksOnly: true });
  } catch {
    return 0; // no tmp/ yet: nothing left there
  }
  for (const dir of dead) await removeOwnDir(side, dir);
  return dead.length;
}

/** Removes a staging directory of ours (its name is ours alone) and everything in it. */
export async function removeOwnDir(side: ResyncSide, absDir: string): Promise<void> {
  await side.host.removeTree(absDir).catch((err: unknown) => {
    // Over ssh a leftover is harmless (in the target's tmp/, which Dovecot cleans) and not worth failing the run for.
    if (!side.host.ssh) throw err;
  });
}
