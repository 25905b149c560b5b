import path from 'node:path';
import { maildirBaseName } from '../../converters/maildir/filename.js';
import { ExitCode } from '../core/exit-codes.js';
import { missingOnTargetReason } from '../engine/operations/verify.js';
import type { MissingMessage, SkippedEntry, StageOutcome } from './state/types.js';

/**
 * verify after a copy that refused some messages (an unsafe name, a sparse file: listed with their reasons) finds
 * exactly those missing on the target. Judged alone, the account would fail at every run, though nothing went wrong
 * that the copy did not already report. When every message verify misses is one the account's copy stages refused,
 * the account is complete with exceptions: finished, each of them listed with the copy's reason. Anything verify
 * misses that no copy refused keeps the account failed. Pure.
 *
 * A refused file is known by its path (the files engine lists `JOB: /path/to/cur/NAME:2,FLAGS`); verify by the
 * maildir base name (NAME, before the ':' of the info part). A message the messages engine skipped (`--max-size`, an
 * unreadable message) is known by its source folder and UID (`FOLDER UID N`), which verify gives for what it misses
 * when the source has UIDs.
 */
export function reconcileVerifyWithCopySkips(outcome: StageOutcome, copySkipped: readonly SkippedEntry[]): StageOutcome {
  if (outcome.status !== 'failed' || outcome.exitCode !== ExitCode.differences || !outcome.missing || outcome.missing.length === 0) return outcome;
  const refused = new Map<string, string>();
  const refusedByUid = new Map<string, string>();
  for (const entry of copySkipped) {
    const byUid = /^(.*) UID (\d+)$/.exec(entry.item);
    if (byUid) refusedByUid.set(folderUidKey(byUid[1]!, Number(byUid[2])), entry.reason);
    const name = path.posix.basename(entry.item);
    refused.set(maildirBaseName(name), entry.reason);
  }
  const reasonFor = (each: MissingMessage): string | undefined =>
    (each.sourceFolder !== undefined && each.sourceUid !== undefined ? refusedByUid.get(folderUidKey(each.sourceFolder, each.sourceUid)) : undefined) ?? refused.get(each.key);
  const explained = outcome.missing.filter((each) => reasonFor(each) !== undefined);
  if (explained.length !== outcome.missing.length) return outcome;
  // Every message verify missed is explained: its "missing on the target" entries give way to the explained ones.
  const skipped: SkippedEntry[] = [
    ...outcome.skipped.filter((entry) => entry.reason !== missingOnTargetReason),
    ...explained.map((each) => ({ item: `${each.folder} ${each.key}`, reason: `missing on the target: the copy did not copy it (${reasonFor(each)})` })),
  ];
  const { error: _error, failureKind: _kind, ...rest } = outcome;
  return { ...rest, status: 'done-with-skips', exitCode: ExitCode.partial, skipped };
}

function folderUidKey(folder: string, uid: number): string {
  return `${folder}\u0000${uid}`;
}
