import path from 'node:path';
import { buildSshCommand, formatRsyncHost, formatRsyncRsh, type SshEndpoint, type SshOptions } from '../ssh.js';

/**
 * The rsync argv, built as data and tested as an array (run.ts runs it). Knows nothing about mail: the caller passes
 * filter rules (see filters.ts) and decides what may be overwritten.
 *
 * Rules this builder enforces for every caller:
 * - `-s` (--protect-args / --secluded-args) whenever an end is remote, so the remote shell never sees a path;
 * - `--` before the operands, so a path can never be read as an option;
 * - remote operands have their wildcard characters escaped: the remote rsync expands `*?[` itself, even with -s, in
 *   source AND target paths (a mailbox named `we[ir]d` would otherwise select, or be written into, `weid`). An
 *   escaped path only matches what exists, so the caller creates a remote target directory before the transfer
 *   (rsync would otherwise create a directory with the backslashes in its name);
 * - never --partial, --inplace or --append: a half-written message under its final name would be served to clients.
 *   rsync's default (write `.name.XXXXXX`, then rename) is what maildir needs; Dovecot ignores dot files.
 * - symlinks are copied as symlinks (-l from -a), never followed (no -L, -k, -K, --copy-unsafe-links).
 */

export interface RsyncEndpoint {
  /**
   * Absolute path on that side. A directory by default: the CONTENTS of the source directory go INTO the target
   * directory. With isFile, one file copied to exactly that name (which may differ from the source's).
   */
  readonly path: string;
  readonly isFile?: boolean;
  /** Absent for a local path. */
  readonly ssh?: SshEndpoint;
}

export interface RsyncArgsInput {
  readonly source: RsyncEndpoint;
  readonly target: RsyncEndpoint;
  readonly ssh?: SshOptions;
  /** A NUL-separated rules file (see filters.ts); read with --from0. */
  readonly filterFile?: string;
  /** Read the list of paths (relative to the source) from stdin, NUL-separated. Implies -r for directories. */
  readonly filesFromStdin?: boolean;
  /** Skip every file that already exists on the target: mail already there is left exactly as it is. */
  readonly ignoreExisting?: boolean;
  readonly dryRun?: boolean;
  /** KiB per second, rsync's unit. */
  readonly bwlimitKiBps?: number;
  /** --info=progress2 (one whole-transfer progress line, redrawn with \r). Only worth it on a terminal. */
  readonly progress?: boolean;
  /** -H: keep hard links (cPanel's Dovecot hard-links copied messages). Default true. */
  readonly hardLinks?: boolean;
  /** Keep numeric uid/gid instead of mapping by name. */
  readonly numericIds?: boolean;
  /** rsync --timeout: seconds without I/O before rsync gives up (then we retry). */
  readonly ioTimeoutS?: number;
  /** Let files named in --files-from be missing on the source without an error (exit 0 instead of 23). */
  readonly ignoreMissingArgs?: boolean;
  /** Create missing target directories (rsync >= 3.2.3 on the receiving side). Default true. */
  readonly mkpath?: boolean;
  /** Path of the rsync program on the remote side. */
  readonly remoteRsyncPath?: string;
  /**
   * --safe-links: leave out symlinks that point outside the transferred tree (absolute ones, or too many '..').
   * A planted link to /etc/shadow is then neither followed nor recreated on the target. Default true.
   */
  readonly safeLinks?: boolean;
  /**
   * With --files-from, do not send the listed paths' parent directories: the target's existing directories keep
   * their owner, mode and mtime (without it, rsync gives /etc on the target the attributes of a staging directory).
   */
  readonly noImpliedDirs?: boolean;
  /**
   * --temp-dir, relative to the target directory: where rsync writes a file before renaming it into place. For a
   * maildir this is its own tmp/ (the maildir delivery protocol): a transfer killed half-way leaves its partial file
   * in tmp/, which Dovecot cleans up, never a stray file in cur/ or new/. The directory must exist.
   */
  readonly tempDir?: string;
  /**
   * One line per transferred item (--itemize-changes): needed for a --dry-run listing; off, the counts come from
   * --stats alone and neither rsync nor we spend time on 100,000 lines. Default true.
   */
  readonly itemize?: boolean;
  /** rsync --chmod, e.g. "D0751,F0640": modes set as files are created (not applied to symlinks). */
  readonly chmod?: string;
  /** Copy FIFOs, sockets and device nodes. Mail trees never need them; a planted FIFO is left out. Default false. */
  readonly specials?: boolean;
  /**
   * --chown=UID:GID (numeric): every file and directory rsync creates on the target gets this owner as it is created
   * (the mailbox owner; effective as root only). One option for copy and resync.
   */
  readonly chown?: { readonly uid: number; readonly gid: number };
}

export class RsyncArgsError extends Error {}

export function buildRsyncArgv(input: RsyncArgsInput): string[] {
  const { source, target } = input;
  if (source.ssh && target.ssh) {
    throw new RsyncArgsError('rsync cannot copy between two remote hosts; run mailshift on one of them');
  }
  checkEndpoint(source, 'source');
  checkEndpoint(target, 'target');
  const isRemote = Boolean(source.ssh ?? target.ssh);
  const remote = source.ssh ?? target.ssh;

  const argv = ['rsync', '--archive'];
  if (!(input.specials ?? false)) argv.push('--no-devices', '--no-specials');
  if (input.safeLinks ?? true) argv.push('--safe-links');
  // Holes stay holes: a planted 8 GiB sparse "message" must not become 8 GiB of disk on the target.
  argv.push('--sparse');
  if (input.hardLinks ?? true) argv.push('--hard-links');
  if (input.numericIds) argv.push('--numeric-ids');
  if (input.chown) {
    const { uid, gid } = input.chown;
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0) throw new RsyncArgsError(`bad owner ${uid}:${gid}`);
    argv.push(`--chown=${uid}:${gid}`);
  }
  if (isRemote) argv.push('--protect-args');
  if (input.ignoreExisting) argv.push('--ignore-existing');
  if (input.dryRun) argv.push('--dry-run');
  if (input.mkpath ?? true) argv.push('--mkpath');
  if (input.itemize ?? true) argv.push('--itemize-changes');
  argv.push('--stats');
  if (input.chmod !== undefined) {
    if (!/^[DF][0-7]{3,4}(,[DF][0-7]{3,4})*$/.test(input.chmod)) throw new RsyncArgsError(`bad --chmod ${input.chmod}`);
    argv.push(`--chmod=${input.chmod}`);
  }
  if (input.progress) argv.push('--info=progress2');
  if (input.bwlimitKiBps !== undefined) {
    if (!Number.isFinite(input.bwlimitKiBps) || input.bwlimitKiBps <= 0) throw new RsyncArgsError(`bad bandwidth limit ${input.bwlimitKiBps}`);
    argv.push(`--bwlimit=${Math.max(1, Math.round(input.bwlimitKiBps))}`);
  }
  if (input.ioTimeoutS !== undefined) argv.push(`--timeout=${Math.max(1, Math.round(input.ioTimeoutS))}`);
  if (input.filterFile !== undefined || input.filesFromStdin) argv.push('--from0');
  if (input.filterFile !== undefined) argv.push(`--filter=merge ${input.filterFile}`);
  if (input.filesFromStdin) argv.push('--files-from=-', '--recursive');
  if (input.noImpliedDirs) argv.push('--no-implied-dirs');
  if (input.tempDir !== undefined) {
    if (input.tempDir.includes('\u0000') || input.tempDir === '') throw new RsyncArgsError('bad temp dir');
    argv.push(`--temp-dir=${input.tempDir}`);
  }
  if (input.ignoreMissingArgs) argv.push('--ignore-missing-args');
  if (remote) {
    argv.push(`--rsh=${formatRsyncRsh(buildSshCommand(input.ssh, remote.port))}`);
    if (input.remoteRsyncPath !== undefined) argv.push(`--rsync-path=${input.remoteRsyncPath}`);
  }
  argv.push('--', formatOperand(source, 'source'), formatOperand(target, 'target'));
  return argv;
}

function checkEndpoint(endpoint: RsyncEndpoint, side: string): void {
  if (endpoint.path.includes('\u0000')) throw new RsyncArgsError(`${side} path contains a NUL byte`);
  // Relative local paths could contain "host:" and be read as remote; every path we build is absolute.
  if (!path.posix.isAbsolute(endpoint.path)) throw new RsyncArgsError(`${side} path must be absolute: ${endpoint.path}`);
}

/** Directory operands always end in '/': copy the contents, never nest the source directory inside the target. */
function formatOperand(endpoint: RsyncEndpoint, side: 'source' | 'target'): string {
  if (endpoint.isFile && endpoint.path.endsWith('/')) throw new RsyncArgsError(`${side} file path ends in '/': ${endpoint.path}`);
  const dir = endpoint.isFile || endpoint.path.endsWith('/') ? endpoint.path : `${endpoint.path}/`;
  if (!endpoint.ssh) return dir;
  return `${formatRsyncHost(endpoint.ssh)}:${escapeRemotePath(dir)}`;
}

/**
 * The remote rsync expands wildcards in its path arguments one path component at a time, and only in components that
 * contain `*`, `?` or `[`; in those, a backslash escapes the next character. Components without wildcards are taken
 * literally (a backslash in them stays a backslash). When nothing matches, the argument is used as typed, backslashes
 * included: hence "the target must exist". Verified against rsync 3.5 (test/integration/copy/ssh-account.test.ts).
 */
export function escapeRemotePath(remotePath: string): string {
  return remotePath
    .split('/')
    .map((component) => (/[*?[]/.test(component) ? component.replace(/[*?[\]\\]/g, (c) => `\\${c}`) : component))
    .join('/');
}
