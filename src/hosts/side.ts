import type { SshEndpoint } from '../transport/ssh.js';
import type { ExecOptions, ExecResult, ExecTarget } from './exec.js';
import type { FindOptions, ListTreeResult, TreeEntry } from './find.js';

/**
 * One side of a transfer as a place that holds files: this machine, or a host reached over ssh. Every operation
 * the tree engine, chown and the cPanel resolution need on "the far host" goes through this interface, so the
 * local-versus-ssh fork is written once (local.ts, ssh.ts) instead of in every caller. Knows no mail.
 *
 * Contract, for both implementations:
 * - Paths are absolute, '/'-separated. No operation follows a symlink except `readSmall` (system tables such as
 *   etc/passwd may be links) and `mkdirs` (like `mkdir -p`).
 * - Nothing here deletes a file the caller did not name; `renameNoClobber` never replaces one.
 * - A failed ssh connection (exit 255) is a MailshiftError MAILSHIFT_SSH_FAILED (find.ts sshFailure).
 */
export interface FileSide {
  /** The ssh host, for rsync endpoints; absent on this machine. */
  readonly ssh?: SshEndpoint;
  /** Where commands run, for code that still calls runExec or listTree itself. */
  readonly exec: ExecTarget;
  /** `PATH` here, `ssh://user@host:port/PATH` over ssh: how messages name a path on this side. */
  describe(absPath: string): string;
  /** Runs a program on this side (argv words never reach a shell unquoted). */
  run(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Streams a listing of the tree under `root` (find -P: links are listed, never followed). */
  list(root: string, onEntry: (entry: TreeEntry) => void, options?: FindOptions & { signal?: AbortSignal }): Promise<ListTreeResult>;
  /** A whole small text file (a system table, a control file); undefined when it does not exist. */
  readSmall(absPath: string): Promise<string | undefined>;
  /**
   * Small regular files as text, by absolute path, in one round trip: never through a link, at most 1 MiB each.
   * A missing file, a link, a directory or a larger file is absent from the result. Unlike `readSmall`, for files
   * inside a tree other users may write to (a link there must not make us read a file outside it): every path is
   * inside `within`, and one whose way down from there passes a link or a non-directory is absent too
   * (inside-tree.ts says why).
   */
  readSmallFiles(absPaths: readonly string[], options: { signal?: AbortSignal; within: string }): Promise<Map<string, string>>;
  /**
   * Replaces (or creates) a small file so that no reader ever sees half of it: written to a temporary name beside
   * it, given its mode (and owner), then renamed over the final name. The file is inside `within`; when a name on the
   * way down from there is a link or not a directory, nothing is written (MAILSHIFT_TARGET_NOT_DIR).
   */
  writeAtomic(absPath: string, text: string, options: { mode?: number; owner?: { uid: number; gid: number }; within: string }): Promise<void>;
  /** Creates directories with their parents (`mkdir -p`); an existing directory is success. Errors say what and where. */
  mkdirs(absDirs: readonly string[]): Promise<void>;
  /**
   * Creates directories one level each, in the order given (parents first; no `-p`), never through a link: an
   * existing directory is success, anything else at a name is MAILSHIFT_TARGET_NOT_DIR. A created directory gets
   * `mode` and `owner` (over ssh, `owner` is given to every named directory). `errorRoot` is the path that write
   * errors name (the tree the caller writes into; default the first directory).
   */
  makeDirsNoFollow(absDirs: readonly string[], options: MakeDirsOptions): Promise<void>;
  /**
   * Creates a file only if nothing is at its name (O_EXCL; never through a link), holding `content` (empty by
   * default), written while it is created, never by its name afterwards: true when created, false when the name was
   * taken. For lock files whose existence is the lock, and whose text says who holds it.
   */
  createExclusive(absPath: string, mode?: number, content?: string): Promise<boolean>;
  /**
   * Renames each pair unless its new name is taken (then both stay as they are); a vanished `from` is skipped.
   * Returns the pairs that were renamed.
   */
  renameNoClobber<T extends RenamePair>(pairs: readonly T[], signal?: AbortSignal): Promise<T[]>;
  /** Owner and permission bits of a path itself (lstat); undefined when it does not exist. */
  owner(absPath: string): Promise<PathOwner | undefined>;
  /** Removes the named files (`rm -f`): a missing one is fine. */
  removeFiles(absPaths: readonly string[]): Promise<void>;
  /** Removes a directory and everything under it (`rm -rf`), never following a link out of it. */
  removeTree(absDir: string): Promise<void>;
}

export interface MakeDirsOptions {
  /** Permission bits of a created directory. */
  readonly mode: number;
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** The path write errors name (default: the first directory). */
  readonly errorRoot?: string;
}

/** The most `readSmallFiles` reads of one file: the files it is for are a few KiB. */
export const SMALL_FILE_MAX_BYTES = 1024 * 1024;

export interface RenamePair {
  readonly from: string;
  readonly to: string;
}

export interface PathOwner {
  readonly uid: number;
  readonly gid: number;
  /** Permission bits incl. setuid/setgid/sticky. */
  readonly mode: number;
}

/** Where a side's files are: structurally the `Location` of a parsed store spec (stores/spec.ts). */
export type HostLocation =
  | { readonly type: 'local' }
  | { readonly type: 'ssh'; readonly host: string; readonly user?: string; readonly port?: number };

/** The ssh endpoint of a location: the one place a location's host, user and port become an endpoint. */
export function sshEndpointOf(location: HostLocation): SshEndpoint | undefined {
  if (location.type !== 'ssh') return undefined;
  return { host: location.host, ...(location.user ? { user: location.user } : {}), ...(location.port ? { port: location.port } : {}) };
}

/** `PATH`, or `ssh://[user@]host[:port]PATH` for a path on an ssh host. */
export function describeOnHost(ssh: SshEndpoint | undefined, absPath: string): string {
  if (!ssh) return absPath;
  const { user, host, port } = ssh;
  return `ssh://${user ? `${user}@` : ''}${host}${port ? `:${port}` : ''}${absPath}`;
}

export function requireAbsolute(absPath: string): string {
  // A relative path would be taken relative to a remote login directory, and one starting with '-' as an option.
  if (!absPath.startsWith('/')) throw new Error(`path must be absolute: ${absPath}`);
  return absPath;
}

export function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
