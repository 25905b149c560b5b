import type { FlagUpdate, FlagUpdateMode, Mailbox } from '../../stores/store.js';
import { buildSourceKeyPrefix, type FolderContext } from './context.js';
import type { FolderCopyReport } from './report.js';

/**
 * `resync --flags source|merge`: the source's flags for every message at or below the saved watermark (copied by an
 * earlier run with this UIDVALIDITY), handed to the target, which finds each by the source identity it was named
 * from. Messages the target does not have under that identity (copied by another tool, expunged there) are left alone.
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
  const updates: FlagUpdate[] = [];
  for await (const ref of sourceBox.list(context.signal)) {
    if (ref.uid === undefined || ref.uid > copiedUpTo || ref.problem) continue;
    updates.push({ sourceKey: `${prefix}${ref.uid}`, flags: ref.flags, keywords: ref.keywords });
  }
  // In a dry run the target is withDryRun's proxy, whose updateFlags only counts.
  const outcome = await targetBox.updateFlags!(updates, mode);
  folder.flagDifferences = outcome.differences;
  folder.flagsApplied += outcome.applied;
  if (outcome.changedMeanwhile > 0) context.options.logger.warn(`${folder.target}: ${outcome.changedMeanwhile} message(s) changed on the target while we worked; their flags are left as they are`);
  if (outcome.notFound > 0) context.options.logger.info(`${folder.target}: ${outcome.notFound} earlier copied message(s) not found by their source identity (copied by another tool, or expunged there); their flags are left alone`);
}
