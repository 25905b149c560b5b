import { ExitCode } from '../../core/exit-codes.js';
import type { MailboxPath } from '../../core/types.js';
import type { FolderMappingRow } from '../../../converters/folders/imap-mapping.js';
import type { FlagUpdateMode } from '../../stores/store.js';

/** What a store copy reports: per folder and in total, and the exit code that stands for it. */

/**
 * Where a copy stands: what was copied, and what is known to be left. A folder's total is known once it is listed
 * (what the target lacks), so `plannedMessages` and `plannedBytes` grow as folders are listed: `foldersPlanned` of
 * `foldersTotal` are counted in them.
 */
export interface CopyProgress {
  readonly messages: number;
  readonly bytes: number;
  /** Source sizes of the copied messages (what `plannedBytes` counts; `bytes` is what was written). */
  readonly sourceBytes: number;
  readonly plannedMessages: number;
  readonly plannedBytes: number;
  readonly foldersPlanned: number;
  readonly foldersTotal: number;
}

export type FolderMode = 'full' | 'incremental' | 'uidvalidity-changed';

export interface FolderCopyReport {
  readonly source: MailboxPath;
  readonly target: MailboxPath;
  readonly reason: string;
  mode: FolderMode;
  uidValidity?: number;
  /** Source messages looked at this run (all of them, or those above the watermark). */
  examined: number;
  copied: number;
  copiedBytes: number;
  alreadyPresent: number;
  skipped: { id: string; uid?: number; reason: string }[];
  /** Expunged on the source between listing and reading. */
  vanished: number;
  /** Messages copied by an earlier run whose flags differ as `flags` counts them ('source'/'merge' only). */
  flagDifferences: number;
  /** Of those, changed on the target. */
  flagsApplied: number;
  retries: number;
  /** Why the folder failed; `retry: 'later'` when only temporary trouble (out of retries) stopped it. */
  error?: { code: string; message: string; retry?: 'later' };
}

export interface StoreCopyReport {
  readonly source: string;
  readonly target: string;
  readonly dryRun: boolean;
  /** Set when flags of earlier copies were brought over (`resync --flags source|merge`). */
  readonly flags?: FlagUpdateMode;
  readonly mapping: FolderMappingRow[];
  readonly folders: FolderCopyReport[];
  /** Source folders the store found and could not offer (a name that is no folder), each with its reason: partial. */
  readonly skippedFolders: { folder: string; reason: string }[];
  /** Source folders of other namespaces (other users' or shared mail), left out: not this account's, not partial. */
  otherNamespaceFolders?: string[];
  readonly totals: { copied: number; copiedBytes: number; alreadyPresent: number; skipped: number; failedFolders: number; examined: number; flagDifferences: number; flagsApplied: number };
  durationMs: number;
  stopped?: { code: string; reason: string; exitCode: number };
}

/**
 * The exit code a copy report stands for: the stop's code when the run stopped; 3 when something was skipped or a
 * folder failed for good; 75 when the only failures were temporary (folders out of retries: running again goes on
 * where this run stopped); else 0. A source folder left out for its name counts as skipped.
 */
export function decideCopyExitCode(report: StoreCopyReport): number {
  if (report.stopped) return report.stopped.exitCode;
  const failed = report.folders.filter((folder) => folder.error);
  if (report.totals.skipped > 0 || report.skippedFolders.length > 0 || failed.some((folder) => folder.error!.retry !== 'later')) return ExitCode.partial;
  if (failed.length > 0) return ExitCode.tempFail;
  return ExitCode.ok;
}
