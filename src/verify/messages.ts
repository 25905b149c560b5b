import { planFolderMapping, type FolderEntry, type FolderMapRule } from '../../converters/folders/imap-mapping.js';
import { collect } from '../core/async.js';
import type { Logger } from '../core/logger.js';
import type { MailboxPath } from '../core/types.js';
import { buildIdentity, identityHeaderFields } from '../engine/identity.js';
import type { StoreDescription } from '../engine/messages/copy.js';
import { listTargetFolders, openExistingMailbox } from '../engine/messages/folder.js';
import { readHead } from '../engine/messages/read.js';
import type { Mailbox } from '../stores/store.js';
import { compareFolder, type FolderComparison } from './compare.js';
import { numberIdenticalMessages } from './pair-identical.js';
import { buildVerifyReport, type VerifyReport } from './report.js';
import { formatFlagSet, type FolderSnapshot, type MessageMeta } from './snapshot.js';

/**
 * verify across formats (IMAP on either side): the same folder mapping as the copy, then per folder the messages of
 * both sides keyed by cross-format identity (Message-ID + normalised header hash) and compared by verify's own
 * compareFolder, so the report, the text and JSON output and the exit codes are those of `mailshift verify`.
 *
 * A message that is in a folder twice (identical messages, a real duplicate) gets the keys KEY and KEY#2: the target
 * must hold it twice as well. Which target copy is KEY#2 is decided by UID, then by flags (numberIdenticalMessages),
 * so a correct copy verifies clean. UIDs are never kept by a copy into IMAP (APPEND cannot choose them), so strict
 * mode reports them as changed there; a maildir target keeps them.
 */
export interface StoreVerifyOptions {
  readonly maps?: readonly FolderMapRule[];
  readonly excludes?: readonly RegExp[];
  readonly skipVirtual?: boolean;
  readonly strict?: boolean;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

export async function runStoreVerify(source: StoreDescription, target: StoreDescription, options: StoreVerifyOptions): Promise<VerifyReport> {
  const signal = options.signal ?? new AbortController().signal;
  const sourceFolders = await collect(source.store.listMailboxes(signal));
  const targetFolders = await listTargetFolders(target.store, signal);
  const mapping = planFolderMapping(sourceFolders as FolderEntry[], targetFolders as FolderEntry[], {
    ...(options.maps ? { maps: options.maps } : {}),
    ...(options.excludes ? { excludes: options.excludes } : {}),
    ...(options.skipVirtual !== undefined ? { skipVirtual: options.skipVirtual } : {}),
  });
  const comparisons: FolderComparison[] = [];
  for (const row of mapping) {
    if (row.action !== 'copy') continue;
    const sourceSnapshot = await snapshotFolder(await source.store.openMailbox(row.source, 'read'), row.source, signal);
    // Opened by path rather than looked up in the listing: a name the target stores differently ("v1.2" as "v1_2"
    // under a '.' delimiter) lists back under the stored name.
    const targetBox = await openExistingMailbox(target.store, row.target);
    const targetSnapshot = targetBox ? await snapshotFolder(targetBox, row.source, signal) : undefined;
    const numbered = numberIdenticalMessages(sourceSnapshot, targetSnapshot);
    comparisons.push(compareFolder(numbered.source, numbered.target));
  }
  const skipped = [
    // Folders the source store found but cannot offer (a name that is no folder): not compared, so never OK.
    ...(source.store.skippedFolders ?? []).map((each) => ({ mailbox: '', directory: each.directory, reason: each.reason })),
    ...mapping
      .filter((row) => row.action === 'skip')
      .map((row) => ({ mailbox: '', directory: row.source, reason: row.action === 'skip' ? row.reason : '', isChosen: isChosenSkip(row.reason) })),
  ];
  return buildVerifyReport(source.label, target.label, comparisons, skipped, { strict: Boolean(options.strict) });
}

/**
 * One folder as verify sees it, keyed by identity (identical messages share a key until numberIdenticalMessages);
 * `label` is the folder name both sides are reported under. Closes the box.
 */
async function snapshotFolder(box: Mailbox, label: MailboxPath, signal: AbortSignal): Promise<FolderSnapshot> {
  try {
    const status = await box.status();
    const messages: MessageMeta[] = [];
    for await (const ref of box.list(signal, { headerFields: identityHeaderFields })) {
      const { key } = buildIdentity(ref.headers ?? (await readHead(box, ref, signal)));
      messages.push({
        key,
        flags: formatFlagSet(ref.flags, ref.keywords),
        sizeBytes: ref.sizeBytes ?? 0,
        ...(ref.uid !== undefined ? { uid: ref.uid } : {}),
      });
    }
    return { mailbox: '', folder: label, ...(status.uidValidity !== undefined ? { uidValidity: status.uidValidity } : {}), messages };
  } finally {
    await box[Symbol.asyncDispose]();
  }
}

/** A mapping row skipped on the user's word (`--exclude`, virtual folders left out by default), not for a problem. */
function isChosenSkip(reason: string): boolean {
  return reason.startsWith('--exclude') || /virtual folder/i.test(reason);
}
