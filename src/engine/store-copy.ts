import type { Readable } from 'node:stream';
import {
  planFolderMapping,
  type FolderEntry,
  type FolderMapRule,
  type FolderMappingRow,
} from '../../converters/folders/imap-mapping.js';
import { toLfInPlace } from '../../converters/message/crlf.js';
import { describeError, InterruptedError, isMailshiftError, MailshiftError, throwIfAborted } from '../core/errors.js';
import { collect, decideBackoffMs, retryAfterMs, runPool, sleep } from '../core/async.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Logger } from '../core/logger.js';
import type { IncomingMessage, MailboxPath, MessageRef } from '../core/types.js';
import type { FlagUpdate, FlagUpdateMode, ListedMessage, Mailbox, MailStore } from '../stores/store.js';
import type { FlagsMode } from './resync-plan.js';
import { buildContentHash, buildIdentity, findHeaderEnd, identityHeaderFields, type MessageIdentity } from './identity.js';
import { folderStateKey, SyncStateFile } from './state.js';

export { collect, decideBackoffMs } from '../core/async.js';

/**
 * The generic store-to-store copy: IMAP to maildir, maildir to IMAP, IMAP to IMAP (any two MailStores).
 *
 * Per folder: list the source (metadata and a few header fields, above the saved UID watermark when the folder's
 * UIDVALIDITY is unchanged), list the target by identity (Message-ID + normalised header hash, size when both sides
 * count it alike), and append only what the target lacks, bodies streamed a window at a time. Nothing on the target is
 * ever changed or deleted.
 *
 * Re-runs and failures: a transient failure (reset, BYE, [UNAVAILABLE], throttling) closes the folder, waits (full
 * jitter exponential back-off, at least what the server asked for) and starts the folder again; because the target
 * is listed again by identity, a message whose APPEND was sent but never confirmed is found there and not sent twice.
 * A message-level failure skips that message (reported); an account-level one stops the run.
 */

export interface StoreCopyOptions {
  readonly dryRun?: boolean;
  readonly maps?: readonly FolderMapRule[];
  readonly excludes?: readonly RegExp[];
  /** Skip \All, \Important, \Flagged folders (Gmail's All Mail, Important, Starred). Default true. */
  readonly skipVirtual?: boolean;
  /** Only these source folders (mailbox paths); default all. */
  readonly onlyFolders?: readonly MailboxPath[];
  /** Compare with what the target already holds, by identity (`--skip-existing`, default on). */
  readonly skipExisting?: boolean;
  /**
   * Flags of messages an earlier run copied (`resync --flags`): 'target' (default) leaves them; 'source' gives them
   * the source's flags, 'merge' the union of both. Needs a target that can find them by source identity (a maildir).
   */
  readonly flags?: FlagsMode;
  /** Messages larger than this are skipped and reported (`--max-size`). */
  readonly maxSizeBytes?: number;
  /** Folders copied at the same time (each holds one connection per IMAP side). Default 1. */
  readonly concurrency?: number;
  /** Transient failures in a row, per folder, before the folder is given up. Default 6. */
  readonly retries?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Connections appending to one IMAP target folder side by side. Default 1 (see runStoreCopy). */
  readonly appendLanes?: number;
  /** Messages per MULTIAPPEND where the target offers it. Default 100. */
  readonly batchMessages?: number;
  /** Messages per body fetch window (the engine waits for every append of a window before the next). Default: all. */
  readonly windowSize?: number;
  /** How often the incremental state is saved during a folder's copy. Default 2 s. */
  readonly stateSaveIntervalMs?: number;
  /** Whole-run limit (`--timeout`): when reached, the run stops cleanly (state saved) with exit 75. */
  readonly timeoutMs?: number;
  /** Incremental state: where, and which pair of stores it belongs to. */
  readonly state?: { readonly file: string; readonly pair: string };
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: CopyProgress) => void;
}

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
  readonly totals: { copied: number; copiedBytes: number; alreadyPresent: number; skipped: number; failedFolders: number; examined: number; flagDifferences: number; flagsApplied: number };
  durationMs: number;
  stopped?: { code: string; reason: string; exitCode: number };
}

export interface StoreDescription {
  readonly store: MailStore;
  /** How it is named in reports ("imaps://alice@mail.example.com:993", "/srv/mail/alice"). */
  readonly label: string;
}

export class CopyTimeoutError extends MailshiftError {
  constructor(timeoutMs: number) {
    super('MAILSHIFT_TIMEOUT', `the account did not finish within ${Math.round(timeoutMs / 1000)} s`, {
      scope: 'account',
      retry: 'later',
      hint: 'everything copied so far is recorded; run the same command again to continue (or raise --timeout)',
    });
  }
}

export async function runStoreCopy(source: StoreDescription, target: StoreDescription, options: StoreCopyOptions): Promise<StoreCopyReport> {
  const started = Date.now();
  const { logger } = options;
  const { signal, dispose } = combineSignals(options.signal, options.timeoutMs);
  const report: StoreCopyReport = {
    source: source.label,
    target: target.label,
    dryRun: Boolean(options.dryRun),
    ...(options.flags && options.flags !== 'target' ? { flags: options.flags } : {}),
    mapping: [],
    folders: [],
    skippedFolders: [],
    totals: { copied: 0, copiedBytes: 0, alreadyPresent: 0, skipped: 0, failedFolders: 0, examined: 0, flagDifferences: 0, flagsApplied: 0 },
    durationMs: 0,
  };
  const progress = { messages: 0, bytes: 0, sourceBytes: 0, plannedMessages: 0, plannedBytes: 0, foldersPlanned: 0, foldersTotal: 0 };
  /** Per folder, what its last listing planned (a retry plans again: replaced, not added). */
  const planned = new Map<FolderCopyReport, { messages: number; bytes: number }>();
  try {
    const sourceFolders = await withRetries(options, signal, 'listing the source folders', () => collect(source.store.listMailboxes(signal)));
    const targetFolders = await withRetries(options, signal, 'listing the target folders', () => listTargetFolders(target.store, signal));
    report.skippedFolders.push(...(source.store.skippedFolders ?? []).map((each) => ({ folder: each.directory, reason: each.reason })));
    for (const each of report.skippedFolders) logger.warn(`${each.folder}: folder not copied: ${each.reason}`);
    const selected = options.onlyFolders ? sourceFolders.filter((folder) => options.onlyFolders!.includes(folder.path)) : sourceFolders;
    report.mapping.push(
      ...planFolderMapping(selected as FolderEntry[], targetFolders as FolderEntry[], {
        ...(options.maps ? { maps: options.maps } : {}),
        ...(options.excludes ? { excludes: options.excludes } : {}),
        ...(options.skipVirtual !== undefined ? { skipVirtual: options.skipVirtual } : {}),
      }),
    );
    // A dry run reads the state (for --flags, what earlier runs copied) but never writes it, and otherwise compares by
    // identity as a first run would.
    const savedState = options.state ? await SyncStateFile.load(options.state.file, options.state.pair, logger) : undefined;
    const state = options.dryRun ? undefined : savedState;
    const context: FolderContext = {
      source,
      target,
      options,
      signal,
      state,
      savedState,
      lineEndings: decideLineEndings(source.store, target.store),
      sizeIsComparable: source.store.caps.sizeComparable && target.store.caps.sizeComparable,
      appendLanes: 1,
      onCopied: (bytes, sourceBytes) => {
        progress.messages += 1;
        progress.bytes += bytes;
        progress.sourceBytes += sourceBytes ?? bytes;
        options.onProgress?.({ ...progress });
      },
      onPlanned: (folder, messages, bytes) => {
        const before = planned.get(folder);
        planned.set(folder, { messages, bytes });
        progress.plannedMessages += messages - (before?.messages ?? 0);
        progress.plannedBytes += bytes - (before?.bytes ?? 0);
        progress.foldersPlanned = planned.size;
        options.onProgress?.({ ...progress });
      },
    };
    // A name read leniently (not UTF-8, not modified UTF-7, control characters) is said where the mapping says why.
    const notes = new Map(sourceFolders.filter((folder) => folder.note).map((folder) => [folder.path, folder.note!]));
    report.mapping.forEach((row, i) => {
      const note = notes.get(row.source);
      if (note === undefined) return;
      logger.debug(`${row.source}: ${note}`);
      report.mapping[i] = { ...row, reason: `${row.reason}; ${note}` };
    });
    const rows = report.mapping.filter((row): row is Extract<FolderMappingRow, { action: 'copy' }> => row.action === 'copy');
    for (const row of report.mapping) if (row.action === 'skip') logger.info(`${row.source}: not copied (${row.reason})`);
    let stop: MailshiftError | undefined;
    progress.foldersTotal = rows.length;
    const concurrency = Math.max(1, Math.min(options.concurrency ?? 1, rows.length));
    // One append connection per folder unless asked: Dovecot serialises appends to one folder on its uidlist lock,
    // and measured on a loopback Dovecot, 4 connections appending to one folder took 1.5x as long as one.
    context.appendLanes = Math.max(1, options.appendLanes ?? 1);
    await runPool(rows, concurrency, async (row) => {
      if (stop) return;
      const folder: FolderCopyReport = {
        source: row.source,
        target: row.target,
        reason: row.reason,
        mode: 'full',
        examined: 0,
        copied: 0,
        copiedBytes: 0,
        alreadyPresent: 0,
        skipped: [],
        vanished: 0,
        flagDifferences: 0,
        flagsApplied: 0,
        retries: 0,
      };
      report.folders.push(folder);
      try {
        await copyFolderWithRetries(context, folder);
      } catch (err) {
        const wrapped = asMailshiftError(err, signal, options.timeoutMs);
        folder.error = { code: wrapped.code, message: wrapped.message, ...(wrapped.retry === 'later' ? { retry: 'later' as const } : {}) };
        if (wrapped.scope === 'account' || wrapped.scope === 'run' || wrapped instanceof InterruptedError) {
          stop ??= wrapped;
        } else {
          logger.error(`${row.source}: ${wrapped.message}`);
        }
      } finally {
        await state?.save();
      }
    });
    report.folders.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
    if (stop) {
      if (stop instanceof InterruptedError) throw stop;
      report.stopped = { code: stop.code, reason: stop.message, exitCode: stop.exitCode };
      logger.error(`stopped: ${stop.message}`);
    }
  } catch (err) {
    throw asMailshiftError(err, signal, options.timeoutMs);
  } finally {
    dispose();
  }
  for (const folder of report.folders) {
    report.totals.copied += folder.copied;
    report.totals.copiedBytes += folder.copiedBytes;
    report.totals.alreadyPresent += folder.alreadyPresent;
    report.totals.skipped += folder.skipped.length;
    report.totals.examined += folder.examined;
    report.totals.flagDifferences += folder.flagDifferences;
    report.totals.flagsApplied += folder.flagsApplied;
    if (folder.error) report.totals.failedFolders += 1;
  }
  report.durationMs = Date.now() - started;
  return report;
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

interface FolderContext {
  readonly source: StoreDescription;
  readonly target: StoreDescription;
  readonly options: StoreCopyOptions;
  readonly signal: AbortSignal;
  /** The incremental state, to read and update; undefined in a dry run. */
  readonly state: SyncStateFile | undefined;
  /** The state as saved by earlier runs, to read only (also in a dry run). */
  readonly savedState: SyncStateFile | undefined;
  readonly lineEndings: 'as-is' | 'lf';
  readonly sizeIsComparable: boolean;
  readonly onCopied: (bytes: number, sourceBytes: number | undefined) => void;
  /** A folder's listing is done: with what earlier attempts copied, this many messages (source bytes) in all. */
  readonly onPlanned: (folder: FolderCopyReport, messages: number, bytes: number) => void;
  appendLanes: number;
}

/**
 * IMAP sends CRLF; a maildir stores LF (Dovecot converts on save, and so does every other maildir writer): an IMAP
 * message written to a maildir gets LF line ends, so its bytes equal what the source server had on disk.
 */
export function decideLineEndings(source: MailStore, target: MailStore): 'as-is' | 'lf' {
  return source.caps.crlf && !target.caps.crlf ? 'lf' : 'as-is';
}

async function copyFolderWithRetries(context: FolderContext, folder: FolderCopyReport): Promise<void> {
  const { options, signal } = context;
  const retries = options.retries ?? 6;
  let failuresInRow = 0;
  for (;;) {
    const doneBefore = folder.copied + folder.alreadyPresent;
    try {
      await copyFolderOnce(context, folder);
      return;
    } catch (err) {
      if (!isMailshiftError(err) || err.retry !== 'later' || signal.aborted) throw err;
      // Progress since the last failure means the server is working, just flaky: start counting again.
      if (folder.copied + folder.alreadyPresent > doneBefore) failuresInRow = 0;
      failuresInRow += 1;
      folder.retries += 1;
      if (failuresInRow > retries) throw err;
      const delayMs = decideBackoffMs(failuresInRow, options.retryBaseMs ?? 2_000, options.retryMaxMs ?? 300_000, retryAfterMs(err));
      options.logger.warn(`${folder.source}: ${err.message}; retrying in ${(delayMs / 1000).toFixed(1)} s (${failuresInRow}/${retries})`);
      await sleep(delayMs, signal);
    }
  }
}

/** Runs a whole-store step (the folder listings) again after transient failures, with the same back-off. */
async function withRetries<T>(options: StoreCopyOptions, signal: AbortSignal, what: string, step: () => Promise<T>): Promise<T> {
  const retries = options.retries ?? 6;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await step();
    } catch (err) {
      if (!isMailshiftError(err) || err.retry !== 'later' || signal.aborted || attempt > retries) throw err;
      const delayMs = decideBackoffMs(attempt, options.retryBaseMs ?? 2_000, options.retryMaxMs ?? 300_000, retryAfterMs(err));
      options.logger.warn(`${what}: ${err.message}; retrying in ${(delayMs / 1000).toFixed(1)} s (${attempt}/${retries})`);
      await sleep(delayMs, signal);
    }
  }
}

/** Source message ids each folder report has copied in this run, across attempts. */
const copiedByUs = new WeakMap<FolderCopyReport, Set<string>>();

interface Candidate {
  readonly ref: ListedMessage;
  identity?: MessageIdentity;
}

interface TargetEntry {
  readonly ref: ListedMessage;
  readonly identity: MessageIdentity;
  isTaken: boolean;
}

async function copyFolderOnce(context: FolderContext, folder: FolderCopyReport): Promise<void> {
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
  const sourceBox = await source.store.openMailbox(folder.source, 'read');
  let targetBox: Mailbox | undefined;
  try {
    const status = await sourceBox.status();
    folder.uidValidity = status.uidValidity;
    const saved = state?.get(stateKey);
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
    const watermark = new Watermark(afterUid, candidates);
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
      targetBox = await openTarget(target.store, folder.target, Boolean(options.dryRun));
      if (targetBox?.updateFlags) await applyCopiedMessageFlags(context, folder, sourceBox, targetBox, options.flags, status.uidValidity, copiedEarlierUpTo);
    }

    if (candidates.length === 0) {
      context.onPlanned(folder, folder.copied, folder.copiedBytes);
      saveWatermark(state, stateKey, status.uidValidity, watermark);
      return;
    }

    targetBox ??= await openTarget(target.store, folder.target, Boolean(options.dryRun));
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
        if (claimed.ref.uid === undefined && ref.uid !== undefined && uidSource && !options.dryRun && targetBox?.adoptSourceUid && isWrittenFrom(targetBox, claimed.ref, sourceKeyPrefix, ref)) {
          targetBox.adoptSourceUid(claimed.ref, { uid: ref.uid, uidSource });
        }
      } else {
        toCopy.push(candidate);
      }
    }

    context.onPlanned(folder, folder.copied + toCopy.length, folder.copiedBytes + toCopy.reduce((sum, each) => sum + (each.ref.sizeBytes ?? 0), 0));
    if (options.dryRun || !targetBox) {
      folder.copied = toCopy.length;
      folder.copiedBytes = toCopy.reduce((sum, each) => sum + (each.ref.sizeBytes ?? 0), 0);
      return;
    }

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
    const idle = [...lanes];
    const inFlight = new Set<Promise<void>>();
    let laneFailure: { error: unknown } | undefined;
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
    const markCopied = (ref: ListedMessage, body: Buffer) => {
      folder.copied += 1;
      folder.copiedBytes += body.length;
      copiedEarlier.add(ref.id);
      watermark.markDone(ref);
      context.onCopied(body.length, ref.sizeBytes);
    };
    const appendOne = async (lane: Mailbox, { ref, body, virtualSizeBytes }: Fetched): Promise<void> => {
      try {
        await appendRefusalsRetried(context, folder, () => lane.append(toIncoming(ref, body, virtualSizeBytes), signal));
        markCopied(ref, body);
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
            await appendRefusalsRetried(context, folder, () => lane.appendMany!(batch.map(({ ref, body, virtualSizeBytes }) => toIncoming(ref, body, virtualSizeBytes)), signal));
            for (const { ref, body } of batch) markCopied(ref, body);
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
      for (let at = 0; at < toCopy.length && !laneFailure; at += windowSize) {
        const window = toCopy.slice(at, at + windowSize).map((each) => each.ref);
        const seen = new Set<MessageRef>();
        for await (const { ref, content } of readAhead(readBodies(sourceBox, window, signal, folder), readAheadMessages, readAheadBytes)) {
          throwIfAborted(signal);
          seen.add(ref);
          // readMany hands over its buffers: converting in place saves a copy of every message.
          const converted = context.lineEndings === 'lf' ? toLfInPlace(content) : undefined;
          const body = converted ? converted.content : content;
          batch.push({ ref: ref as ListedMessage, body, ...(converted ? { virtualSizeBytes: converted.virtualSizeBytes } : {}) });
          batchBytes += body.length;
          if (batch.length >= batchMessages || batchBytes >= batchMaxBytes) await dispatch();
          if (laneFailure) break;
          if (state && Date.now() - lastSave > (options.stateSaveIntervalMs ?? 2_000)) {
            await saveCheckpoint(state, stateKey, status.uidValidity, watermark, targetBox);
            await state.save();
            lastSave = Date.now();
          }
        }
        await dispatch();
        await Promise.all(inFlight);
        if (laneFailure) break;
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

/** What IncomingMessage.sourceKey starts with for a folder's messages; the UID follows. */
function buildSourceKeyPrefix(sourceLabel: string, folder: MailboxPath, uidValidity: number): string {
  return `${sourceLabel}\u0000${folder}\u0000${uidValidity}\u0000`;
}

/**
 * `resync --flags source|merge`: the source's flags for every message at or below the saved watermark (copied by an
 * earlier run with this UIDVALIDITY), handed to the target, which finds each by the source identity it was named
 * from. Messages the target does not have under that identity (copied by another tool, expunged there) are left alone.
 */
async function applyCopiedMessageFlags(
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
  const outcome = await targetBox.updateFlags!(updates, mode, { dryRun: Boolean(context.options.dryRun) });
  folder.flagDifferences = outcome.differences;
  folder.flagsApplied += outcome.applied;
  if (outcome.changedMeanwhile > 0) context.options.logger.warn(`${folder.target}: ${outcome.changedMeanwhile} message(s) changed on the target while we worked; their flags are left as they are`);
  if (outcome.notFound > 0) context.options.logger.info(`${folder.target}: ${outcome.notFound} earlier copied message(s) not found by their source identity (copied by another tool, or expunged there); their flags are left alone`);
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
/** A MULTIAPPEND is sent once it holds this much, whatever the count. */
const batchMaxBytes = 8 * 1024 * 1024;

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
async function appendRefusalsRetried(context: FolderContext, folder: FolderCopyReport, operation: () => Promise<unknown>): Promise<void> {
  const { options, signal } = context;
  const retries = options.retries ?? 6;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await operation();
      return;
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

/**
 * Bodies for a window of messages: one streamed fetch when the store can (IMAP), else one read at a time. Message-
 * level read failures are recorded and skipped.
 */
async function* readBodies(box: Mailbox, refs: readonly MessageRef[], signal: AbortSignal, folder: FolderCopyReport): AsyncIterable<{ ref: MessageRef; content: Buffer }> {
  if (box.readMany) {
    yield* box.readMany(refs, signal);
    return;
  }
  for (const ref of refs) {
    throwIfAborted(signal);
    let content: Buffer;
    try {
      content = await readAll(await box.read(ref, signal));
    } catch (err) {
      if (isMailshiftError(err) && err.code === 'MAILSHIFT_MESSAGE_GONE') continue;
      if (!isMailshiftError(err) || err.scope !== 'message') throw err;
      folder.skipped.push({ id: ref.id, ...(ref.uid !== undefined ? { uid: ref.uid } : {}), reason: err.message });
      continue;
    }
    yield { ref, content };
  }
}

/**
 * Source messages at or below the watermark (copied by earlier runs) that share an identity with a new candidate the
 * target holds: they are on the target already and hold their copies there before any new message is matched.
 * Listed only when some new message's identity is on the target at all, which new mail seldom is.
 */
async function listEarlierNamesakes(
  context: FolderContext,
  sourceBox: Mailbox,
  afterUid: number,
  candidates: readonly Candidate[],
  index: ReadonlyMap<string, TargetEntry[]>,
): Promise<Candidate[]> {
  const wanted = new Set<string>();
  for (const candidate of candidates) if (candidate.identity && index.has(candidate.identity.key)) wanted.add(candidate.identity.key);
  if (wanted.size === 0) return [];
  const { signal } = context;
  const earlier: Candidate[] = [];
  for await (const ref of sourceBox.list(signal, { headerFields: identityHeaderFields })) {
    if (ref.uid === undefined || ref.uid > afterUid || ref.problem) continue;
    const identity = buildIdentity(ref.headers ?? (await readHead(sourceBox, ref, signal)));
    if (wanted.has(identity.key)) earlier.push({ ref, identity });
  }
  earlier.sort((a, b) => a.ref.uid! - b.ref.uid!);
  return earlier;
}

/**
 * Pairs source messages (in this order) with target messages of the same identity, each target message claimed at
 * most once: an identity the source holds n times and the target m times pairs min(n, m) of them, and the rest of
 * the source's are to be copied. A target message written from a source message (a maildir names it from the source
 * UID) goes to that message first, so what an interrupted run wrote is recognised as exactly what it is.
 */
async function claimTargetMessages(
  context: FolderContext,
  index: ReadonlyMap<string, TargetEntry[]>,
  sources: readonly Candidate[],
  sourceBox: Mailbox,
  targetBox: Mailbox | undefined,
  sourceKeyPrefix: string | undefined,
): Promise<Map<Candidate, TargetEntry>> {
  const claims = new Map<Candidate, TargetEntry>();
  if (targetBox?.sourceKeyFingerprint && sourceKeyPrefix !== undefined) {
    const byWrittenFrom = new Map<string, TargetEntry>();
    for (const entries of index.values()) for (const entry of entries) if (entry.ref.writtenFrom !== undefined) byWrittenFrom.set(entry.ref.writtenFrom, entry);
    for (const candidate of byWrittenFrom.size > 0 ? sources : []) {
      if (!candidate.identity || candidate.ref.uid === undefined) continue;
      const entry = byWrittenFrom.get(targetBox.sourceKeyFingerprint(`${sourceKeyPrefix}${candidate.ref.uid}`));
      if (!entry || entry.isTaken || entry.identity.key !== candidate.identity.key) continue;
      entry.isTaken = true;
      claims.set(candidate, entry);
    }
  }
  for (const candidate of sources) {
    throwIfAborted(context.signal);
    if (claims.has(candidate) || !candidate.identity) continue;
    const entry = await takeMatch(context, index, candidate, sourceBox, targetBox);
    if (entry) claims.set(candidate, entry);
  }
  return claims;
}

/** True when the target store wrote `target` from the source message `source` (it keeps a fingerprint of its source key). */
function isWrittenFrom(targetBox: Mailbox, target: ListedMessage, sourceKeyPrefix: string | undefined, source: MessageRef): boolean {
  if (!targetBox.sourceKeyFingerprint || target.writtenFrom === undefined || sourceKeyPrefix === undefined || source.uid === undefined) return false;
  return target.writtenFrom === targetBox.sourceKeyFingerprint(`${sourceKeyPrefix}${source.uid}`);
}

/**
 * Finds an unclaimed target message with the same identity and claims it. Sizes must agree when both sides count
 * them alike; a message without Message-ID must also have the same content (its key rests on few headers).
 */
async function takeMatch(
  context: FolderContext,
  index: ReadonlyMap<string, TargetEntry[]>,
  candidate: Candidate,
  sourceBox: Mailbox,
  targetBox: Mailbox | undefined,
): Promise<TargetEntry | undefined> {
  const identity = candidate.identity!;
  const entries = index.get(identity.key);
  if (!entries) return undefined;
  let sourceHash: string | undefined;
  for (const entry of entries) {
    if (entry.isTaken) continue;
    if (context.sizeIsComparable && candidate.ref.sizeBytes !== undefined && entry.ref.sizeBytes !== undefined && candidate.ref.sizeBytes !== entry.ref.sizeBytes) continue;
    if (identity.isWeak && targetBox) {
      sourceHash ??= buildContentHash(await readAll(await sourceBox.read(candidate.ref, context.signal)));
      const targetHash = buildContentHash(await readAll(await targetBox.read(entry.ref, context.signal)));
      if (sourceHash !== targetHash) continue;
    }
    entry.isTaken = true;
    return entry;
  }
  return undefined;
}

/** Tracks the highest UID below which every candidate is done (copied, present, or gone). */
class Watermark {
  private readonly pending: number[];
  private readonly done = new Set<number>();
  private readonly highestListed: number;

  constructor(
    private readonly floor: number,
    candidates: readonly Candidate[],
  ) {
    this.pending = candidates.map((each) => each.ref.uid).filter((uid): uid is number => uid !== undefined).sort((a, b) => a - b);
    this.highestListed = this.pending.at(-1) ?? floor;
  }

  markDone(ref: MessageRef): void {
    if (ref.uid !== undefined) this.done.add(ref.uid);
  }

  value(): number {
    let mark = this.floor;
    for (const uid of this.pending) {
      if (!this.done.has(uid)) return mark;
      mark = uid;
    }
    return Math.max(mark, this.highestListed);
  }
}

/**
 * Records the watermark only once every message below it is in place on the target: a maildir target writes files
 * (and its UIDs into dovecot-uidlist) behind the appends, and a watermark saved ahead of them would make a run killed
 * right after the save skip, for good, what never reached the disk. The watermark is taken before the target catches
 * up, so it covers only messages appended before that.
 */
async function saveCheckpoint(state: SyncStateFile | undefined, key: string, uidValidity: number | undefined, watermark: Watermark, targetBox: Mailbox): Promise<void> {
  if (!state || uidValidity === undefined) return;
  const highestUid = watermark.value();
  await targetBox.checkpoint?.();
  state.set(key, { uidValidity, highestUid });
}

function saveWatermark(state: SyncStateFile | undefined, key: string, uidValidity: number | undefined, watermark: Watermark): void {
  if (!state || uidValidity === undefined) return;
  state.set(key, { uidValidity, highestUid: watermark.value() });
}

async function openTarget(store: MailStore, path: MailboxPath, isDryRun: boolean): Promise<Mailbox | undefined> {
  if (!isDryRun) return store.openMailbox(path, 'write');
  // Dry run into a folder that does not exist yet: everything would be copied.
  return openExistingMailbox(store, path);
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

const headReadLimitBytes = 256 * 1024;

/** The header block of a message, read from the start of its stream (the rest is never read). */
export async function readHead(box: Mailbox, ref: MessageRef, signal: AbortSignal): Promise<Buffer> {
  const stream = await box.read(ref, signal);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      chunks.push(buffer);
      size += buffer.length;
      const joined = chunks.length === 1 ? buffer : Buffer.concat(chunks);
      const end = findHeaderEnd(joined);
      if (end !== undefined) return joined.subarray(0, end);
      if (size >= headReadLimitBytes) return joined;
      if (chunks.length > 1) chunks.splice(0, chunks.length, joined);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

function combineSignals(outer: AbortSignal | undefined, timeoutMs: number | undefined): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onAbort = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  if (outer?.aborted) controller.abort(outer.reason);
  const timer = timeoutMs ? setTimeout(() => controller.abort(new CopyTimeoutError(timeoutMs)), timeoutMs) : undefined;
  timer?.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      if (timer) clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

function asMailshiftError(err: unknown, signal: AbortSignal, timeoutMs: number | undefined): MailshiftError {
  if (signal.aborted && signal.reason instanceof CopyTimeoutError) return signal.reason;
  if (signal.aborted && timeoutMs === undefined && !isMailshiftError(err)) return new InterruptedError();
  if (isMailshiftError(err)) return err;
  return new MailshiftError('MAILSHIFT_COPY_FAILED', describeError(err), { scope: 'mailbox', cause: err });
}
