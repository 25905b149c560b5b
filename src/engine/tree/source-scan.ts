import type { FilterRule } from '../../transport/rsync/filters.js';
import type { CopyOptions } from './copy-report.js';
import { createMaildirScanner, type RefusedItem } from './copy-safety.js';
import { sideOf } from './copy-jobs.js';
import type { CopyJob } from './plan-copy.js';

/**
 * The listing of each maildir job's source before its rsync starts: refuses what discover reports as unsafe
 * (copy-safety.ts; each refusal becomes an exclude rule placed before the job's own rules) and sums what the job
 * will copy, for the progress bar's ETA.
 *
 * Why the scans run while jobs copy, not all before the first one: listing 100,000 files costs about a second here
 * (an lstat each), a fifth of what rsync takes to copy them, and a whole-account copy waited for it before rsync
 * started (issue 4's target is rsync -a's time). Each job waits for its own scan only; the scans go one after the
 * other in job order, so they run ahead of the jobs (two rsyncs at a time by default) on the cycles rsync leaves.
 */

export interface SourceScan {
  readonly refused: RefusedItem[];
  /** Exclude rules for what was refused, to go before the job's own rules. */
  readonly rules: FilterRule[];
  readonly totals: { readonly bytes: number; readonly files: number };
}

const nothingToScan: SourceScan = { refused: [], rules: [], totals: { bytes: 0, files: 0 } };

/** One job's scan; a job that copies no maildir (the account files) has nothing to scan. */
export async function scanJobSource(job: CopyJob, options: Pick<CopyOptions, 'ssh' | 'signal'>): Promise<SourceScan> {
  if (job.kind !== 'maildir') return nothingToScan;
  const scanner = createMaildirScanner({ label: job.label, sourceRoot: job.source.path, skipDirs: job.skipDirs ?? [] });
  // The directories other jobs copy are not walked into here (each job scans its own); the scanner skips them too.
  const walk = { ...(job.skipDirs && job.skipDirs.length > 0 ? { prune: job.skipDirs } : {}), ...(options.signal ? { signal: options.signal } : {}) };
  await sideOf(job.source, options).list(job.source.path, (entry) => scanner.add(entry), walk);
  return { refused: scanner.refused, rules: scanner.rules, totals: scanner.totals };
}

/**
 * Starts the scans of all jobs, one after the other in job order, and returns one promise per job. A failed scan
 * fails those after it too (they are not started). Every promise is marked handled here: a job awaits its own, and
 * one whose job never started (an earlier job failed) must not end the process as an unhandled rejection.
 */
export function startSourceScans(jobs: readonly CopyJob[], options: Pick<CopyOptions, 'ssh' | 'signal'>): Promise<SourceScan>[] {
  const scans: Promise<SourceScan>[] = [];
  let previous: Promise<unknown> = Promise.resolve();
  for (const job of jobs) {
    const scan = previous.then(() => scanJobSource(job, options));
    scan.catch(() => undefined);
    scans.push(scan);
    previous = scan;
  }
  return scans;
}

/** The scans' refusals in job order, and what all of them will copy. Pure. */
export function combineSourceScans(scans: readonly SourceScan[]): { refused: RefusedItem[]; totals: { bytes: number; files: number } } {
  return {
    refused: scans.flatMap((scan) => scan.refused),
    totals: { bytes: scans.reduce((sum, scan) => sum + scan.totals.bytes, 0), files: scans.reduce((sum, scan) => sum + scan.totals.files, 0) },
  };
}
