import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { buildExecArgv } from '../hosts/exec.js';
import { lastLine, type FileSide } from '../hosts/side.js';
import { buildLinkArgv, buildLinkInput, buildSettleArgv, buildSettleInput, parseLinkOutput, parseSettleOutput, type SettleDir } from './remote-settle.js';
import type { FlushOutcome } from './restore-writer.js';
import { PaxWriter } from './tar.js';

/**
 * How a restore writes onto an ssh host: ONE remote process per batch, fed a sanitised tar stream.
 *
 * Why this design: the archive is read once, forwards, here; one ssh command per message would cost a round trip
 * per message (thousands of them), and extracting the archive here first would cost its size on disk. So the
 * restore writes a tar of its own to a remote GNU tar that extracts into a staging directory under the target's
 * tmp/ (same file system as the maildirs, so the final step is a rename). That stream holds only what the restore has
 * already validated (names.ts), under directories it chose itself (`BATCH/N/`; the one part from the archive is a
 * message's validated base name, the name it gets on the target anyway, never `.` or `..` and without '/'), regular files and hard links to its own earlier entries only, with modes and mtimes it set; the remote tar
 * is told to keep existing files (--keep-old-files) and not to restore owners (--no-same-owner). Then each batch is
 * settled with three commands whatever its size: the directories made one level at a time never through a link
 * (FileSide.makeDirsNoFollow), every staged file moved into place without replacing anything by one `mv -n` per
 * final directory (remote-settle.ts: files are staged under their final base names, `BATCH/N/NAME`, one staging
 * subdirectory N per final directory, so the whole batch settles in a handful of processes, not one per message),
 * and hard links to messages an earlier batch or run placed made with `ln` (never `-f`; from and into directories
 * reached never through a link, remote-settle.ts buildLinkArgv). Names travel as argv words or
 * NUL-separated stdin, never inside a shell string.
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

/** A file of the open batch: staged as `BATCH/n/name`, where n stands for `to`'s directory. */
interface StagedPair extends StagedFile {
  readonly n: number;
  readonly name: string;
  /** A hard link in the stream (counted as linked, not written). */
  readonly isLink: boolean;
}

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
  /**
   * Trees besides `root` that files are placed in (a cPanel home, whose ~/mail is `root`): a final directory is
   * reached from the longest of these (and `root`) that holds it, never through a link below it.
   */
  readonly otherRoots?: readonly string[];
}

/** The remote extraction: GNU tar reading stdin into the staging directory, keeping anything it finds there. */
export function buildRemoteExtractArgv(stagingDir: string): string[] {
  if (!stagingDir.startsWith('/')) throw new Error(`staging directory must be absolute: ${stagingDir}`);
  return ['tar', '-x', '-f', '-', '-C', stagingDir, '--keep-old-files', '--no-same-owner'];
}

/** `DIR/tmp/mailshift-restore.RANDOM`: a name no other run picks, in the tmp/ Dovecot and cPanel leave to writers. */
export function buildStagingDir(root: string, random: string = randomBytes(6).toString('hex')): string {
  return path.posix.join(root, 'tmp', `mailshift-restore.${random}`);
}

export class RemoteStage {
  readonly stagingDir: string;
  /** Names of staged control files (`c1`, `c2`, ...), beside the batch directories (`1`, `2`, ...). */
  private counter = 0;
  private batchNo = 0;
  private batch: { child: ChildProcess; pax: PaxWriter; exited: Promise<{ code: number | null; stderr: string }> } | undefined;
  private pairs: StagedPair[] = [];
  /** Final directory -> its staging subdirectory (number) and the tree it is reached from, in the open batch. */
  private batchDirs = new Map<string, SettleDir>();
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
    const batch = await this.openBatch();
    const staged = to === undefined ? undefined : await this.stagedNameFor(batch, to);
    const name = staged?.staged ?? this.nextControlName();
    await this.guard(batch, batch.pax.add({ name, type: 'file', size: sizeBytes, mode, mtimeSec }, body));
    if (staged) this.track(staged, sizeBytes, false);
    return path.posix.join(this.stagingDir, name);
  }

  /** A staged file's name for a final path, while its batch is open. */
  stagedNameOf(to: string): string | undefined {
    return this.stagedByFinal.get(to);
  }

  /** A hard link, in the staging stream, to a file staged in this batch. */
  async addLink(to: string, stagedName: string, mtimeSec: number): Promise<void> {
    const batch = await this.openBatch();
    const staged = await this.stagedNameFor(batch, to);
    await this.guard(batch, batch.pax.add({ name: staged.staged, type: 'link', mode: 0o600, mtimeSec, linkname: stagedName }));
    this.track(staged, 0, true);
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
    const batchNo = this.batchNo;
    const pairs = this.pairs;
    const batchDirs = this.batchDirs;
    this.pairs = [];
    this.batchDirs = new Map();
    this.stagedByFinal.clear();
    this.batchFiles = 0;
    this.batchBytes = 0;
    // What was not placed stays in the staging directory, which close() removes: it is never placed later.
    const left = pairs.length > 0 ? await this.moveIntoPlace(batchNo, batchDirs, pairs) : [];
    const links = this.links;
    this.links = [];
    const linked = await this.makeLinks(links);
    this.outcome = {
      taken: [...this.outcome.taken, ...left.filter((p) => !p.isLink).map((p) => ({ path: p.to, bytes: p.bytes }))],
      linksTaken: [...this.outcome.linksTaken, ...left.filter((p) => p.isLink).map((p) => p.to), ...linked.linksTaken],
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

  private nextControlName(): string {
    this.counter += 1;
    return `c${this.counter}`;
  }

  /**
   * `BATCH/N/NAME` for a final path: NAME its base name, N its directory's staging subdirectory in this batch (made
   * in the stream when first used, so the remote tar never makes one with its own defaults).
   */
  private async stagedNameFor(batch: NonNullable<RemoteStage['batch']>, to: string): Promise<{ staged: string; to: string; n: number; name: string }> {
    const name = path.posix.basename(to);
    // The settle moves NAME as it is into the final directory: a name that is not one plain segment is a bug here.
    if (name === '' || name === '.' || name === '..' || name.includes('\u0000') || !to.startsWith('/')) throw new Error(`not a file path: ${to}`);
    if (this.stagedByFinal.has(to)) throw new Error(`staged twice in one batch: ${to}`);
    const dir = path.posix.dirname(to);
    let settleDir = this.batchDirs.get(dir);
    if (settleDir === undefined) {
      settleDir = { n: this.batchDirs.size + 1, dir, root: this.rootOf(dir) };
      this.batchDirs.set(dir, settleDir);
      await this.guard(batch, batch.pax.add({ name: `${this.batchNo}/${settleDir.n}`, type: 'directory', mode: 0o700, mtimeSec: Date.now() / 1000 }));
    }
    return { staged: `${this.batchNo}/${settleDir.n}/${name}`, to, n: settleDir.n, name };
  }

  /**
   * Moves the batch's files into place (remote-settle.ts, one remote command) and returns those that were not
   * placed because their name was taken; anything else not placed stops the restore.
   */
  private async moveIntoPlace(batchNo: number, batchDirs: ReadonlyMap<string, SettleDir>, pairs: readonly StagedPair[]): Promise<StagedPair[]> {
    const dirs = [...batchDirs.values()];
    const batchDir = path.posix.relative(this.root, path.posix.join(this.stagingDir, String(batchNo)));
    const result = await this.side.run(buildSettleArgv(this.root, batchDir), { input: buildSettleInput(dirs), ...(this.options.signal ? { signal: this.options.signal } : {}) });
    if (result.exitCode !== 0) throw this.writeFailure(`moving the staged messages into place stopped (exit ${result.exitCode}): ${lastLine(result.stderr) || 'the staging directory is no longer where it was made'}`);
    const outcome = parseSettleOutput(result.stdout.toString('utf8'));
    const notReached = dirs.find((d) => outcome.notReached.includes(d.n));
    if (notReached) throw this.writeFailure(`${this.side.describe(notReached.dir)} is no longer a real directory (a symlink is never written through); nothing was moved into it`);
    if (outcome.failed.length > 0) {
      const first = dirs.find((d) => d.n === outcome.failed[0]!.n);
      throw this.writeFailure(`${outcome.failed.length} message(s) could not be moved into place (${this.side.describe(path.posix.join(first?.dir ?? this.root, outcome.failed[0]!.name))}): ${lastLine(result.stderr) || 'mv failed'}`);
    }
    const taken = new Set(outcome.taken.map((t) => `${t.n}/${t.name}`));
    return pairs.filter((p) => taken.has(`${p.n}/${p.name}`));
  }

  /** The tree a final directory is reached from: the longest root that holds it. */
  private rootOf(dir: string): string {
    const roots = [this.root, ...(this.options.otherRoots ?? [])].filter((r) => dir === r || dir.startsWith(r.endsWith('/') ? r : `${r}/`));
    const best = roots.sort((a, b) => b.length - a.length)[0];
    if (best === undefined) throw new Error(`${dir} is in none of the trees this restore writes into`);
    return best;
  }

  private track(staged: { staged: string; to: string; n: number; name: string }, bytes: number, isLink: boolean): void {
    this.pairs.push({ to: staged.to, bytes, n: staged.n, name: staged.name, isLink });
    this.stagedByFinal.set(staged.to, staged.staged);
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
    const batch = { child, pax: new PaxWriter(child.stdin!, false), exited };
    this.batch = batch;
    this.batchNo += 1;
    await this.guard(batch, batch.pax.add({ name: String(this.batchNo), type: 'directory', mode: 0o700, mtimeSec: Date.now() / 1000 }));
    return batch;
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
      this.batchDirs = new Map();
      this.links = [];
      this.stagedByFinal.clear();
      if (!this.options.signal?.aborted && exit && exit.code !== 0) throw this.writeFailure(`the remote tar stopped (exit ${exit.code}): ${lastLine(exit.stderr)}`);
      throw err;
    }
  }

  private async makeLinks(links: readonly LinkRequest[]): Promise<Pick<FlushOutcome, 'linksNotMade' | 'linksTaken'>> {
    if (links.length === 0) return { linksNotMade: [], linksTaken: [] };
    const placed = links.map((l) => ({ ...l, fromRoot: this.rootOf(path.posix.dirname(l.from)), toRoot: this.rootOf(path.posix.dirname(l.to)) }));
    const result = await this.side.run(buildLinkArgv(), { input: buildLinkInput(placed), ...(this.options.signal ? { signal: this.options.signal } : {}) });
    if (result.exitCode === 255) throw this.writeFailure(`ssh failed while linking messages: ${lastLine(result.stderr)}`);
    const outcome = parseLinkOutput(result.stdout.toString('utf8'));
    const notReached = outcome.notReached[0];
    if (notReached !== undefined) throw this.writeFailure(`a folder on the way to ${this.side.describe(links[notReached]!.to)} or to its first copy is no longer a real directory (a symlink is never written through); the link was not made`);
    const made = new Set(outcome.made);
    const taken = new Set(outcome.taken);
    const why = lastLine(result.stderr) || 'ln failed';
    return {
      linksTaken: links.filter((_, i) => taken.has(i)).map((l) => l.to),
      // A link the script does not name was not made either (the script stopped before it): listed, never assumed.
      linksNotMade: links.filter((_, i) => !made.has(i) && !taken.has(i)).map((l) => ({ path: l.to, reason: why })),
    };
  }

  private writeFailure(detail: string): MailshiftError {
    return new MailshiftError('MAILSHIFT_REMOTE_WRITE', `cannot write the restore into ${this.side.describe(this.root)}: ${detail}`, {
      hint: 'what was placed before stays whole; fix the cause (disk space, permissions) and run the same command again: nothing is added twice',
      exitCode: ExitCode.failed,
    });
  }
}
