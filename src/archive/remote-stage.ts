import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { buildExecArgv } from '../hosts/exec.js';
import { lastLine, type FileSide, type RenamePair } from '../hosts/side.js';
import type { FlushOutcome } from './restore-writer.js';
import { PaxWriter } from './tar.js';

/**
 * How a restore writes onto an ssh host: ONE remote process per batch, fed a sanitised tar stream.
 *
 * Why this design: the archive is read once, forwards, here; one ssh command per message would cost a round trip
 * per message (thousands of them), and extracting the archive here first would cost its size on disk. So the
 * restore writes a tar of its own to a remote GNU tar that extracts into a staging directory under the target's
 * tmp/ (same file system as the maildirs, so the final step is a rename). That stream holds only what the restore has
 * already validated (names.ts), under names it chose itself (`1`, `2`, ...: no archive name ever reaches the remote
 * tar), regular files and hard links to its own earlier entries only, with modes and mtimes it set; the remote tar
 * is told to keep existing files (--keep-old-files) and not to restore owners (--no-same-owner). Then each batch is
 * settled with three commands whatever its size: the directories made one level at a time never through a link
 * (FileSide.makeDirsNoFollow), every staged file renamed into place without replacing anything (`mv -n -T`,
 * FileSide.renameNoClobber, as copy's settle step does), and hard links to messages an earlier run placed made with
 * `ln` (never `-f`). Names travel as argv words or NUL-separated stdin, never inside a shell string.
 *
 * Batches: a message becomes visible only when its batch is settled, so a batch is settled every `batchFiles` files
 * or `batchBytes` bytes: a run killed in the middle loses at most one batch of work, and the next run writes those
 * messages again (what was placed is found by its base name and not written twice; the staged leftovers of the dead
 * run stay in tmp/, where no mail reader looks).
 */

export interface StagedFile {
  /** Absolute path on the target where the file goes. */
  readonly to: string;
  /** Bytes, for the report when the name turns out to be taken. */
  readonly bytes: number;
}

interface StagedPair extends RenamePair, StagedFile {}

export interface LinkRequest {
  readonly from: string;
  readonly to: string;
}


export interface RemoteStageOptions {
  readonly signal?: AbortSignal;
  readonly batchFiles?: number;
  readonly batchBytes?: number;
  /** Mode of the directories the settle step makes. */
  readonly dirMode: number;
}

/** The remote extraction: GNU tar reading stdin into the staging directory, keeping anything it finds there. */
export function buildRemoteExtractArgv(stagingDir: string): string[] {
  if (!stagingDir.startsWith('/')) throw new Error(`staging directory must be absolute: ${stagingDir}`);
  return ['tar', '-x', '-f', '-', '-C', stagingDir, '--keep-old-files', '--no-same-owner'];
}

/**
 * Makes hard links for pairs on stdin (FROM NUL TO NUL) through `xargs -0 -n 2`, the names as positional parameters
 * of a fixed script. ln without -f never replaces; -P links the file itself. Prints `E NUL TO NUL` for a name that
 * was taken, `F NUL TO NUL` for one that failed otherwise (its error on stderr).
 */
export function buildLinkArgv(): string[] {
  const script = 'ln -P -T -- "$1" "$2" 2>/dev/null && exit 0; if [ -e "$2" ] || [ -L "$2" ]; then printf "E\\0%s\\0" "$2"; else ln -P -T -- "$1" "$2"; printf "F\\0%s\\0" "$2"; fi; exit 0';
  return ['xargs', '-0', '-r', '-n', '2', 'sh', '-c', script, 'sh'];
}

/** Reads buildLinkArgv's output. Pure. */
export function parseLinkOutput(stdout: string): { taken: string[]; failed: string[] } {
  const parts = stdout.split('\u0000');
  const taken: string[] = [];
  const failed: string[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    if (parts[i] === 'E') taken.push(parts[i + 1]!);
    else if (parts[i] === 'F') failed.push(parts[i + 1]!);
  }
  return { taken, failed };
}

/** `DIR/tmp/mailshift-restore.RANDOM`: a name no other run picks, in the tmp/ Dovecot and cPanel leave to writers. */
export function buildStagingDir(root: string, random: string = randomBytes(6).toString('hex')): string {
  return path.posix.join(root, 'tmp', `mailshift-restore.${random}`);
}

export class RemoteStage {
  readonly stagingDir: string;
  private counter = 0;
  private batch: { child: ChildProcess; pax: PaxWriter; exited: Promise<{ code: number | null; stderr: string }> } | undefined;
  private pairs: StagedPair[] = [];
  private links: LinkRequest[] = [];
  /** Directories the settle step makes, parents first; those known to exist are never asked for again. */
  private dirs: string[] = [];
  private readonly madeDirs = new Set<string>();
  /** Final path -> staged name, for files staged in the batch not yet settled (a hard link to one is a tar link). */
  private readonly stagedByFinal = new Map<string, string>();
  private batchFiles = 0;
  private batchBytes = 0;
  private started = false;
  private outcome: FlushOutcome = { taken: [], linksTaken: [], linksNotMade: [] };

  constructor(
    readonly side: FileSide,
    /** The tree whose tmp/ holds the staging directory (a maildir, or a cPanel account's ~/mail). */
    readonly root: string,
    private readonly options: RemoteStageOptions,
  ) {
    this.stagingDir = buildStagingDir(root);
  }

  /** A directory the target already has (from its listing): never asked for. */
  knowDir(abs: string): void {
    this.madeDirs.add(abs);
  }

  /** A directory the next settle makes (parents must be asked for first). */
  needDir(abs: string): void {
    if (this.madeDirs.has(abs)) return;
    this.madeDirs.add(abs);
    this.dirs.push(abs);
  }

  /**
   * Sends a file into the staging stream; it is renamed to `to` (never over a file) when its batch settles. Without
   * `to` it stays staged (a control file, settled by its writer). Returns its staged path.
   */
  async addFile(to: string | undefined, body: AsyncIterable<Buffer> | Iterable<Buffer>, sizeBytes: number, mtimeSec: number, mode: number): Promise<string> {
    const name = this.nextName();
    const batch = await this.openBatch();
    await this.guard(batch, batch.pax.add({ name, type: 'file', size: sizeBytes, mode, mtimeSec }, body));
    if (to !== undefined) this.track(to, name, sizeBytes);
    return path.posix.join(this.stagingDir, name);
  }

  /** A staged file's name for a final path, while its batch is open. */
  stagedNameOf(to: string): string | undefined {
    return this.stagedByFinal.get(to);
  }

  /** A hard link, in the staging stream, to a file staged in this batch. */
  async addLink(to: string, stagedName: string, mtimeSec: number): Promise<void> {
    const name = this.nextName();
    const batch = await this.openBatch();
    await this.guard(batch, batch.pax.add({ name, type: 'link', mode: 0o600, mtimeSec, linkname: stagedName }));
    this.track(to, name, 0);
  }

  /** A hard link to a file already placed on the target, made when the batch settles. */
  linkPlaced(from: string, to: string): void {
    this.links.push({ from, to });
  }

  /** What the settles since the last call found (a batch settles by itself when full). */
  async flush(): Promise<FlushOutcome> {
    await this.settle();
    const out = this.outcome;
    this.outcome = { taken: [], linksTaken: [], linksNotMade: [] };
    return out;
  }

  /** Settles the batch when it is full. */
  async settleIfFull(): Promise<void> {
    if (this.batchFiles >= (this.options.batchFiles ?? 1000) || this.batchBytes >= (this.options.batchBytes ?? 64 * 1024 * 1024)) await this.settle();
  }

  /** Ends the staging stream, waits for the remote tar, then makes the directories, renames and links. */
  private async settle(): Promise<void> {
    const batch = this.batch;
    this.batch = undefined;
    if (batch) {
      await this.guard(batch, batch.pax.finish());
      const exit = await batch.exited;
      if (exit.code !== 0) throw this.writeFailure(`the remote tar stopped (exit ${exit.code}): ${lastLine(exit.stderr)}`);
    }
    const dirs = this.dirs;
    this.dirs = [];
    if (dirs.length > 0) {
      try {
        await this.side.makeDirsNoFollow(dirs, { mode: this.options.dirMode, errorRoot: this.root });
      } catch (err) {
        // A directory checked when the restore began was swapped for a link since: nothing goes through it.
        if (err instanceof MailshiftError && err.code === 'MAILSHIFT_TARGET_NOT_DIR') throw this.writeFailure(err.message);
        throw err;
      }
    }
    const pairs = this.pairs;
    this.pairs = [];
    this.stagedByFinal.clear();
    this.batchFiles = 0;
    this.batchBytes = 0;
    const renamed = await this.side.renameNoClobber(pairs, this.options.signal);
    // What mv -n did not rename is still at its staged name. mv -v names what it renamed, but quotes non-ASCII names
    // its own way: when it did not name them all, the staging directory is listed to tell (one more round trip).
    const remaining = new Set<string>();
    if (renamed.length < pairs.length) await this.side.list(this.stagingDir, (e) => remaining.add(path.posix.join(this.stagingDir, e.path)), { maxDepth: 1, ...(this.options.signal ? { signal: this.options.signal } : {}) });
    const left = pairs.filter((p) => remaining.has(p.from));
    if (left.length > 0) await this.side.removeFiles(left.map((p) => p.from));
    const links = this.links;
    this.links = [];
    const linked = await this.makeLinks(links);
    this.outcome = {
      taken: [...this.outcome.taken, ...left.map((p) => ({ path: p.to, bytes: p.bytes }))],
      linksTaken: [...this.outcome.linksTaken, ...linked.linksTaken],
      linksNotMade: [...this.outcome.linksNotMade, ...linked.linksNotMade],
    };
  }

  /** Settles what is left and removes the staging directory; after a failure, stops the remote tar first. */
  async close(options: { readonly failed: boolean }): Promise<void> {
    if (options.failed) {
      this.batch?.child.kill('SIGTERM');
      this.batch = undefined;
    }
    if (!this.started) return;
    // Only ever our own directory, named at random by this run: whatever is in it was never placed.
    await this.side.removeTree(this.stagingDir);
  }

  /**
   * Makes the tree written into (its parents as `mkdir -p` does, itself and its tmp/ never through a link) and the
   * staging directory, in one round trip each.
   */
  async start(): Promise<void> {
    if (this.started) return;
    await this.side.mkdirs([path.posix.dirname(this.root)]);
    await this.side.makeDirsNoFollow([this.root, path.posix.join(this.root, 'tmp'), this.stagingDir], { mode: this.options.dirMode, errorRoot: this.root });
    this.started = true;
  }

  private nextName(): string {
    this.counter += 1;
    return String(this.counter);
  }

  private track(to: string, name: string, bytes: number): void {
    this.pairs.push({ from: path.posix.join(this.stagingDir, name), to, bytes });
    this.stagedByFinal.set(to, name);
    this.batchFiles += 1;
    this.batchBytes += bytes;
  }

  private async openBatch(): Promise<NonNullable<RemoteStage['batch']>> {
    if (this.batch) return this.batch;
    if (!this.started) await this.start();
    const [command, ...args] = buildExecArgv(this.side.exec, buildRemoteExtractArgv(this.stagingDir));
    const child = spawn(command!, args, { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-8192);
    });
    const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => {
      child.once('error', (err) => resolve({ code: -1, stderr: err.message }));
      child.once('close', (code) => resolve({ code, stderr }));
    });
    // A remote tar that stopped shows as a broken pipe here; its exit status and stderr say why (flush, guard).
    child.stdin!.on('error', () => undefined);
    this.batch = { child, pax: new PaxWriter(child.stdin!, false), exited };
    return this.batch;
  }

  /** A write into the stream, or the remote tar's end if that comes first (it would never drain again). */
  private async guard(batch: NonNullable<RemoteStage['batch']>, writing: Promise<void>): Promise<void> {
    const ended = batch.exited.then((exit) => {
      throw this.writeFailure(`the remote tar stopped (exit ${exit.code}): ${lastLine(exit.stderr)}`);
    });
    ended.catch(() => undefined);
    try {
      await Promise.race([writing, ended]);
    } catch (err) {
      // The stream cannot go on (a half-sent entry would be a half-written file): the batch is dropped, never settled,
      // and its remote tar stopped. Its files stay in the staging directory; the next run writes them again.
      this.batch = undefined;
      const exit = await Promise.race([batch.exited, new Promise<undefined>((r) => setTimeout(r, 500, undefined).unref())]);
      batch.child.kill('SIGTERM');
      this.pairs = [];
      this.links = [];
      this.stagedByFinal.clear();
      if (!this.options.signal?.aborted && exit && exit.code !== 0) throw this.writeFailure(`the remote tar stopped (exit ${exit.code}): ${lastLine(exit.stderr)}`);
      throw err;
    }
  }

  private async makeLinks(links: readonly LinkRequest[]): Promise<Pick<FlushOutcome, 'linksNotMade' | 'linksTaken'>> {
    if (links.length === 0) return { linksNotMade: [], linksTaken: [] };
    const input = Buffer.from(links.map((l) => `${l.from}\u0000${l.to}\u0000`).join(''), 'utf8');
    const result = await this.side.run(buildLinkArgv(), { input, ...(this.options.signal ? { signal: this.options.signal } : {}) });
    if (result.exitCode === 255) throw this.writeFailure(`ssh failed while linking messages: ${lastLine(result.stderr)}`);
    const { taken, failed } = parseLinkOutput(result.stdout.toString('utf8'));
    const why = lastLine(result.stderr) || 'ln failed';
    return { linksTaken: taken, linksNotMade: failed.map((to) => ({ path: to, reason: why })) };
  }

  private writeFailure(detail: string): MailshiftError {
    return new MailshiftError('MAILSHIFT_REMOTE_WRITE', `cannot write the restore into ${this.side.describe(this.root)}: ${detail}`, {
      hint: 'what was placed before stays whole; fix the cause (disk space, permissions) and run the same command again: nothing is added twice',
      exitCode: ExitCode.failed,
    });
  }
}
