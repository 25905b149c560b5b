import path from 'node:path';
import { MailshiftError } from '../core/errors.js';
import { classifyRemoteMkdirFailure } from '../fsops/target-dir.js';
import type { SshEndpoint, SshOptions } from '../transport/ssh.js';
import { buildWalkToArgv, linkOnTheWayError, relativeInside, shellReachFunctions } from './inside-tree.js';
import { runExec, type ExecOptions, type ExecResult, type ExecTarget } from './exec.js';
import { listTree, sshFailure, type FindOptions, type ListTreeResult, type TreeEntry } from './find.js';
import { temporaryNameFor } from './local.js';
import { buildRenameInput, buildRenameNoClobberArgv, parseRenamedIndexes } from './mv-output.js';
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

  async readSmallFiles(absPaths: readonly string[], options: { signal?: AbortSignal; within: string }): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (absPaths.length === 0) return out;
    const rels = absPaths.map((p) => relativeInside(options.within, requireAbsolute(p)));
    // One round trip, no rsync: find walks from `within` down the directories on the way only, never into a link
    // (inside-tree.ts), and for each regular file it reaches prints its path, its bytes (cat, run by -execdir in the
    // directory find stands in, so no directory name is resolved again) and a NUL. The small text files read here
    // hold no NUL byte; a reply that does not parse is treated as "nothing read".
    const maxKiB = `-${SMALL_FILE_MAX_BYTES / 1024}k`;
    const onFile = ['-type', 'f', '-size', maxKiB, '-printf', '%p\\0', '-execdir', 'cat', '--', '{}', ';', '-printf', '\\0'];
    const result = await this.run(buildWalkToArgv(options.within, rels, onFile), options.signal ? { signal: options.signal } : {});
    this.throwIfSshFailed(result);
    const parts = result.stdout.toString('utf8').split('\u0000');
    if (parts.length % 2 !== 1) return out;
    const wanted = new Map(absPaths.map((p) => [path.posix.join(options.within, relativeInside(options.within, p)), p]));
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const abs = wanted.get(parts[i]!);
      if (abs !== undefined) out.set(abs, parts[i + 1]!);
    }
    return out;
  }

  async writeAtomic(absPath: string, text: string, options: { mode?: number; owner?: { uid: number; gid: number }; within: string }): Promise<void> {
    const rel = relativeInside(options.within, requireAbsolute(absPath));
    const relDir = path.posix.dirname(rel);
    const name = path.posix.basename(rel);
    const tmp = path.posix.basename(temporaryNameFor(absPath));
    const mode = (options.mode ?? 0o600).toString(8);
    const owner = options.owner ? `${options.owner.uid}:${options.owner.gid}` : '';
    // One fixed script, the names as its positional parameters (quoted words, never parsed). It goes to the file's
    // directory by shellReachFunctions' walk, so a link planted on the way is never written through (exit 4), and
    // writes there by names without a slash. set -C makes the temporary name exclusive (never written through a
    // link); on any failure it goes.
    const script =
      `${shellReachFunctions}\n` +
      'set -C; n=$3; t=$4; m=$5; o=$6; reach "$1" "$2" || exit 4; ' +
      'cat > "$t" && chmod "$m" "$t" && { [ -z "$o" ] || chown -h "$o" "$t"; } && mv -f -T -- "$t" "$n" || { rm -f -- "$t"; exit 1; }';
    const result = await this.run(['sh', '-c', script, 'sh', options.within, relDir === '.' ? '' : relDir, name, tmp, mode, owner], { input: Buffer.from(text, 'utf8') });
    if (result.exitCode === 0) return;
    this.throwIfSshFailed(result);
    if (result.exitCode === 4) throw linkOnTheWayError(this.describe(absPath), rel);
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

  async createExclusive(absPath: string, mode = 0o600, content = ''): Promise<boolean> {
    // set -C: the redirection fails on any existing name (a link too); exit 3 tells "taken" from a real failure.
    // printf, a regular built-in (a failed redirection of a special one such as `:` ends a POSIX shell at once),
    // writes the content through the redirection that created the file. The content is a positional parameter.
    const script = 'set -C; { printf %s "$3" > "$1"; } 2>/dev/null && chmod "$2" "$1" && exit 0; { [ -e "$1" ] || [ -L "$1" ]; } && exit 3; echo "cannot create $1" >&2; exit 1';
    const result = await this.run(['sh', '-c', script, 'sh', requireAbsolute(absPath), mode.toString(8), content]);
    if (result.exitCode === 0) return true;
    if (result.exitCode === 3) return false;
    this.throwIfSshFailed(result);
    throw new MailshiftError('MAILSHIFT_REMOTE_WRITE', `cannot write ${absPath} on ${this.ssh.host}: ${lastLine(result.stderr)}`);
  }

  async renameNoClobber<T extends RenamePair>(pairs: readonly T[], signal?: AbortSignal): Promise<T[]> {
    if (pairs.length === 0) return [];
    // `mv -n -T` per pair through xargs -0 and a fixed script (mv-output.ts): names never meet a shell's parser, -n
    // never replaces, and the script says exactly which pairs it renamed, whatever their names hold.
    const input = buildRenameInput(pairs.map((p) => ({ from: requireAbsolute(p.from), to: requireAbsolute(p.to) })));
    const result = await this.run(buildRenameNoClobberArgv(), { input, ...(signal ? { signal } : {}) });
    this.throwIfSshFailed(result);
    const renamed = parseRenamedIndexes(result.stdout.toString('utf8'));
    return pairs.filter((_, index) => renamed.has(index));
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

