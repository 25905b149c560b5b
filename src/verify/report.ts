import { ExitCode, type ExitCodeValue } from '../core/exit-codes.js';
import type { FolderComparison } from './compare.js';
import type { SkippedFolder } from './snapshot.js';

/** The whole verify result: folders, totals, and the exit code it implies. */
export interface VerifyReport {
  readonly source: string;
  readonly target: string;
  readonly folders: FolderComparison[];
  readonly skippedFolders: SkippedFolder[];
  readonly totals: {
    readonly sourceMessages: number;
    readonly targetMessages: number;
    readonly sourceBytes: number;
    readonly targetBytes: number;
    readonly missing: number;
    readonly duplicates: number;
    readonly flagDifferences: number;
    readonly uidsChanged: number;
    readonly foldersWithChangedUids: number;
  };
  readonly ok: boolean;
  readonly exitCode: ExitCodeValue;
}

/**
 * Exit 0 when nothing is missing, 4 otherwise. With `strict`, duplicates on the target, flag differences and
 * UIDs not kept count as differences too. A source folder that could not be compared (its name is no folder, it
 * could not be read) is never OK: exit 3 when nothing else differs. Folders left out by the user's choice are not.
 */
export function buildVerifyReport(source: string, target: string, folders: FolderComparison[], skippedFolders: SkippedFolder[], options: { strict?: boolean } = {}): VerifyReport {
  const totals = {
    sourceMessages: 0,
    targetMessages: 0,
    sourceBytes: 0,
    targetBytes: 0,
    missing: 0,
    duplicates: 0,
    flagDifferences: 0,
    uidsChanged: 0,
    foldersWithChangedUids: 0,
  };
  for (const f of folders) {
    totals.sourceMessages += f.source.messages;
    totals.targetMessages += f.target.messages;
    totals.sourceBytes += f.source.bytes;
    totals.targetBytes += f.target.bytes;
    totals.missing += f.missing.length;
    totals.duplicates += f.duplicates.length;
    totals.flagDifferences += f.flagDifferences.length;
    totals.uidsChanged += f.uids.changed;
    if (f.uids.verdict === 'changed') totals.foldersWithChangedUids += 1;
  }
  const strictProblems = totals.duplicates + totals.flagDifferences + totals.foldersWithChangedUids;
  const isSame = totals.missing === 0 && (!options.strict || strictProblems === 0);
  const isComplete = skippedFolders.every((each) => each.isChosen);
  const sorted = [...folders].sort((a, b) => (a.mailbox === b.mailbox ? compareFolderNames(a.folder, b.folder) : a.mailbox < b.mailbox ? -1 : 1));
  const exitCode = !isSame ? ExitCode.differences : !isComplete ? ExitCode.partial : ExitCode.ok;
  return { source, target, folders: sorted, skippedFolders, totals, ok: isSame && isComplete, exitCode };
}

function compareFolderNames(a: string, b: string): number {
  if (a === b) return 0;
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : 1;
}
