import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runPool } from '../../core/async.js';
import { MailshiftError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { openFileSideAt } from '../../hosts/open.js';
import { describeOnHost, lastLine, type FileSide } from '../../hosts/side.js';
import { listArrivedFiles } from '../../transport/rsync/arrived.js';
import { buildRsyncArgv, type RsyncEndpoint } from '../../transport/rsync/args.js';
import { formatFilterFile, type FilterRule } from '../../transport/rsync/filters.js';
import type { ItemizedChange } from '../../transport/rsync/itemize.js';
import { runRsync } from '../../transport/rsync/run.js';
import type { CopyOptions, JobReport } from './copy-report.js';
import { createMaildirScanner, type RefusedItem } from './copy-safety.js';
import { copyTempDirName, type CopyJob } from './plan-copy.js';

/**
 * Running a tree copy's rsync jobs N at a time: the source scan that refuses unsafe items first, each job's target
 * directory and temp dir, rsync with retries, the half-written files a dropped connection leaves, and what really
 * arrived when rsync died. Every far-host operation goes through the job's FileSide.
 */

export type JobOptions = CopyOptions & { readonly mailOwner?: { uid: number; gid: number } };

/** The side an rsync endpoint is on, with the run's ssh options. */
export function sideOf(endpoint: RsyncEndpoint, options: Pick<CopyOptions, 'ssh'>): FileSide {
  return openFileSideAt(endpoint.ssh, options.ssh);
}

export function describeEndpoint(endpoint: RsyncEndpoint): string {
  return describeOnHost(endpoint.ssh, endpoint.path);
}

export async function runJobs(jobs: readonly CopyJob[], staging: string, options: JobOptions, logger: Logger): Promise<JobReport[]> {
  const concurrency = Math.max(1, options.jobs ?? 2);
  const reports: JobReport[] = new Array(jobs.length);
  const bytesByJob = new Array<number>(jobs.length).fill(0);
  const filesByJob = new Array<number>(jobs.length).fill(0);
  const report = () => options.onProgress?.({ bytes: bytesByJob.reduce((a, b) => a + b, 0), items: filesByJob.reduce((a, b) => a + b, 0) });
  // A failing job (Ctrl-C, a refused target) stops the start of further jobs, and the others are waited for before
  // the error goes up: runCopy removes the staging directory next, which running jobs still write into.
  await runPool(jobs, concurrency, async (job, index) => {
    reports[index] = await runJob(job, index, staging, options, logger, {
      onProgress: (bytes, files) => {
        bytesByJob[index] = bytes;
        if (files !== undefined) filesByJob[index] = files;
        report();
      },
      onItem: (item) => options.onItem?.(job, item),
    });
  });
  return reports;
}

async function runJob(
  job: CopyJob,
  index: number,
  staging: string,
  options: JobOptions,
  logger: Logger,
  hooks: { onProgress: (bytes: number, files?: number) => void; onItem: (item: ItemizedChange) => void },
): Promise<JobReport> {
  let filterFile: string | undefined;
  if (job.rules.length > 0) {
    filterFile = path.join(staging, `rules-${index}`);
    await writeFile(filterFile, formatFilterFile(job.rules));
  }
  // The target directory is created before rsync runs: a remote one must exist (see escapeRemotePath), and parallel
  // local jobs must not race each other's --mkpath over a shared parent (rsync 3.5 then failed with code 11,
  // "error in file IO", now and then in CI); Node's recursive mkdir takes an existing directory as success.
  if (!options.dryRun) {
    const dir = job.target.isFile ? path.posix.dirname(job.target.path) : job.target.path;
    // A remote maildir job's temp dir is made by the same ssh command (one round trip less before rsync starts).
    const tempDirToo = job.target.ssh && job.kind === 'maildir' ? [path.posix.join(job.target.path, copyTempDirName)] : [];
    await sideOf(job.target, options).mkdirs([dir, ...tempDirToo]);
  }
  const tempDir = job.kind === 'maildir' && !options.dryRun ? await prepareTempDir(job.target) : undefined;
  try {
    return await runJobInTarget(job, filterFile, tempDir, options, logger, hooks);
  } finally {
    // Empty unless this run was interrupted; what a kill -9 leaves there is removed by the next run.
    if (tempDir) await removeTempDir(job.target, options, logger);
  }
}

async function runJobInTarget(
  job: CopyJob,
  filterFile: string | undefined,
  tempDir: string | undefined,
  options: JobOptions,
  logger: Logger,
  hooks: { onProgress: (bytes: number, files?: number) => void; onItem: (item: ItemizedChange) => void },
): Promise<JobReport> {
  const argv = buildRsyncArgv({
    source: job.source,
    target: job.target,
    ...(options.ssh ? { ssh: options.ssh } : {}),
    ...(filterFile ? { filterFile } : {}),
    // Always itemized: when rsync dies half-way (a full disk) --stats never comes, and the items are what is counted.
    itemize: true,
    // cPanel's owner and modes for mail, set as each file is created (cpanel-layout.md §5); see resolveMailOwner.
    ...(options.mailOwner && job.kind === 'maildir' ? { chown: options.mailOwner, chmod: 'D0751,F0640' } : {}),
    ...(job.filesFrom ? { filesFromStdin: true, ignoreMissingArgs: true } : {}),
    ...(tempDir ? { tempDir } : {}),
    ignoreExisting: true,
    dryRun: Boolean(options.dryRun),
    ...(options.bwlimitKiBps !== undefined ? { bwlimitKiBps: options.bwlimitKiBps } : {}),
    progress: Boolean(options.wantProgress),
    numericIds: true,
    ioTimeoutS: options.ioTimeoutS ?? 120,
  });
  logger.debug(`rsync ${job.label}: ${JSON.stringify(argv)}`);
  const started = Date.now();
  let bytes = 0;
  const itemized = new Set<string>();
  const result = await runRsync({
    argv,
    ...(job.filesFrom ? { stdin: Buffer.from(job.filesFrom.map((p) => `${p}\u0000`).join(''), 'utf8') } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    retries: options.retries ?? 3,
    retryBaseDelayMs: options.retryBaseDelayMs ?? 2000,
    onProgress: (p) => hooks.onProgress(p.bytes, p.filesTransferred),
    onItem: (item) => {
      if (item.type === 'file' && !options.dryRun) itemized.add(item.path);
      hooks.onItem(item);
    },
    onRetry: ({ attempt, delayMs, exit, stderrTail }) => {
      logger.warn(`${job.label}: ${exit.meaning} (${lastLine(stderrTail)}); retry ${attempt} in ${Math.round(delayMs / 1000)} s`);
    },
  });
  if (result.attempts > 1 && !options.dryRun) await removeOwnPartials(job.target, started, options, logger);
  bytes = result.stats.transferredFileSizeBytes ?? 0;
  // Counts from --stats. Hard links are created files that were not transferred.
  let files = result.stats.regularFilesTransferred ?? result.items.files;
  let hardlinks = Math.max(0, (result.stats.createdRegular ?? 0) - files);
  const hasFailed = result.exit.outcome !== 'ok' && result.exit.outcome !== 'vanished';
  if (hasFailed && !options.dryRun) {
    // No --stats from a dead rsync, and its items run ahead of the disk: count what is on the target now.
    const arrived = await countArrived(job, itemized, options);
    files = arrived.files;
    bytes = arrived.bytes;
    hardlinks = 0;
  }
  hooks.onProgress(bytes, files);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const summary = `${job.label}: ${files} file(s), ${hardlinks} hard link(s), ${bytes} bytes in ${seconds} s`;
  // With a progress bar on the terminal, per-job lines would break into it: they go to --debug then.
  if (result.exit.outcome === 'ok') (options.wantProgress ? logger.debug : logger.info)(summary);
  else if (result.exit.outcome === 'vanished') logger.warn(`${summary}; some source files vanished while copying (normal on a live mailbox; run resync afterwards)`);
  else logger.error(`${job.label}: ${result.exit.meaning}${result.stderrTail && !result.exit.hint ? `: ${lastLine(result.stderrTail)}` : ''}; ${files} file(s) arrived`);
  return {
    label: job.label,
    source: describeEndpoint(job.source),
    target: describeEndpoint(job.target),
    outcome: result.exit.outcome,
    meaning: result.exit.meaning,
    attempts: result.attempts,
    files,
    hardlinks,
    symlinks: result.stats.createdLinks ?? result.items.symlinks,
    dirs: result.stats.createdDirs ?? result.items.dirs,
    bytes,
    warnings: result.warnings,
    ...(result.exit.hint ? { hint: result.exit.hint } : {}),
  };
}

/** Files of this job's item list that are complete on the target (a listing; see listArrivedFiles). */
async function countArrived(job: CopyJob, itemized: ReadonlySet<string>, options: CopyOptions): Promise<{ files: number; bytes: number }> {
  const exec = sideOf(job.target, options).exec;
  const root = job.target.isFile ? path.posix.dirname(job.target.path) : job.target.path;
  const candidates = job.target.isFile ? new Set(itemized.size > 0 ? [path.posix.basename(job.target.path)] : []) : itemized;
  try {
    const arrived = await listArrivedFiles(exec, root, candidates, options.signal ? { signal: options.signal } : {});
    return { files: arrived.paths.length, bytes: arrived.bytes };
  } catch {
    // The target cannot even be listed (the connection is gone): rsync's items run ahead of the disk and prove
    // nothing, so nothing is counted as copied (the next run copies whatever is missing).
    return { files: 0, bytes: 0 };
  }
}

/**
 * Lists every maildir job's source once, before anything is copied: refuses what discover reports as unsafe
 * (copy-safety.ts; each refusal becomes an exclude rule placed before the job's own rules) and sums what
 * will be copied, for the progress bar's ETA.
 */
export async function scanSources(jobs: readonly CopyJob[], options: CopyOptions): Promise<{ refused: RefusedItem[]; rules: FilterRule[][]; totals: { bytes: number; files: number } }> {
  const refused: RefusedItem[] = [];
  const rules: FilterRule[][] = [];
  const totals = { bytes: 0, files: 0 };
  for (const job of jobs) {
    if (job.kind !== 'maildir') {
      rules.push([]);
      continue;
    }
    const scanner = createMaildirScanner({ label: job.label, sourceRoot: job.source.path, skipDirs: job.skipDirs ?? [] });
    // The directories other jobs copy are not walked into here (each job scans its own); the scanner skips them too.
    const walk = { ...(job.skipDirs && job.skipDirs.length > 0 ? { prune: job.skipDirs } : {}), ...(options.signal ? { signal: options.signal } : {}) };
    await sideOf(job.source, options).list(job.source.path, (entry) => scanner.add(entry), walk);
    refused.push(...scanner.refused);
    rules.push(scanner.rules);
    totals.bytes += scanner.totals.bytes;
    totals.files += scanner.totals.files;
  }
  return { refused, rules, totals };
}

/**
 * Without a --temp-dir (the account-files job; maildir jobs have prepareTempDir), rsync writes each file as
 * `.NAME.XXXXXX` next to its final name and renames it when complete (never --partial or --inplace). When a
 * connection dies, a remote receiver is killed before it can remove its half-written file, so after a retried job
 * we remove the files that have rsync's temporary-name shape AND were last written during this job. Nothing else on
 * the target is ever deleted.
 */
async function removeOwnPartials(target: RsyncEndpoint, jobStartedMs: number, options: CopyOptions, logger: Logger): Promise<void> {
  const side = sideOf(target, options);
  const partials: string[] = [];
  await side.list(target.path, (entry) => {
    if (entry.type === 'file' && entry.mtimeMs >= jobStartedMs - 1000 && isRsyncPartialName(path.posix.basename(entry.path))) {
      partials.push(path.posix.join(target.path, entry.path));
    }
  }, options.signal ? { signal: options.signal } : {});
  if (partials.length === 0) return;
  try {
    await side.removeFiles(partials);
  } catch (err) {
    // Remotely a failure is only worth a warning (the files have rsync's temporary names); locally it stops the run.
    if (!target.ssh || !(err instanceof MailshiftError) || err.code === 'MAILSHIFT_EXEC_FAILED' || err.code === 'MAILSHIFT_INTERRUPTED') throw err;
    logger.warn(`could not remove ${partials.length} half-written file(s) left by a dropped connection: ${err.message}`);
  }
  logger.info(`removed ${partials.length} half-written file(s) a dropped connection left behind (rsync temporary names)`);
}

/**
 * Where rsync writes a message before renaming it into cur/ or new/ (--temp-dir, relative to the job's target): a
 * directory of the target maildir root that no mail reader looks into (Maildir++ folders start with '.', and it is
 * neither cur/, new/ nor tmp/). A run killed with -9 leaves its half-written file there, never in cur/ or new/; the
 * next run empties it (locally before it starts, over ssh when the job ends: one round trip less), and each job
 * removes it when done. plan-copy.ts keeps it out of the sources.
 */
async function prepareTempDir(target: RsyncEndpoint): Promise<string> {
  // Over ssh runJob's mkdirs created it, and leftovers of a killed run in it go when this job ends (removeTempDir).
  if (target.ssh) return copyTempDirName;
  const dir = path.join(target.path, copyTempDirName);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return copyTempDirName;
}

async function removeTempDir(target: RsyncEndpoint, options: CopyOptions, logger: Logger): Promise<void> {
  const dir = path.posix.join(target.path, copyTempDirName);
  try {
    await sideOf(target, options).removeTree(dir);
  } catch (err) {
    logger.warn(`could not remove ${dir}: ${err instanceof Error ? err.message : String(err)} (the next copy empties it)`);
  }
}

/** rsync's temporary name for NAME: "." + NAME + "." + six characters from [A-Za-z0-9]. */
export function isRsyncPartialName(name: string): boolean {
  return /^\..+\.[A-Za-z0-9]{6}$/.test(name);
}


