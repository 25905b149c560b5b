import { FolderNameError, maildirppToMailboxPath } from '../../../../converters/folders/maildirpp.js';
import { Mutf7Error } from '../../../../converters/folders/mutf7.js';
import { ExitCode, type ExitCodeValue } from '../../../core/exit-codes.js';
import type { RsyncOutcome } from '../../../transport/rsync/exit.js';
import type { TreeLayout } from './list.js';
import { messagePath, type FlagsMode, type ResyncPlan, type SourceChange } from './plan.js';

/** What a resync run reports, and the pure functions that build it from the plan and what was applied. */

export interface FolderReport {
  /** Display name: INBOX, Sent, Work/Projects; for cPanel mailboxes info@example.com:Sent. */
  readonly folder: string;
  /** Directory relative to the tree root. */
  readonly dir: string;
  readonly added: boolean;
  /** A folder added by this run that the source subscribes to was subscribed on the target too. */
  readonly subscribed: boolean;
  readonly copied: number;
  /** Messages the plan meant to copy that did not arrive (rsync failed, a full disk): the next run copies them. */
  readonly notCopied: number;
  readonly alreadyPresent: number;
  readonly duplicatesSkipped: number;
  readonly flagDifferences: number;
  readonly flagsApplied: number;
  readonly targetOnly: number;
  readonly keywordsDropped: readonly string[];
}

export interface ResyncTotals {
  copied: number;
  notCopied: number;
  alreadyPresent: number;
  duplicatesSkipped: number;
  flagDifferences: number;
  flagsApplied: number;
  foldersAdded: number;
  targetOnly: number;
  bytesCopied: number;
}

export interface ResyncReport {
  readonly source: string;
  readonly target: string;
  readonly dryRun: boolean;
  readonly flags: FlagsMode;
  readonly dedupe: boolean;
  readonly totals: ResyncTotals;
  /** Folders where something happened or differs (every folder with --debug-level detail is in the JSON). */
  readonly folders: FolderReport[];
  readonly skippedFolders: { folder: string; reason: string }[];
  readonly sourceChanged: boolean;
  readonly sourceChange?: SourceChange;
  readonly rsync?: { outcome: RsyncOutcome; meaning: string; attempts: number; hint?: string };
  readonly warnings: string[];
  readonly durationMs: number;
  readonly exitCode: ExitCodeValue;
}

/** Per folder dir, what the apply step did (apply.ts Applied has these). */
export interface AppliedCounts {
  readonly copied: ReadonlyMap<string, number>;
  readonly renamed: ReadonlyMap<string, number>;
  readonly subscribed?: ReadonlySet<string>;
}

/**
 * One report line per planned folder, sorted by display name. A dry run reports what it would do (every
 * non-duplicate copy, every rename); a real run what was done.
 */
export function buildFolderReports(
  plan: ResyncPlan,
  duplicates: ReadonlySet<string>,
  applied: AppliedCounts,
  run: { readonly dryRun: boolean; readonly layout: TreeLayout },
): FolderReport[] {
  const folders: FolderReport[] = plan.folders.map((folder) => {
    const dups = folder.copies.filter((c) => duplicates.has(messagePath(folder.dir, c))).length;
    const copied = run.dryRun ? folder.copies.length - dups : (applied.copied.get(folder.dir) ?? 0);
    return {
      folder: displayFolder(folder.dir, run.layout),
      dir: folder.dir,
      added: folder.isNew,
      subscribed: applied.subscribed?.has(folder.dir) ?? false,
      copied,
      notCopied: Math.max(0, folder.copies.length - dups - copied),
      alreadyPresent: folder.alreadyPresent,
      duplicatesSkipped: dups,
      flagDifferences: folder.flagDifferences.length,
      flagsApplied: run.dryRun ? folder.renames.length : (applied.renamed.get(folder.dir) ?? 0),
      targetOnly: folder.targetOnly.length,
      keywordsDropped: folder.droppedKeywords,
    };
  });
  return folders.sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : 0));
}

export function sumResyncTotals(folders: readonly FolderReport[], bytesCopied: number): ResyncTotals {
  return {
    copied: sum(folders, (f) => f.copied),
    notCopied: sum(folders, (f) => f.notCopied),
    alreadyPresent: sum(folders, (f) => f.alreadyPresent),
    duplicatesSkipped: sum(folders, (f) => f.duplicatesSkipped),
    flagDifferences: sum(folders, (f) => f.flagDifferences),
    flagsApplied: sum(folders, (f) => f.flagsApplied),
    foldersAdded: folders.filter((f) => f.added).length,
    targetOnly: sum(folders, (f) => f.targetOnly),
    bytesCopied,
  };
}

function sum<T>(items: readonly T[], pick: (item: T) => number): number {
  return items.reduce((total, item) => total + pick(item), 0);
}

/** Failures first (they need a person), then "run again", then partial (folders we refused to write into). */
export function decideResyncExit(outcome: RsyncOutcome | undefined, sourceChanged: boolean, hasSkippedFolders: boolean): ExitCodeValue {
  if (outcome === 'config') return ExitCode.config;
  if (outcome === 'fatal') return ExitCode.failed;
  if (outcome === 'network') return ExitCode.tempFail;
  if (outcome === 'partial') return ExitCode.partial;
  if (sourceChanged) return ExitCode.sourceChanged;
  if (hasSkippedFolders) return ExitCode.partial;
  return ExitCode.ok;
}

/** INBOX, Work/Projects; cPanel mailboxes as info@example.com:Sent. Undecodable names are shown raw. */
export function displayFolder(dir: string, layout: TreeLayout): string {
  let mailbox = '';
  let folderDir = dir;
  if (layout === 'cpanel-mail') {
    const parts = dir.split('/');
    if (parts.length >= 2 && !parts[0]!.startsWith('.')) {
      mailbox = `${parts[1]}@${parts[0]}:`;
      folderDir = parts.slice(2).join('/');
    }
  }
  if (folderDir === '') return `${mailbox}INBOX`;
  try {
    return `${mailbox}${maildirppToMailboxPath(folderDir)}`;
  } catch (err) {
    if (err instanceof FolderNameError || err instanceof Mutf7Error) return `${mailbox}${folderDir}`;
    throw err;
  }
}
