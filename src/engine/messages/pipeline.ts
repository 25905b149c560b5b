import { toLfInPlace } from '../../../converters/message/crlf.js';
import { decideBackoffMs, retryAfterMs, sleep } from '../../core/async.js';
import { describeError, isMailshiftError, throwIfAborted } from '../../core/errors.js';
import type { IncomingMessage, MessageRef } from '../../core/types.js';
import type { ListedMessage, Mailbox } from '../../stores/store.js';
import type { Candidate, FolderContext } from './context.js';
import { readBodies } from './read.js';
import { ByteBudgetReachedError } from './pacing.js';
import type { FolderCopyReport } from './report.js';
import { openSplitRead } from './split-read.js';
import { saveCheckpoint, type Watermark } from './watermark.js';

/** One folder's messages to append, and what the append needs to know about them. */
export interface AppendJob {
  readonly sourceBox: Mailbox;
  /** Opened for writing: the first append lane. */
  readonly targetBox: Mailbox;
  readonly toCopy: readonly Candidate[];
  readonly watermark: Watermark;
  readonly stateKey: string;
  readonly uidValidity: number | undefined;
  readonly sourceKeyPrefix: string | undefined;
  /** The source's UIDs, which a maildir target keeps where it can. */
  readonly uidSource: { readonly uidValidity: number; readonly nextUid: number } | undefined;
  /** Source message ids copied by this run's earlier attempts at the folder: counted as copied, not "already there". */
  readonly copiedEarlier: Set<string>;
}

/**
 * Streams the bodies of `toCopy` from the source (read ahead while the target writes) and appends them in batches
 * (one MULTIAPPEND where the target offers it) on one or more lanes, saving the watermark as messages land. Throws
 * the first lane failure that is not message-level; message-level ones are skipped and reported.
 */
export async function runAppendPipeline(context: FolderContext, folder: FolderCopyReport, job: AppendJob): Promise<void> {
  const { target, options, signal, state, pacer } = context;
  const { logger } = options;
  const { sourceBox, targetBox, toCopy, watermark, stateKey, uidValidity, sourceKeyPrefix, uidSource, copiedEarlier } = job;
  // Append lanes: IMAP answers one APPEND at a time per connection, so an IMAP target gets several connections to
  // the same folder and the appends go out side by side. A maildir target writes in order on one lane.
  const lanes: Mailbox[] = [targetBox];
  const extraLanes = target.store.caps.parallelAppend ? Math.max(0, context.appendLanes - 1) : 0;
  try {
    for (let i = 0; i < extraLanes; i += 1) lanes.push(await target.store.openMailbox(folder.target, 'write'));
  } catch (err) {
    // Fewer lanes is only slower; a server that refuses more connections is not an error.
    logger.debug(`${folder.target}: using ${lanes.length} connection(s) for appends: ${describeError(err)}`);
  }
  // A lane that pipelines its appends (IMAP over one connection) takes several at once: each slot is one append
  // call in flight, so batches go out back to back instead of a round trip apart.
  const idle = lanes.flatMap((lane) => Array.from({ length: Math.max(1, lane.appendSlots ?? 1) }, () => lane));
  // The target's UIDs of what we append, where it says them (IMAP UIDPLUS): kept in the state, so a later
  // `resync --flags` finds each message there by its UID.
  const targetUidValidity = state && uidValidity !== undefined && target.store.caps.flagsByTargetUid ? (await targetBox.status()).uidValidity : undefined;
  const inFlight = new Set<Promise<void>>();
  let laneFailure: { error: unknown } | undefined;
  /** --max-bytes reached: what is read and batched goes out, nothing more is read, then the run stops. */
  let isBudgetReached = false;
  let lastSave = Date.now();

  const toIncoming = (ref: ListedMessage, body: Buffer, virtualSizeBytes?: number): IncomingMessage => ({
    content: body,
    flags: ref.flags,
    keywords: ref.keywords,
    ...(ref.internalDate ? { internalDate: ref.internalDate } : {}),
    ...(sourceKeyPrefix !== undefined && ref.uid !== undefined ? { sourceKey: `${sourceKeyPrefix}${ref.uid}` } : {}),
    ...(uidSource && ref.uid !== undefined ? { uid: ref.uid, uidSource } : {}),
    ...(virtualSizeBytes !== undefined ? { virtualSizeBytes } : {}),
  });
  const markCopied = (ref: ListedMessage, body: Buffer, targetUid: number | undefined) => {
    if (targetUidValidity !== undefined && ref.uid !== undefined && targetUid !== undefined) state?.recordTargetUid(stateKey, targetUidValidity, ref.uid, targetUid);
    folder.copied += 1;
    folder.copiedBytes += body.length;
    copiedEarlier.add(ref.id);
    watermark.markDone(ref);
    context.onCopied(body.length, ref.sizeBytes);
  };
  const appendOne = async (lane: Mailbox, { ref, body, virtualSizeBytes }: Fetched): Promise<void> => {
    try {
      const appended = await appendRefusalsRetried(context, folder, () => lane.append(toIncoming(ref, body, virtualSizeBytes), signal));
      markCopied(ref, body, appended.uid);
    } catch (err) {
      if (!isMailshiftError(err) || err.scope !== 'message') throw err;
      folder.skipped.push({ id: ref.id, ...(ref.uid !== undefined ? { uid: ref.uid } : {}), reason: err.message });
      logger.warn(`${folder.source}: message ${ref.uid ?? ref.id} skipped: ${err.message}`);
    }
  };
  /** A batch goes out as one MULTIAPPEND where the store can; if the server refuses one of its messages, one by one. */
  const appendBatch = async (lane: Mailbox, batch: readonly Fetched[]): Promise<void> => {
    try {
      if (lane.appendMany && batch.length > 1) {
        try {
          const uids = await appendRefusalsRetried(context, folder, () => lane.appendMany!(batch.map(({ ref, body, virtualSizeBytes }) => toIncoming(ref, body, virtualSizeBytes)), signal));
          batch.forEach(({ ref, body }, i) => markCopied(ref, body, uids?.[i]));
          return;
        } catch (err) {
          if (!isMailshiftError(err) || err.scope !== 'message') throw err;
          logger.debug(`${folder.source}: a batch of ${batch.length} was refused (${err.message}); sending them one by one`);
        }
      }
      for (const each of batch) {
        throwIfAborted(signal);
        await appendOne(lane, each);
      }
    } catch (err) {
      laneFailure ??= { error: err };
    } finally {
      idle.push(lane);
    }
  };

  try {
    // One window by default: the source streams every body in one pipelined pass (a pause between windows
    // cost a round trip and an idle server each time); memory is bounded by readAhead, not by the window.
    const windowSize = Math.max(1, options.windowSize ?? toCopy.length);
    const batchMessages = Math.max(1, options.batchMessages ?? 100);
    let batch: Fetched[] = [];
    let batchBytes = 0;
    const dispatch = async () => {
      if (batch.length === 0) return;
      while (idle.length === 0) await Promise.race(inFlight);
      if (laneFailure) return;
      const task = appendBatch(idle.shift()!, batch);
      batch = [];
      batchBytes = 0;
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
    };
    for (let at = 0; at < toCopy.length && !laneFailure && !isBudgetReached; at += windowSize) {
      const window = toCopy.slice(at, at + windowSize).map((each) => each.ref);
      const seen = new Set<MessageRef>();
      // A large folder read in one window is read over the run's spare connections too, by UID range (split-read.ts).
      const split = windowSize >= toCopy.length ? openSplitRead(context, folder, sourceBox, window, uidValidity) : undefined;
      try {
        for await (const { ref, content } of readAhead(split?.bodies ?? readBodies(sourceBox, window, signal, (ref, reason) => folder.skipped.push({ id: ref.id, ...(ref.uid !== undefined ? { uid: ref.uid } : {}), reason })), readAheadMessages, readAheadBytes)) {
          throwIfAborted(signal);
          if (!pacer.tryReserve(content.length)) {
            isBudgetReached = true;
            break;
          }
          await pacer.pace(content.length, signal);
          seen.add(ref);
          // readMany hands over its buffers: converting in place saves a copy of every message.
          const converted = context.lineEndings === 'lf' ? toLfInPlace(content) : undefined;
          const body = converted ? converted.content : content;
          batch.push({ ref: ref as ListedMessage, body, ...(converted ? { virtualSizeBytes: converted.virtualSizeBytes } : {}) });
          batchBytes += body.length;
          if (batch.length >= batchMessages || batchBytes >= batchMaxBytes) await dispatch();
          if (laneFailure) break;
          if (state && Date.now() - lastSave > (options.stateSaveIntervalMs ?? 2_000)) {
            await saveCheckpoint(state, stateKey, uidValidity, watermark, targetBox);
            await state.save();
            lastSave = Date.now();
          }
        }
      } finally {
        await split?.close();
      }
      await dispatch();
      await Promise.all(inFlight);
      if (laneFailure || isBudgetReached) break;
      const skippedIds = new Set(folder.skipped.map((each) => each.id));
      for (const ref of window) {
        if (seen.has(ref) || skippedIds.has(ref.id)) continue;
        // Expunged on the source after we listed it: nothing to copy, and nothing lost.
        folder.vanished += 1;
        watermark.markDone(ref);
      }
    }
    await Promise.all(inFlight);
  } finally {
    await Promise.all(inFlight);
    for (const lane of lanes.slice(1)) await lane[Symbol.asyncDispose]();
  }
  if (laneFailure) throw laneFailure.error;
  if (isBudgetReached) {
    // What landed is recorded first: the next run starts where this one stopped.
    await saveCheckpoint(state, stateKey, uidValidity, watermark, targetBox);
    throw new ByteBudgetReachedError(options.maxBytes ?? pacer.reservedBytes, pacer.reservedBytes);
  }
}

/** A source message read and ready to append. */
interface Fetched {
  readonly ref: ListedMessage;
  readonly body: Buffer;
  /** RFC822.SIZE, when the line-end conversion counted it. */
  readonly virtualSizeBytes?: number;
}

/** How far the body reader may run ahead of the writer: the source's network and the target's disk work at once. */
const readAheadMessages = 64;
const readAheadBytes = 16 * 1024 * 1024;
/**
 * A MULTIAPPEND is sent once it holds this much, whatever the count: over a slow link the first batch goes out while
 * the next is read, and with 4 pipelined per connection (mailbox appendSlots) at most 8 MB of bodies wait for an answer.
 */
const batchMaxBytes = 2 * 1024 * 1024;

/**
 * Pulls from `source` into a bounded queue (at most `maxItems` messages and about `maxBytes`) while the consumer
 * works on earlier ones. When the consumer stops early the source is closed (its `return()`), and this generator
 * only finishes once the source has, so an IMAP fetch never outlives the folder it belongs to.
 */
export async function* readAhead<T extends { content: Buffer }>(source: AsyncIterable<T>, maxItems: number, maxBytes: number): AsyncIterable<T> {
  const queue: T[] = [];
  let queuedBytes = 0;
  let isDone = false;
  let isStopped = false;
  let failure: { error: unknown } | undefined;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;
  const producer = (async () => {
    try {
      for await (const item of source) {
        queue.push(item);
        queuedBytes += item.content.length;
        wakeConsumer?.();
        while (!isStopped && (queue.length >= maxItems || queuedBytes >= maxBytes)) {
          await new Promise<void>((resolve) => (wakeProducer = resolve));
        }
        if (isStopped) break;
      }
    } catch (error) {
      failure = { error };
    } finally {
      isDone = true;
      wakeConsumer?.();
    }
  })();
  try {
    for (;;) {
      const item = queue.shift();
      if (item) {
        queuedBytes -= item.content.length;
        wakeProducer?.();
        yield item;
        continue;
      }
      if (failure) throw failure.error;
      if (isDone) return;
      await new Promise<void>((resolve) => (wakeConsumer = resolve));
      wakeConsumer = undefined;
    }
  } finally {
    isStopped = true;
    wakeProducer?.();
    await producer;
  }
}

/**
 * APPEND, sent again after a back-off while the server refuses it with a transient NO ([UNAVAILABLE], [THROTTLED]):
 * a refused command stored nothing, so this cannot duplicate, and the folder need not be listed again. An error
 * with an unknown outcome (the connection broke) is thrown instead: the caller re-lists the target first.
 */
async function appendRefusalsRetried<T>(context: FolderContext, folder: FolderCopyReport, operation: () => Promise<T>): Promise<T> {
  const { options, signal } = context;
  const retries = options.retries ?? 6;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (err) {
      const isRefused = (err as { isRefused?: unknown }).isRefused === true;
      if (!isMailshiftError(err) || err.retry !== 'later' || !isRefused || attempt > retries || signal.aborted) throw err;
      folder.retries += 1;
      const delayMs = decideBackoffMs(attempt, options.retryBaseMs ?? 2_000, options.retryMaxMs ?? 300_000, retryAfterMs(err));
      options.logger.warn(`${folder.source}: ${err.message}; sending it again in ${(delayMs / 1000).toFixed(1)} s (${attempt}/${retries})`);
      await sleep(delayMs, signal);
    }
  }
}
