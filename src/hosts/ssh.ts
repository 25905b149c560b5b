import { MailshiftError } from '../core/errors.js';
import { classifyRemoteMkdirFailure } from '../fsops/target-dir.js';
import type { SshEndpoint, SshOptions } from '../transport/ssh.js';
import { runExec, type ExecOptions, type ExecResult, type ExecTarget } from './exec.js';
import { listTree, sshFailure, type FindOptions, type ListTreeResult, type TreeEntry } from './find.js';
import { temporaryNameFor } from './local.js';
import { parseRenamedPairs } from './mv-output.js';
import { SMALL_FILE_MAX_BYTES, describeOnHost, lastLine, requireAbsolute, type FileSide, type MakeDirsOptions, type PathOwner, type RenamePair } from './side.js';

/**
 * A host's files over ssh, with the base tools every Linux server has (cat, find, mkdir, mv, stat, rm, xargs from
 * GNU coreutils/findutils): nothing to install there. Each argv word is quoted for the remote shell (exec.ts), so
 * no path can become shell syntax; lists of paths go over stdin NUL-separated, never on a command line.
 */
export class SshFileSide implements FileSide {
  readonly exec: ExecTarget;

  constructor(readonly ssh: SshEndpoint, sshOptions?: SshOptions) {
    this.exec = { ssh, ...(sshOptions ? { sshOptions } : {}) };
  }

  describe(absPath: string): string {
    return describeOnHost(this.ssh, absPath);
  }

  run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return runExec(this.exec, argv, options);
  }

  list(root: string, onEntry: (entry: TreeEntry) => void, options: FindOptions & { signal?: AbortSignal } = {}): Promise<ListTreeResult> {
    return listTree(this.exec, root, onEntry, options);
  }

  async readSmall(absPath: string): Promise<string | undefined> {
    const result = await this.run(['cat', '--', requireAbsolute(absPath)]);
    if (result.exitCode === 0) return result.stdout.toString('utf8');
    this.throwIfSshFailed(result);
    if (/No such file/.test(result.stderr)) return undefined;
    throw new MailshiftError('MAILSHIFT_REMOTE_READ', `cannot read ${absPath} on ${this.ssh.host}: ${lastLine(result.stderr)}`);
  }

  async readSmallFiles(absPaths: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (absPaths.length === 0) return out;
    // One round trip, no rsync: find prints each regular file's path, its bytes (cat) and a NUL (-P: a link is not
    // a regular file). The small text files read here hold no NUL byte; a reply that does not parse is treated as "nothing read".
    const maxKiB = `-${SMALL_FILE_MAX_BYTES / 1024}k`;
    const argv = ['find', ...absPaths.map(requireAbsolute), '-maxdepth', '0', '-type', 'f', '-size', maxKiB, '-printf', '%p\\0', '-exec', 'cat', '--', '{}', ';', '-printf', '\\0'];
    const result = await this.run(argv, options.signal ? { signal: options.signal } : {});
    this.throwIfSshFailed(result);
    const parts = result.stdout.toString('utf8').split('\u0000');
    if (parts.length % 2 !== 1) return out;
    const wanted = new Set(absPaths);
    for (let i = 0; i + 1 < parts.length; i += 2) if (wanted.has(parts[i]!)) out.set(parts[i]!, parts[i + 1]!);
    return out;
  }

  async writeAtomic(absPath: string, text: string, options: { mode?: number; owner?: { uid: number; gid: number } } = {}): Promise<void> {
    const tmp = temporaryNameFor(requireAbsolute(absPath));
    const mode = (options.mode ?? 0o600).toString(8);
    const owner = options.owner ? `${options.owner.uid}:${options.owner.gid}` : '';
    // One fixed script, the paths as its positional parameters (quoted words, never parsed): set -C makes the
    // temporary name exclusive (never written through a link); on any failure the temporary file goes.
    const script = 'set -C; cat > "$1" && chmod "$3" "$1" && { [ -z "$4" ] || chown -h "$4" "$1"; } && mv -f -T "$1" "$2" || { rm -f "$1"; exit 1; }';
    const result = await this.run(['sh', '-c', script, 'sh', tmp, absPath, mode, owner], { input: Buffer.from(text, 'utf8') });
    if (result.exitCode === 0) return;
    this.throwIfSshFailed(result);
    throw new MailshiftError('MAILSHIFT_REMOTE_WRITE', `cannot write ${absPath} on ${this.ssh.host}: ${lastLine(result.stderr)}`);
  }

  async mkdirs(absDirs: readonly string[]): Promise<void> {
    if (absDirs.length === 0) return;
    const made = await this.run(['mkdir', '-p', '--', ...absDirs.map(requireAbsolute)]);
    if (made.exitCode === 0) return;
    this.throwIfSshFailed(made);
    const where = this.describe(absDirs[0]!);
    throw classifyRemoteMkdirFailure(where, made.stderr) ?? new MailshiftError('MAILSHIFT_TARGET_MKDIR', `cannot create ${where}: ${lastLine(made.stderr)}`);
  }

  async makeDirsNoFollow(absDirs: readonly string[], options: MakeDirsOptions): Promise<void> {
    if (absDirs.length === 0) return;
    const errorRoot = options.errorRoot ?? absDirs[0]!;
    // One fixed script, the directories as its positional parameters. mkdir without -p, one at a time, stopping at
    // the first name that is taken by anything but a real directory (a link there would let the next mkdir, and
    // every later write, go through it): that name is printed and the script exits 3. A failed mkdir is run again
    // with its error shown, for the error's wording.
    const script =
      'm=$1; shift; for d; do if mkdir -m "$m" -- "$d" 2>/dev/null; then :; elif [ -d "$d" ] && [ ! -L "$d" ]; then :; ' +
      'elif [ -e "$d" ] || [ -L "$d" ]; then printf "%s\\0" "$d"; exit 3; else mkdir -m "$m" -- "$d" || exit 1; fi; done';
    const made = await this.run(['sh', '-c', script, 'sh', options.mode.toString(8), ...absDirs.map(requireAbsolute)]);
    this.throwIfSshFailed(made);
    if (made.exitCode === 3) {
      const notDir = made.stdout.toString('utf8').split('\u0000')[0] ?? errorRoot;
      throw new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${notDir} on ${this.ssh.host} exists and is not a directory; not written through`, { scope: 'mailbox' });
    }
    if (made.exitCode !== 0) {
      throw (
        classifyRemoteMkdirFailure(`${errorRoot} on ${this.ssh.host}`, made.stderr) ??
        new MailshiftError('MAILSHIFT_MKDIR_FAILED', `cannot create folders on ${this.ssh.host}: ${lastLine(made.stderr)}`)
      );
    }
    if (options.owner) await this.run(['chown', '-h', `${options.owner.uid}:${options.owner.gid}`, '--', ...absDirs]);
  }

  async createExclusive(absPath: string, mode = 0o600): Promise<boolean> {
    // set -C: the redirection fails on any existing name (a link too); exit 3 tells "taken" from a real failure.
    // `true`, not `:`: a failed redirection of a special built-in such as `:` ends a POSIX shell at once.
    const script = 'set -C; { true > "$1"; } 2>/dev/null && chmod "$2" "$1" && exit 0; { [ -e "$1" ] || [ -L "$1" ]; } && exit 3; echo "cannot create $1" >&2; exit 1';
    const result = await this.run(['sh', '-c', script, 'sh', requireAbsolute(absPath), mode.toString(8)]);
    if (result.exitCode === 0) return true;
    if (result.exitCode === 3) return false;
    this.throwIfSshFailed(result);
    throw new MailshiftError('MAILSHIFT_REMOTE_WRITE', `cannot write ${absPath} on ${this.ssh.host}: ${lastLine(result.stderr)}`);
  }

  async renameNoClobber<T extends RenamePair>(pairs: readonly T[], signal?: AbortSignal): Promise<T[]> {
    if (pairs.length === 0) return [];
    // `mv -n -T -v` per pair through xargs -0: names never meet a shell, -n never replaces, -v says what was done.
    const input = Buffer.from(pairs.map((p) => `${requireAbsolute(p.from)}\u0000${requireAbsolute(p.to)}\u0000`).join(''), 'utf8');
    const result = await this.run(['xargs', '-0', '-n', '2', 'mv', '-n', '-T', '-v', '--'], { input, ...(signal ? { signal } : {}) });
    this.throwIfSshFailed(result);
    return parseRenamedPairs(result.stdout.toString('utf8'), '/', pairs);
  }

  async owner(absPath: string): Promise<PathOwner | undefined> {
    // stat without -L describes a link itself, like lstat.
    const result = await this.run(['stat', '-c', '%u:%g:%a', '--', requireAbsolute(absPath)]);
    const match = /^(\d+):(\d+):([0-7]+)/.exec(result.stdout.toString('utf8'));
    if (result.exitCode === 0 && match) return { uid: Number(match[1]), gid: Number(match[2]), mode: parseInt(match[3]!, 8) };
    this.throwIfSshFailed(result);
    if (/No such file/.test(result.stderr)) return undefined;
    throw new MailshiftError('MAILSHIFT_REMOTE_READ', `cannot read the owner of ${absPath} on ${this.ssh.host}: ${lastLine(result.stderr)}`);
  }

  async removeFiles(absPaths: readonly string[]): Promise<void> {
    if (absPaths.length === 0) return;
    const input = Buffer.from(absPaths.map((p) => `${requireAbsolute(p)}\u0000`).join(''), 'utf8');
    const result = await this.run(['xargs', '-0', '-r', 'rm', '-f', '--'], { input });
    if (result.exitCode === 0) return;
    this.throwIfSshFailed(result);
    throw new MailshiftError('MAILSHIFT_REMOTE_REMOVE', `cannot remove ${absPaths.length} file(s) on ${this.ssh.host}: ${lastLine(result.stderr)}`);
  }

  async removeTree(absDir: string): Promise<void> {
    const result = await this.run(['rm', '-rf', '--', requireAbsolute(absDir)]);
    if (result.exitCode === 0) return;
    this.throwIfSshFailed(result);
    throw new MailshiftError('MAILSHIFT_REMOTE_REMOVE', `cannot remove ${this.describe(absDir)}: ${lastLine(result.stderr)}`);
  }

  private throwIfSshFailed(result: ExecResult): void {
    if (result.exitCode === 255) throw sshFailure(this.ssh.host, result.stderr);
  }
}

