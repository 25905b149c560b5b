import { isMailshiftError, throwIfAborted } from '../../core/errors.js';
import { collect } from '../../core/async.js';
import type { MailboxPath } from '../../core/types.js';
import type { Mailbox, MailStore } from '../../stores/store.js';
import { buildIdentity, identityHeaderFields } from '../identity.js';
import { folderStateKey } from '../state.js';
import { buildSourceKeyPrefix, type Candidate, type FolderContext, type TargetEntry } from './context.js';
import { applyCopiedMessageFlags } from './flags.js';
import { claimTargetMessages, isWrittenFrom, listEarlierNamesakes } from './match.js';
import { runAppendPipeline } from './pipeline.js';
import { readHead } from './read.js';
import type { FolderCopyReport } from './report.js';
import { saveCheckpoint, saveWatermark, Watermark } from './watermark.js';

/**
 * One folder's copy, one attempt: list the source (above the watermark), list the target by identity, pair them, and
 * hand what the target lacks to the append pipeline. A retry (copy.ts) calls it again from the start.
 */

/** Source message ids each folder report has copied in this run, across attempts. */
const copiedByUs = new WeakMap<FolderCopyReport, Set<string>>();

export async function copyFolderOnce(context: FolderContext, folder: FolderCopyReport): Promise<void> {
  const { source, target, options, signal, state } = context;
  // Counts describe the last attempt; `copied` adds up over attempts, and what an earlier attempt copied is not
  // counted again as "already there".
  folder.examined = 0;
  folder.alreadyPresent = 0;
  folder.skipped = [];
  folder.vanished = 0;
  const copiedEarlier = copiedByUs.get(folder) ?? new Set<string>();
  copiedByUs.set(folder, copiedEarlier);
  const { logger } = options;
  const stateKey = folderStateKey(folder.source, folder.target);
  const saved = state?.get(stateKey);
  // The listing this attempt starts with (above the saved watermark, if the UIDVALIDITY still holds): an IMAP source
  // sends it in the round trip that opens the folder.
  const sourceBox = await source.store.openMailbox(folder.source, 'read', { listAfterUid: saved?.highestUid ?? 0 });
  let targetBox: Mailbox | undefined;
  try {
    const status = await sourceBox.status();
    folder.uidValidity = status.uidValidity;
    let afterUid = 0;
    if (saved && status.uidValidity !== undefined) {
      if (saved.uidValidity === status.uidValidity) {
        afterUid = saved.highestUid;
        folder.mode = 'incremental';
      } else {
        folder.mode = 'uidvalidity-changed';
        logger.warn(`${folder.source}: UIDVALIDITY changed (${saved.uidValidity} -> ${status.uidValidity}); comparing every message by identity, nothing is copied twice`);
        state?.delete(stateKey);
      }
    }

    const candidates: Candidate[] = [];
    // Metadata only: identities (header fields) are fetched below only if the target holds anything to compare with,
    // which keeps the first copy into an empty folder to one cheap listing plus the bodies.
    for await (const ref of sourceBox.list(signal, { afterUid })) {
      if (ref.uid !== undefined && ref.uid <= afterUid) continue;
      candidates.push({ ref });
    }
    candidates.sort((a, b) => (a.ref.uid ?? Number.MAX_SAFE_INTEGER) - (b.ref.uid ?? Number.MAX_SAFE_INTEGER));
    folder.examined = candidates.length;
    // Built before problems are taken out: a skipped message with a UID holds the watermark below it, so the next run
    // looks at it (and reports it) again.
    const watermark = new Watermark(afterUid, candidates.map((each) => each.ref.uid));
    for (let i = candidates.length - 1; i >= 0; i -= 1) {
      const { problem } = candidates[i]!.ref;
      if (!problem) continue;
      const { ref } = candidates.splice(i, 1)[0]!;
      folder.skipped.unshift({ id: ref.id, ...(ref.uid !== undefined ? { uid: ref.uid } : {}), reason: problem.message });
      logger.warn(`${folder.source}: message ${ref.uid ?? ref.id} skipped: ${problem.message}`);
    }
    // Flags of what earlier runs copied, before the new mail (a folder with nothing new still gets them).
    const savedBefore = context.savedState?.get(stateKey);
    const copiedEarlierUpTo = savedBefore && savedBefore.uidValidity === status.uidValidity ? savedBefore.highestUid : 0;
    if (options.flags && options.flags !== 'target' && copiedEarlierUpTo > 0 && status.uidValidity !== undefined) {
      targetBox = await target.store.openMailbox(folder.target, 'write');
      if (targetBox?.updateFlags) await applyCopiedMessageFlags(context, folder, sourceBox, targetBox, options.flags, status.uidValidity, copiedEarlierUpTo);
    }

    if (candidates.length === 0) {
      context.onPlanned(folder, folder.copied, folder.copiedBytes);
      saveWatermark(state, stateKey, status.uidValidity, watermark);
      return;
    }

    targetBox ??= await target.store.openMailbox(folder.target, 'write');
    const targetIndex = new Map<string, TargetEntry[]>();
    if (targetBox && (options.skipExisting ?? true)) {
      for await (const ref of targetBox.list(signal, { headerFields: identityHeaderFields })) {
        const identity = buildIdentity(ref.headers ?? (await readHead(targetBox, ref, signal)));
        const list = targetIndex.get(identity.key) ?? [];
        list.push({ ref, identity, isTaken: false });
        targetIndex.set(identity.key, list);
      }
    }

    // The source's own identity for each message (UIDVALIDITY + UID), when it has one: a maildir target names the
    // file from it rather than from a hash of the content. The name also carries INTERNALDATE and both sizes, so a
    // server that reuses UIDs without changing UIDVALIDITY (a protocol violation) would need a different message
    // with the same UID, arrival second and sizes before one could be taken for another.
    const sourceKeyPrefix = status.uidValidity !== undefined ? buildSourceKeyPrefix(source.label, folder.source, status.uidValidity) : undefined;
    // And its UIDs, which a maildir target keeps where it can.
    const uidSource = status.uidValidity !== undefined && status.uidNext !== undefined ? { uidValidity: status.uidValidity, nextUid: status.uidNext } : undefined;

    const eligible: Candidate[] = [];
    for (const candidate of candidates) {
      const { ref } = candidate;
      if (options.maxSizeBytes !== undefined && ref.sizeBytes !== undefined && ref.sizeBytes > options.maxSizeBytes) {
        folder.skipped.push({ id: ref.id, ...(ref.uid !== undefined ? { uid: ref.uid } : {}), reason: `larger than --max-size (${ref.sizeBytes} bytes)` });
        continue;
      }
      eligible.push(candidate);
    }

    let claims = new Map<Candidate, TargetEntry>();
    if (targetIndex.size > 0) {
      const sourceHeaders = new Map<string, Buffer>();
      for await (const ref of sourceBox.list(signal, { afterUid, headerFields: identityHeaderFields })) {
        if (ref.headers) sourceHeaders.set(ref.id, ref.headers);
      }
      for (const candidate of eligible) {
        throwIfAborted(signal);
        const { ref } = candidate;
        candidate.identity = buildIdentity(sourceHeaders.get(ref.id) ?? ref.headers ?? (await readHead(sourceBox, ref, signal)));
      }
      // Identical messages are counted, never collapsed: an identity is on each side as many times as it occurs
      // there. On an incremental run the source messages at or below the watermark are on the target already (an
      // earlier run copied them), so they hold their target copies first; a new message is "already there" only
      // when the target has one more copy than that (one an interrupted run wrote after its last state save).
      const earlier = afterUid > 0 ? await listEarlierNamesakes(context, sourceBox, afterUid, eligible, targetIndex) : [];
      claims = await claimTargetMessages(context, targetIndex, [...earlier, ...eligible], sourceBox, targetBox, sourceKeyPrefix);
    }

    const toCopy: Candidate[] = [];
    for (const candidate of eligible) {
      const { ref } = candidate;
      const claimed = claims.get(candidate);
      if (claimed) {
        if (!copiedEarlier.has(ref.id)) folder.alreadyPresent += 1;
        watermark.markDone(ref);
        // Written from this very source message by an earlier run that did not finish (killed before it recorded the
        // UIDs): record the source's UID now, as that run would have, so the server does not give it a new one.
        if (claimed.ref.uid === undefined && ref.uid !== undefined && uidSource && targetBox.adoptSourceUid && isWrittenFrom(targetBox, claimed.ref, sourceKeyPrefix, ref)) {
          targetBox.adoptSourceUid(claimed.ref, { uid: ref.uid, uidSource });
        }
      } else {
        toCopy.push(candidate);
      }
    }

    context.onPlanned(folder, folder.copied + toCopy.length, folder.copiedBytes + toCopy.reduce((sum, each) => sum + (each.ref.sizeBytes ?? 0), 0));
    // A dry run stops here, before any body is read: what would be copied is what the listing planned.
    if (options.dryRun) {
      folder.copied = toCopy.length;
      folder.copiedBytes = toCopy.reduce((sum, each) => sum + (each.ref.sizeBytes ?? 0), 0);
      return;
    }
    await runAppendPipeline(context, folder, { sourceBox, targetBox, toCopy, watermark, stateKey, uidValidity: status.uidValidity, sourceKeyPrefix, uidSource, copiedEarlier });
    // Another folder's save may write the state file before this one is finished (disposed).
    await saveCheckpoint(state, stateKey, status.uidValidity, watermark, targetBox);
    logger.info(
      `${folder.source} -> ${folder.target}: ${folder.copied} copied, ${folder.alreadyPresent} already there${folder.skipped.length ? `, ${folder.skipped.length} skipped` : ''}`,
    );
  } finally {
    if (targetBox) await targetBox[Symbol.asyncDispose]();
    await sourceBox[Symbol.asyncDispose]();
  }
}

/**
 * A folder opened for reading, or undefined when the store cannot open it (no such folder, a name the server
 * refuses). Opened by its path, so the store's own name mapping decides which folder that is ("Work/v1.2" is
 * INBOX.Work.v1_2 on a server whose delimiter is '.'). Account-level and transient failures are thrown.
 */
export async function openExistingMailbox(store: MailStore, path: MailboxPath): Promise<Mailbox | undefined> {
  try {
    return await store.openMailbox(path, 'read');
  } catch (err) {
    if (isMailshiftError(err) && err.scope !== 'account' && err.scope !== 'run' && err.retry !== 'later') return undefined;
    throw err;
  }
}

export async function listTargetFolders(store: MailStore, signal: AbortSignal): Promise<{ path: MailboxPath; specialUse?: string }[]> {
  try {
    return await collect(store.listMailboxes(signal));
  } catch (err) {
    // A maildir target that does not exist yet has no folders; it is created by the first append.
    if (isMailshiftError(err) && err.code === 'MAILSHIFT_MAILDIR_MISSING') return [];
    throw err;
  }
}
