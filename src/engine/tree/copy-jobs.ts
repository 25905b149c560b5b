import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runPool } from '../../core/async.js';
import { InterruptedError, MailshiftError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { openFileSideAt } from '../../hosts/open.js';
import { describeOnHost, lastLine, type FileSide } from '../../hosts/side.js';
import { listArrivedFiles } from '../../transport/rsync/arrived.js';
import { buildRsyncArgv, type RsyncEndpoint } from '../../transport/rsync/args.js';
import { formatFilterFile } from '../../transport/rsync/filters.js';
import type { ItemizedChange } from '../../transport/rsync/itemize.js';
import { readItemsFromOutput } from '../../transport/rsync/output-file.js';
import type { RsyncProgress } from '../../transport/rsync/progress.js';
import { runRsync, type RsyncRunResult } from '../../transport/rsync/run.js';
import type { CopyOptions, JobReport } from './copy-report.js';
import { buildLeftoverScope, findJobLeftovers, type LeftoverScope } from './job-leftovers.js';
import { removeJobMarker, startJobMarker, type JobMarker } from './job-marker.js';
import { copyTempDirName, type CopyJob } from './plan-copy.js';
import type { SourceScan } from './source-scan.js';

/**
 * Running a tree copy's rsync jobs N at a time: each after its source's scan (source-scan.ts), each job's target
 * directory and marker (job-marker.ts), rsync with retries, the half-written files an interrupted run or a dropped
 * connection leaves (job-leftovers.ts), and what really arrived when rsync died. Every far-host operation goes
 * through the job's FileSide.
 */

export type JobOptions = CopyOptions & { readonly mailOwner?: { uid: number; gid: number } };

/** The side an rsync endpoint is on, with the run's ssh options. */
export function sideOf(endpoint: RsyncEndpoint, options: Pick<CopyOptions, 'ssh'>): FileSide {
  return openFileSideAt(endpoint.ssh, options.ssh);
}

export function describeEndpoint(endpoint: RsyncEndpoint): string {
  return describeOnHost(endpoint.ssh, endpoint.path);
}

/**
 * Runs the jobs N at a time; each first waits for its source's scan (source-scan.ts), whose refusals become exclude
 * rules placed before the job's own.
 */
export async function runJobs(jobs: readonly CopyJob[], scans: readonly Promise<SourceScan>[], staging: string, options: JobOptions, logger: Logger): Promise<JobReport[]> {
  const concurrency = Math.max(1, options.jobs ?? 2);
  const reports: JobReport[] = new Array(jobs.length);
  const bytesByJob = new Array<number>(jobs.length).fill(0);
  const filesByJob = new Array<number>(jobs.length).fill(0);
  const report = () => options.onProgress?.({ bytes: bytesByJob.reduce((a, b) => a + b, 0), items: filesByJob.reduce((a, b) => a + b, 0) });
  // A failing job (Ctrl-C, a refused target) stops the start of further jobs, and the others are waited for before
  // the error goes up: runCopy removes the staging directory next, which running jobs still write into.
  await runPool(jobs, concurrency, async (planned, index) => {
    const { rules } = await scans[index]!;
    const job = rules.length > 0 ? { ...planned, rules: [...rules, ...planned.rules] } : planned;
    reports[index] = await runJob(job, buildLeftoverScope(planned, jobs), index, staging, options, logger, {
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

type JobHooks = { onProgress: (bytes: number, files?: number) => void; onItem: (item: ItemizedChange) => void };

async function runJob(
  job: CopyJob,
  scope: LeftoverScope,
  index: number,
  staging: string,
  options: JobOptions,
  logger: Logger,
  hooks: JobHooks,
): Promise<JobReport> {
  let filterFile: string | undefined;
  if (job.rules.length > 0) {
    filterFile = path.join(staging, `rules-${index}`);
    await writeFile(filterFile, formatFilterFile(job.rules));
  }
  if (options.dryRun) return runJobInTarget(job, { filterFile, outputFile: undefined, marker: undefined, scope }, options, logger, hooks);
  // The target directory is created before rsync runs: a remote one must exist (see escapeRemotePath), and parallel
  // local jobs must not race each other's --mkpath over a shared parent (rsync 3.5 then failed with code 11,
  // "error in file IO", now and then in CI); Node's recursive mkdir takes an existing directory as success. The same
  // step (one ssh command over ssh) records the job's start in its marker, or finds the one an interrupted run left.
  const side = sideOf(job.target, options);
  const dir = job.target.isFile ? path.posix.dirname(job.target.path) : job.target.path;
  const marker = await startJobMarker(side, job.target, {
    dirs: [dir],
    ...(job.kind === 'maildir' ? { oldTempDir: path.posix.join(job.target.path, copyTempDirName) } : {}),
  });
  if (marker.isInherited) {
    // An earlier run's job here did not finish (killed, or its connection lost for good): what its rsync left
    // half-written goes before this job's rsync starts. The scope holds no place another job of this run writes to.
    const removed = await removeLeftovers(side, scope, marker, options);
    if (removed > 0) logger.info(`${job.label}: removed ${removed} half-written file(s) an interrupted copy left (rsync temporary names written since it started)`);
  }
  // rsync's output goes to a file unless its items are wanted as they come (a dry run's listing).
  const outputFile = options.onItem ? undefined : path.join(staging, `output-${index}`);
  // An error thrown from here on (Ctrl-C, a lost connection) leaves the marker: the next run does the clean-up.
  return runJobInTarget(job, { filterFile, outputFile, marker, scope }, options, logger, hooks);
}

async function runJobInTarget(
  job: CopyJob,
  place: { filterFile: string | undefined; outputFile: string | undefined; marker: JobMarker | undefined; scope: LeftoverScope },
  options: JobOptions,
  logger: Logger,
  hooks: JobHooks,
): Promise<JobReport> {
  const { filterFile, outputFile, marker } = place;
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
  // The items as they come when rsync's output is read line by line; otherwise read from its file when needed.
  const itemized = new Set<string>();
  const onFileItem = (item: ItemizedChange) => {
    if (item.type === 'file' && !options.dryRun) itemized.add(item.path);
  };
  const result = await runRsync({
    argv,
    ...(job.filesFrom ? { stdin: Buffer.from(job.filesFrom.map((p) => `${p}\u0000`).join(''), 'utf8') } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    retries: options.retries ?? 3,
    retryBaseDelayMs: options.retryBaseDelayMs ?? 2000,
    ...(options.wantProgress ? { onProgress: (p: RsyncProgress) => hooks.onProgress(p.bytes, p.filesTransferred) } : {}),
    ...(outputFile
      ? { outputFile }
      : {
          onItem: (item) => {
            onFileItem(item);
            hooks.onItem(item);
          },
        }),
    onRetry: ({ attempt, delayMs, exit, stderrTail }) => {
      logger.warn(`${job.label}: ${exit.meaning} (${lastLine(stderrTail)}); retry ${attempt} in ${Math.round(delayMs / 1000)} s`);
    },
  });
  const hasFailed = result.exit.outcome !== 'ok' && result.exit.outcome !== 'vanished';
  if (outputFile && (hasFailed || result.attempts > 1)) await readItemsFromOutput(outputFile, onFileItem);
  if (outputFile && !hasFailed && !options.dryRun && result.stats.regularFilesTransferred === undefined) {
    // rsync ignores a failed write of its output (a full temporary directory): the copy is whole, its counts are not.
    logger.warn(`${job.label}: rsync's summary did not reach ${outputFile} (is the temporary directory full?); the counts reported for this job are those of the items that did`);
  }
  if (marker) await finishMarker(job, place.scope, marker, result, itemized, options, logger);
  bytes = result.stats.transferredFileSizeBytes ?? 0;
  // Counts from --stats. Hard links are created files that were not transferred.
  let files = result.stats.regularFilesTransferred ?? result.items?.files ?? 0;
  let hardlinks = Math.max(0, (result.stats.createdRegular ?? 0) - files);
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
    symlinks: result.stats.createdLinks ?? result.items?.symlinks ?? 0,
    dirs: result.stats.createdDirs ?? result.items?.dirs ?? 0,
    bytes,
    warnings: result.warnings,
    ...(result.exit.hint ? { hint: result.exit.hint } : {}),
  };
}

/**
 * The end of a job on its target. An rsync that ended by itself removed its own temporary file; after a retry or a
 * failure, a remote receiver may have been killed with its connection first, so the job's places are swept (keeping
 * what rsync itemized: those are its completed files, whatever their names look like). Then the marker goes. When
 * the sweep cannot be done (the connection is gone), the marker stays and the next run does it.
 */
async function finishMarker(
  job: CopyJob,
  scope: LeftoverScope,
  marker: JobMarker,
  result: RsyncRunResult,
  itemized: ReadonlySet<string>,
  options: CopyOptions,
  logger: Logger,
): Promise<void> {
  const side = sideOf(job.target, options);
  const isClean = (result.exit.outcome === 'ok' || result.exit.outcome === 'vanished') && result.attempts === 1;
  if (!isClean) {
    const root = job.target.path.replace(/\/+$/, '');
    const keep = (absPath: string) => !job.target.isFile && itemized.has(path.posix.relative(root, absPath));
    let removed: number;
    try {
      removed = await removeLeftovers(side, scope, marker, options, keep);
    } catch (err) {
      // Remotely a failure is only worth a warning (the files have rsync's temporary names, and the marker makes the
      // next run remove them); locally it stops the run.
      if (!job.target.ssh || !(err instanceof MailshiftError) || err instanceof InterruptedError || err.code === 'MAILSHIFT_EXEC_FAILED') throw err;
      logger.warn(`${job.label}: could not remove what a dropped connection left half-written: ${err.message} (the next copy removes it)`);
      return;
    }
    if (removed > 0) logger.info(`${job.label}: removed ${removed} half-written file(s) a dropped connection left behind (rsync temporary names)`);
  }
  try {
    await removeJobMarker(side, marker);
  } catch (err) {
    if (err instanceof InterruptedError) throw err;
    logger.warn(`${job.label}: could not remove ${side.describe(marker.path)}: ${err instanceof Error ? err.message : String(err)} (the next copy into it looks for half-written files, then removes it)`);
  }
}

async function removeLeftovers(side: FileSide, scope: LeftoverScope, marker: JobMarker, options: CopyOptions, keep?: (absPath: string) => boolean): Promise<number> {
  const leftovers = await findJobLeftovers(side, scope, marker.startedMs, { ...(keep ? { keep } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  if (leftovers.length > 0) await side.removeFiles(leftovers);
  return leftovers.length;
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
