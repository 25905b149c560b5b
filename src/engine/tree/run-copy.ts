import { rm, mkdtemp } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MailshiftError } from '../../core/errors.js';
import { ExitCode, type ExitCodeValue } from '../../core/exit-codes.js';
import { silentLogger } from '../../core/logger.js';
import { checkLocalTargetDir } from '../../fsops/target-dir.js';
import { formatSpec, type StoreSpec } from '../../stores/spec.js';
import { runJobs } from './copy-jobs.js';
import type { CopyOptions, CopyReport, JobReport, MergeReport } from './copy-report.js';
import { listExistingControlFiles, planOnlyMerges, runMerges, settleControlFiles } from './copy-settle.js';
import { resolveCopy } from './resolve-copy.js';
import { combineSourceScans, startSourceScans } from './source-scan.js';

/**
 * Runs a copy: resolves the specs into rsync jobs (resolve-copy.ts, plan-copy.ts), runs them N at a time
 * (copy-jobs.ts), then settles the control files the target already had and merges the account's small files
 * (copy-settle.ts). Reports everything it did and did not do. run-tree-copy.ts adds chown as the last step.
 */

export type { CopyOptions, CopyReport, JobReport, ControlFileReport, MergeReport } from './copy-report.js';

export async function runCopy(source: StoreSpec, target: StoreSpec, options: CopyOptions = {}): Promise<CopyReport> {
  const logger = options.logger ?? silentLogger;
  const staging = await mkdtemp(path.join(os.tmpdir(), 'mailshift-copy-'));
  // A second Ctrl-C exits at once (cli/main.ts), before the finally below can run: remove the directory then too.
  const removeStagingOnExit = () => rmSync(staging, { recursive: true, force: true });
  process.once('exit', removeStagingOnExit);
  try {
    const started = Date.now();
    const phase = (name: string) => logger.debug(`copy: ${name} done at ${Date.now() - started} ms`);
    const resolved = await resolveCopy(source, target, options);
    phase('planning');
    // A target that is a file, or on a read-only filesystem, stops the run here with what and where.
    if (!options.dryRun) for (const job of resolved.jobs) if (!job.target.ssh) await checkLocalTargetDir(job.target.isFile ? path.dirname(job.target.path) : job.target.path);
    const mailOwner = resolved.cpanelTarget && options.resolveMailOwner && !options.dryRun ? await options.resolveMailOwner(resolved.cpanelTarget) : undefined;
    const existingControl = options.dryRun ? [] : await listExistingControlFiles(resolved, options);
    phase('listing control files the target already has');
    // The sources are scanned for unsafe items while the jobs copy, each job after its own scan (source-scan.ts).
    // A failed job stops the scans not yet done (the run ends with that job's error).
    const stopScans = new AbortController();
    const scanOptions = { ...(options.ssh ? { ssh: options.ssh } : {}), signal: options.signal ? AbortSignal.any([options.signal, stopScans.signal]) : stopScans.signal };
    const scans = startSourceScans(resolved.jobs, scanOptions);
    void Promise.all(scans).then((done) => {
      phase('checking the sources for unsafe items');
      // The progress bar counts without a total until every scan is done, then shows the share done and an ETA.
      if (options.wantProgress && options.onTotal) options.onTotal(combineSourceScans(done).totals);
    }, () => undefined);
    // The target's account files are read only once every job has finished: a job may be creating the target root
    // (a first copy into a new cPanel root), and reading it meanwhile raced that creation.
    const jobs = await runJobs(resolved.jobs, scans, staging, { ...options, ...(mailOwner ? { mailOwner } : {}) }, logger).finally(() => stopScans.abort());
    phase('rsync jobs');
    // Every job waited for its scan: all are done.
    const scan = combineSourceScans(await Promise.all(scans));
    // After a failed job (a full disk) the small files may fail the same way: the report of what arrived must
    // still come out, with those files listed as not written.
    const hasFailedJob = jobs.some((j) => j.outcome !== 'ok' && j.outcome !== 'vanished');
    const afterFailedJob = <T>(what: string, fallback: (err: MailshiftError) => T) => (err: unknown): T => {
      if (!hasFailedJob || !(err instanceof MailshiftError)) throw err;
      logger.error(`${what}: ${err.message}`);
      return fallback(err);
    };
    const controlFiles = options.dryRun ? [] : await settleControlFiles(resolved, existingControl, staging, options, logger).catch(afterFailedJob('control files not settled', () => []));
    const merges = options.dryRun ? planOnlyMerges(resolved.merges) : await runMerges(resolved, staging, options, logger).catch(
      afterFailedJob('account files not merged', (err) => resolved.merges.map((m): MergeReport => ({ path: m.targetPath, action: 'skipped', added: [], keptTarget: [], reason: `not written: ${err.message}` }))),
    );
    phase('control files and merges');
    const skipped = [...scan.refused, ...merges.flatMap((m) => m.refused ?? [])];
    for (const item of skipped) logger.warn(`not copied: ${item.job}: ${JSON.stringify(item.path)}: ${item.reason}`);
    const jobsExitCode = decideExitCode(jobs);
    // A refused item is a skipped one: the copy is partial (3) unless something worse happened.
    const exitCode = skipped.length > 0 && jobsExitCode === ExitCode.ok ? ExitCode.partial : jobsExitCode;
    return {
      source: formatSpec(source),
      target: formatSpec(target),
      dryRun: Boolean(options.dryRun),
      jobs,
      controlFiles,
      merges,
      skipped,
      mailboxes: resolved.mailboxes,
      ...(resolved.cpanelTarget ? { cpanelTarget: resolved.cpanelTarget } : {}),
      exitCode,
    };
  } finally {
    process.off('exit', removeStagingOnExit);
    await rm(staging, { recursive: true, force: true });
  }
}

export function decideExitCode(jobs: readonly JobReport[]): ExitCodeValue {
  if (jobs.some((j) => j.outcome === 'config')) return ExitCode.config;
  if (jobs.some((j) => j.outcome === 'fatal')) return ExitCode.failed;
  if (jobs.some((j) => j.outcome === 'network')) return ExitCode.tempFail;
  if (jobs.some((j) => j.outcome === 'partial')) return ExitCode.partial;
  return ExitCode.ok;
}

