import {
  planFolderMapping,
  type FolderEntry,
  type FolderMapRule,
  type FolderMappingRow,
} from '../../../converters/folders/imap-mapping.js';
import { collect, decideBackoffMs, retryAfterMs, runPool, sleep } from '../../core/async.js';
import { describeError, InterruptedError, isMailshiftError, MailshiftError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { MailboxPath } from '../../core/types.js';
import { withDryRun } from '../../stores/dry-run.js';
import type { MailStore } from '../../stores/store.js';
import type { FlagsMode } from '../../stores/store.js';
import { SyncStateFile } from '../state.js';
import { decideLineEndings, type FolderContext } from './context.js';
import { copyFolderOnce, listTargetFolders } from './folder.js';
import { ConnectionBudget } from './connection-budget.js';
import { BytePacer } from './pacing.js';
import type { CopyProgress, FolderCopyReport, StoreCopyReport } from './report.js';

// The message engine's entry: what callers need comes from here (the report's types and its exit code included).
export { decideCopyExitCode, type CopyProgress, type FolderCopyReport, type FolderMode, type StoreCopyReport } from './report.js';

/**
 * The generic store-to-store copy: IMAP to maildir, maildir to IMAP, IMAP to IMAP (any two MailStores).
 *
 * Per folder: list the source (metadata and a few header fields, above the saved UID watermark when the folder's
 * UIDVALIDITY is unchanged), list the target by identity (Message-ID + normalised header hash, size when both sides
 * count it alike), and append only what the target lacks, bodies streamed a window at a time. Nothing on the target is
 * ever changed or deleted.
 *
 * Re-runs and failures: a transient failure (reset, BYE, [UNAVAILABLE], throttling) closes the folder, waits (equal
 * jitter exponential back-off, at least what the server asked for) and starts the folder again; because the target
 * is listed again by identity, a message whose APPEND was sent but never confirmed is found there and not sent twice.
 * A message-level failure skips that message (reported); an account-level one stops the run.
 *
 * This module is the run loop (folders side by side, retries, the whole-run timeout). One folder's attempt is
 * folder.ts (list + diff), the pairing by identity match.ts, the appends pipeline.ts, the UID watermark
 * watermark.ts, `resync --flags` flags.ts; the report and its exit code report.ts.
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
  /**
   * Folders copied at the same time (each holds one connection per IMAP side), and the connections a run holds per
   * side: a large folder borrows those no other folder uses. Default 1.
   */
  readonly concurrency?: number;
  /** Transient failures in a row, per folder, before the folder is given up. Default 6. */
  readonly retries?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Connections appending to one IMAP target folder side by side. Default 1 (see runStoreCopy). */
  readonly appendLanes?: number;
  /** Messages per MULTIAPPEND where the target offers it. Default 100. */
  readonly batchMessages?: number;
  /**
   * A folder with at least this many bytes to read has its bodies read over the connections no other folder uses
   * (by UID range, stripes.ts), when the source can (caps.parallelRead). Default 64 MB.
   */
  readonly splitMinBytes?: number;
  /** Bytes per UID range of such a split read. Default 2 MB. */
  readonly stripeBytes?: number;
  /** Messages per body fetch window (the engine waits for every append of a window before the next). Default: all. */
  readonly windowSize?: number;
  /** How often the incremental state is saved during a folder's copy. Default 2 s. */
  readonly stateSaveIntervalMs?: number;
  /** Whole-run limit (`--timeout`): when reached, the run stops cleanly (state saved) with exit 75. */
  readonly timeoutMs?: number;
  /** `--max-bytes-per-second`: the bytes the run moves, spread over time (pacing.ts). */
  readonly maxBytesPerSecond?: number;
  /** `--max-bytes`: the run stops cleanly, exit 75 ("run again"), once it has moved this many bytes. */
  readonly maxBytes?: number;
  /** Incremental state: where, and which pair of stores it belongs to. */
  readonly state?: { readonly file: string; readonly pair: string };
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: CopyProgress) => void;
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

export async function runStoreCopy(source: StoreDescription, givenTarget: StoreDescription, options: StoreCopyOptions): Promise<StoreCopyReport> {
  const started = Date.now();
  // A dry run reads the target as it is and counts what it would write (isync's proxy driver): the folder copy opens
  // mailboxes for writing and appends either way. Not disposed here: the caller owns the store it gave.
  const target = options.dryRun ? { ...givenTarget, store: withDryRun(givenTarget.store) } : givenTarget;
  const { logger } = options;
  const { signal, dispose } = combineWithAccountTimeout(options.signal, options.timeoutMs);
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
    // Side by side: each listing is a round trip or two to its own server.
    const [sourceFolders, targetFolders] = await Promise.all([
      withRetries(options, signal, 'listing the source folders', () => collect(source.store.listMailboxes(signal))),
      withRetries(options, signal, 'listing the target folders', () => listTargetFolders(target.store, signal)),
    ]);
    report.skippedFolders.push(...(source.store.skippedFolders ?? []).map((each) => ({ folder: each.directory, reason: each.reason })));
    for (const each of report.skippedFolders) logger.warn(`${each.folder}: folder not copied: ${each.reason}`);
    if (source.store.otherNamespaceFolders?.length) report.otherNamespaceFolders = [...source.store.otherNamespaceFolders];
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
      pacer: new BytePacer(options.maxBytesPerSecond, options.maxBytes),
      sizeIsComparable: source.store.caps.sizeComparable && target.store.caps.sizeComparable,
      appendLanes: 1,
      connections: new ConnectionBudget(Math.max(1, options.concurrency ?? 1)),
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
    context.connections.setFoldersWaiting(rows.length);
    let started = 0;
    await runPool(rows, concurrency, async (row) => {
      if (stop) return;
      context.connections.holdOne();
      started += 1;
      context.connections.setFoldersWaiting(rows.length - started);
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
        context.connections.giveBack(1);
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
      // A run-level stop (--max-bytes reached) is not a folder's trouble: trying the folder again cannot help.
      if (!isMailshiftError(err) || err.retry !== 'later' || err.scope === 'run' || signal.aborted) throw err;
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

/**
 * The caller's signal, aborted also (with CopyTimeoutError) once `timeoutMs` have passed; dispose when done. A timer
 * of our own, not AbortSignal.any over AbortSignal.timeout: Node 20 holds any()'s sources weakly, so a timeout signal
 * nothing else refers to can be collected before it fires, and the account would never stop (seen under CI's load).
 */
export function combineWithAccountTimeout(outer: AbortSignal | undefined, timeoutMs: number | undefined): { signal: AbortSignal; dispose: () => void } {
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
