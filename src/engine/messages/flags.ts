import type { ListedMessage, FlagUpdate, FlagUpdateMode, Mailbox } from '../../stores/store.js';
import { buildIdentity, identityHeaderFields } from '../identity.js';
import { folderStateKey } from '../state.js';
import { buildSourceKeyPrefix, type Candidate, type FolderContext, type TargetEntry } from './context.js';
import { claimTargetMessages } from './match.js';
import { readHead } from './read.js';
import type { FolderCopyReport } from './report.js';

/**
 * `resync --flags source|merge`: the source's flags for every message at or below the saved watermark (copied by an
 * earlier run with this UIDVALIDITY), handed to the target, which finds each one
 * - by the source identity its file was named from (a maildir: caps.flagsBySourceKey), or
 * - by its own UID (an IMAP target: caps.flagsByTargetUid), from the map the sync state keeps: filled from APPENDUID
 *   as messages are copied, or, for what was copied without UIDPLUS (or by an older mailshift), found by identity
 *   once and then kept.
 * Messages the target does not have (copied by another tool, expunged there) are left alone and counted.
 *
 * Where the source keeps mod-sequences (IMAP CONDSTORE), only the messages whose flags changed since the last
 * `resync --flags` are read and handed on (CHANGEDSINCE the HIGHESTMODSEQ the folder had when that run opened it,
 * kept in the sync state): a folder of 100,000 messages with three changed costs three lines, not 100,000. The
 * first such run reads them all. So `--flags source` brings over what changed on the source; a flag changed only on
 * the target stays until its message changes on the source.
 */
export async function applyCopiedMessageFlags(
  context: FolderContext,
  folder: FolderCopyReport,
  sourceBox: Mailbox,
  targetBox: Mailbox,
  mode: FlagUpdateMode,
  uidValidity: number,
  copiedUpTo: number,
): Promise<void> {
  const prefix = buildSourceKeyPrefix(context.source.label, folder.source, uidValidity);
  const key = folderStateKey(folder.source, folder.target);
  // Taken when the folder was opened, before its flags are read: a change made while we work is above it.
  const { highestModseq } = await sourceBox.status();
  const changedSinceModseq = highestModseq !== undefined && (await hasTargetUidMap(context, key, targetBox)) ? context.savedState?.flagsModseq(key) : undefined;
  const copied: ListedMessage[] = [];
  for await (const ref of sourceBox.list(context.signal, changedSinceModseq !== undefined ? { changedSinceModseq } : {})) {
    if (ref.uid === undefined || ref.uid > copiedUpTo || ref.problem) continue;
    copied.push(ref);
  }
  const targetUids = context.target.store.caps.flagsByTargetUid ? await readTargetUids(context, folder, sourceBox, targetBox, copied) : undefined;
  const updates: FlagUpdate[] = copied.map((ref) => {
    const targetUid = targetUids?.get(ref.uid!);
    return { sourceKey: `${prefix}${ref.uid}`, flags: ref.flags, keywords: ref.keywords, ...(targetUid !== undefined ? { targetUid } : {}) };
  });
  // In a dry run the target is withDryRun's proxy, whose updateFlags only counts.
  const outcome = await targetBox.updateFlags!(updates, mode);
  folder.flagDifferences = outcome.differences;
  folder.flagsApplied += outcome.applied;
  if (outcome.changedMeanwhile > 0) context.options.logger.warn(`${folder.target}: ${outcome.changedMeanwhile} message(s) changed on the target while we worked; their flags are left as they are`);
  if (outcome.notFound > 0) context.options.logger.info(`${folder.target}: ${outcome.notFound} earlier copied message(s) not found by their source identity (copied by another tool, or expunged there); their flags are left alone`);
  // Not in a dry run (no state to write). A later run reads only what changed after this point, unless some messages
  // were left as they were (changed on the target meanwhile): the next run looks at every message again.
  if (highestModseq !== undefined && outcome.changedMeanwhile === 0) context.state?.setFlagsModseq(key, highestModseq);
}

/**
 * An IMAP target needs the map from source to target UIDs for every copied message: without one that fits (a state
 * an older mailshift wrote, a target folder with a new UIDVALIDITY) every message is read once, so that all of them are
 * paired by identity and the map is whole again. A target that finds messages by their source identity needs none.
 */
async function hasTargetUidMap(context: FolderContext, key: string, targetBox: Mailbox): Promise<boolean> {
  if (!context.target.store.caps.flagsByTargetUid) return true;
  const map = context.savedState?.targetUidMap(key);
  return map !== undefined && map.uidValidity === (await targetBox.status()).uidValidity;
}

/**
 * Source UID -> target UID for the copied messages: from the state's map while the target folder keeps its
 * UIDVALIDITY; the ones the map lacks are paired by identity (each target message at most once, never one the map
 * already gives another source message) and recorded, so this costs two header listings once, not on every run.
 */
async function readTargetUids(context: FolderContext, folder: FolderCopyReport, sourceBox: Mailbox, targetBox: Mailbox, copied: readonly ListedMessage[]): Promise<Map<number, number>> {
  const { signal, state, savedState } = context;
  const key = folderStateKey(folder.source, folder.target);
  const targetUidValidity = (await targetBox.status()).uidValidity;
  const found = new Map<number, number>();
  if (targetUidValidity === undefined) return found;
  const saved = savedState?.targetUidMap(key);
  const map = saved && saved.uidValidity === targetUidValidity ? saved : undefined;
  const missing: ListedMessage[] = [];
  for (const ref of copied) {
    const targetUid = map?.get(ref.uid!);
    if (targetUid !== undefined) found.set(ref.uid!, targetUid);
    else missing.push(ref);
  }
  if (missing.length === 0) return found;

  const taken = new Set(map ? map.targetUids() : []);
  const index = new Map<string, TargetEntry[]>();
  for await (const ref of targetBox.list(signal, { headerFields: identityHeaderFields })) {
    if (ref.uid === undefined) continue;
    const identity = buildIdentity(ref.headers ?? (await readHead(targetBox, ref, signal)));
    const entries = index.get(identity.key) ?? [];
    entries.push({ ref, identity, isTaken: taken.has(ref.uid) });
    index.set(identity.key, entries);
  }
  const wanted = new Set(missing.map((ref) => ref.uid!));
  const candidates: Candidate[] = [];
  for await (const ref of sourceBox.list(signal, { headerFields: identityHeaderFields })) {
    if (ref.uid === undefined || !wanted.has(ref.uid)) continue;
    candidates.push({ ref, identity: buildIdentity(ref.headers ?? (await readHead(sourceBox, ref, signal))) });
  }
  candidates.sort((a, b) => a.ref.uid! - b.ref.uid!);
  const claims = await claimTargetMessages(context, index, candidates, sourceBox, targetBox, undefined);
  for (const [candidate, entry] of claims) {
    found.set(candidate.ref.uid!, entry.ref.uid!);
    // Not in a dry run (no state to write): it only counts.
    state?.recordTargetUid(key, targetUidValidity, candidate.ref.uid!, entry.ref.uid!);
  }
  context.options.logger.info(`${folder.target}: ${claims.size} of ${missing.length} earlier copied message(s) found by identity; their target UIDs are kept for next time`);
  return found;
}
