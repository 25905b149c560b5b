import { MailshiftError } from '../core/errors.js';
import { classifyRemoteMkdirFailure } from '../fsops/target-dir.js';
import type { SshEndpoint, SshOptions } from '../transport/ssh.js';
import { runExec, type ExecOptions, type ExecResult, type ExecTarget } from './exec.js';
import { listTree, sshFailure, type FindOptions, type ListTreeResult, type TreeEntry } from './find.js';
import { temporaryNameFor } from './local.js';
import { describeOnHost, lastLine, requireAbsolute, type FileSide, type PathOwner, type RenamePair } from './side.js';

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

  async renameNoClobber<T extends RenamePair>(pairs: readonly T[], signal?: AbortSignal): Promise<T[]> {
    if (pairs.length === 0) return [];
    // `mv -n -T -v` per pair through xargs -0: names never meet a shell, -n never replaces, -v says what was done.
    const input = Buffer.from(pairs.map((p) => `${requireAbsolute(p.from)}\u0000${requireAbsolute(p.to)}\u0000`).join(''), 'utf8');
    const result = await this.run(['xargs', '-0', '-n', '2', 'mv', '-n', '-T', '-v', '--'], { input, ...(signal ? { signal } : {}) });
    this.throwIfSshFailed(result);
    // mv -v prints "renamed 'A' -> 'B'" for each rename it did (-n skips silently when B exists).
    const renamedTo = new Set<string>();
    let unparsed = 0;
    for (const line of result.stdout.toString('utf8').split('\n')) {
      if (!line.startsWith('renamed ')) continue;
      const match = /^renamed '.*' -> '([^']*)'$/.exec(line);
      if (match) renamedTo.add(match[1]!);
      else unparsed += 1; // a name mv had to quote differently (it contains a quote or a control character)
    }
    const done: T[] = [];
    for (const pair of pairs) {
      if (renamedTo.has(pair.to)) done.push(pair);
      else if (unparsed > 0 && /['\u0000-\u001f]/.test(pair.to)) {
        unparsed -= 1;
        done.push(pair);
      }
    }
    return done;
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

