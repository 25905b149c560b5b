import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { describeError, InterruptedError, isMailshiftError, MailshiftError, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { decideRetryDelayMs } from '../transport/rsync/exit.js';
import type { ResyncOptions, ResyncTree } from '../engine/tree/resync/options.js';
import type { ResyncReport } from '../engine/tree/resync/report.js';
import { runResyncTree } from '../engine/tree/resync/run.js';
import type { TreeLayout } from '../engine/tree/resync/list.js';

/**
 * `mailshift watch`: chokidar on the source's new/ and cur/ directories (tmp/ and Dovecot's own files ignored),
 * debounced per folder, feeding the same resync as `mailshift resync` for just the folders that changed. A full
 * resync runs at start and every `fullEveryMs` to catch whatever an event missed (inotify overflow, a folder created
 * and filled between two scans).
 *
 * When the target is unreachable the folders stay pending and are retried with back-off (1 s, 2 s, 4 s ... 30 s);
 * when it answers again, everything that arrived meanwhile goes over in one run. Runs never overlap. A configuration
 * error (a target that does not exist or is a file, a read-only target, ssh refusing the key) cannot heal by
 * waiting: the watcher stops and `run` throws it (exit 78) instead of retrying forever.
 * The watcher only reads the source; everything it writes goes through resync's rules (never delete, never
 * overwrite). chokidar is imported here and nowhere else.
 */

export interface WatchOptions {
  readonly tree: ResyncTree;
  /** Passed to every resync (flags, dedupe, ssh ...). `onlyFolders` and `signal` are set by the watcher. */
  readonly resync?: Omit<ResyncOptions, 'onlyFolders' | 'signal' | 'dryRun'>;
  readonly signal: AbortSignal;
  readonly logger?: Logger;
  /** Quiet time after the last event of a burst before a folder is resynced. */
  readonly debounceMs?: number;
  /** A folder with events arriving without pause is still resynced after this long. */
  readonly maxWaitMs?: number;
  /** Full resync interval; 0 disables it. */
  readonly fullEveryMs?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Called after every run (for the CLI's log lines and tests). */
  readonly onRun?: (run: WatchRun) => void;
  /** Called when the watcher is watching (after the first full resync has been attempted). */
  readonly onReady?: () => void;
}

export type WatchRun =
  | { readonly kind: 'full' | 'folders'; readonly folders: readonly string[]; readonly ok: true; readonly report: ResyncReport }
  | { readonly kind: 'full' | 'folders'; readonly folders: readonly string[]; readonly ok: false; readonly error: string; readonly retryInMs: number };

export interface WatchSummary {
  readonly runs: number;
  readonly failedRuns: number;
  readonly copied: number;
  readonly duplicatesSkipped: number;
  readonly flagsApplied: number;
  readonly foldersAdded: number;
  /** Folders still waiting when the watcher stopped (the target was unreachable at the end). */
  readonly pendingAtExit: readonly string[];
}

/**
 * The folder a path under the source root belongs to, when it is something worth a resync: a message file in new/
 * or cur/, a folder directory, or its new/ or cur/. Undefined for everything else (tmp/, indexes, uidlists, ...).
 * Pure; paths are relative to the root and '/'-separated.
 */
export function classifyWatchedPath(rel: string, layout: TreeLayout): { folder: string; isMessage: boolean } | undefined {
  if (rel === '' || rel === '.') return undefined;
  let parts = rel.split('/');
  let prefix = '';
  if (layout === 'cpanel-mail' && parts.length >= 1 && !parts[0]!.startsWith('.') && parts[0] !== 'cur' && parts[0] !== 'new' && parts[0] !== 'tmp') {
    // DOMAIN or DOMAIN/LOCAL (a mailbox root), then the same shapes below it.
    if (parts.length < 2) return undefined;
    prefix = `${parts[0]}/${parts[1]}`;
    parts = parts.slice(2);
    if (parts.length === 0) return { folder: prefix, isMessage: false };
  }
  const join = (dir: string) => (prefix === '' ? dir : dir === '' ? prefix : `${prefix}/${dir}`);
  const [a, b, c] = parts;
  if (a === undefined) return undefined;
  const isFolderDir = a.startsWith('.') && a !== '.' && a !== '..';
  if (parts.length === 1) {
    if (isFolderDir) return { folder: join(a), isMessage: false };
    if (a === 'cur' || a === 'new') return { folder: join(''), isMessage: false };
    return undefined;
  }
  if (parts.length === 2) {
    if (isFolderDir && (b === 'cur' || b === 'new')) return { folder: join(a), isMessage: false };
    if ((a === 'cur' || a === 'new') && !b!.startsWith('.')) return { folder: join(''), isMessage: true };
    return undefined;
  }
  if (parts.length === 3 && isFolderDir && (b === 'cur' || b === 'new') && !c!.startsWith('.')) return { folder: join(a), isMessage: true };
  return undefined;
}

/** Whether chokidar should look at (and below) a path at all: prunes tmp/, index files and anything deeper. */
export function isWatchedPath(rel: string, layout: TreeLayout): boolean {
  if (rel === '' || rel === '.') return true;
  if (classifyWatchedPath(rel, layout) !== undefined) return true;
  // A cPanel domain directory on the way to its mailboxes.
  const parts = rel.split('/');
  return layout === 'cpanel-mail' && parts.length === 1 && !parts[0]!.startsWith('.') && !['cur', 'new', 'tmp'].includes(parts[0]!);
}

const FULL = '\u0000full';

export class MaildirWatcher {
  private readonly logger: Logger;
  private readonly pending = new Set<string>();
  private debounceTimer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private fullTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failures = 0;
  private watcher: FSWatcher | undefined;
  private summary = { runs: 0, failedRuns: 0, copied: 0, duplicatesSkipped: 0, flagsApplied: 0, foldersAdded: 0 };
  private fatalError: MailshiftError | undefined;
  private stopNow: (() => void) | undefined;

  constructor(private readonly options: WatchOptions) {
    this.logger = options.logger ?? silentLogger;
    if (options.tree.source.host.ssh) {
      throw new UsageError('watch needs the source on this machine (it watches the files as they arrive)', 'run mailshift watch on the old server, with the target as ssh://...; or run mailshift resync repeatedly');
    }
  }

  /** Watches until the signal aborts; resolves with what was done. */
  async run(): Promise<WatchSummary> {
    const { signal } = this.options;
    if (signal.aborted) throw new InterruptedError();
    const root = this.options.tree.source.root;
    const layout = this.options.tree.layout;
    const watcher = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      // Deliveries are atomic renames into new/: a file that appears is complete; no need to wait for writes.
      awaitWriteFinish: false,
      atomic: false,
      ignored: (p: string) => !isWatchedPath(toRel(root, p), layout),
    });
    this.watcher = watcher;
    const onEvent = (p: string) => {
      const hit = classifyWatchedPath(toRel(root, p), layout);
      if (hit) this.enqueue(hit.folder);
    };
    watcher.on('add', onEvent).on('unlink', onEvent).on('addDir', onEvent).on('change', onEvent);
    watcher.on('error', (err) => this.logger.warn(`watch: ${describeError(err)}`));
    const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    const stopped = new Promise<void>((resolve) => {
      this.stopNow = resolve;
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([ready, stopped]);

    // The first full pass after the watch is in place: nothing delivered in between is missed.
    this.enqueue(FULL, { immediately: true });
    const fullEveryMs = this.options.fullEveryMs ?? 10 * 60_000;
    if (fullEveryMs > 0) this.fullTimer = setInterval(() => this.enqueue(FULL, { immediately: true }), fullEveryMs);
    this.options.onReady?.();

    await stopped;
    clearTimeout(this.debounceTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.fullTimer);
    await watcher.close();
    try {
      await this.running;
    } catch {
      // An interrupted run is expected here; everything it finished is complete.
    }
    if (this.fatalError) throw this.fatalError;
    return { ...this.summary, pendingAtExit: [...this.pending].map((f) => (f === FULL ? '(full resync)' : f)) };
  }

  private enqueue(folder: string, options: { immediately?: boolean } = {}): void {
    if (this.options.signal.aborted) return;
    if (this.pending.size === 0) this.firstPendingAt = Date.now();
    this.pending.add(folder);
    if (this.retryTimer) return; // the retry will take it along
    const debounceMs = options.immediately ? 0 : (this.options.debounceMs ?? 200);
    const maxWaitMs = this.options.maxWaitMs ?? 1000;
    const waited = Date.now() - this.firstPendingAt;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => this.kick(), Math.max(0, Math.min(debounceMs, maxWaitMs - waited)));
  }

  /** Starts a run unless one is going on (then the run's end kicks again). */
  private kick(): void {
    this.debounceTimer = undefined;
    if (this.running || this.pending.size === 0 || this.options.signal.aborted || this.fatalError) return;
    const folders = new Set(this.pending);
    this.pending.clear();
    this.running = this.runOnce(folders).finally(() => {
      this.running = undefined;
      if (this.pending.size > 0 && !this.retryTimer) this.kick();
    });
  }

  private async runOnce(folders: Set<string>): Promise<void> {
    const isFull = folders.has(FULL);
    const list = isFull ? [] : [...folders].sort();
    const kind = isFull ? 'full' : 'folders';
    try {
      const report = await runResyncTree(this.options.tree, {
        ...this.options.resync,
        // The watcher does its own retrying: a run fails fast and leaves its folders pending.
        retries: this.options.resync?.retries ?? 0,
        ...(isFull ? {} : { onlyFolders: new Set(list) }),
        signal: this.options.signal,
        logger: this.logger,
      });
      if (report.exitCode === ExitCode.config) {
        throw new MailshiftError('MAILSHIFT_WATCH_RSYNC', `rsync: ${report.rsync?.meaning ?? 'configuration problem'}`, {
          exitCode: ExitCode.config,
          ...(report.rsync?.hint ? { hint: report.rsync.hint } : {}),
        });
      }
      if (report.exitCode === ExitCode.tempFail || report.exitCode === ExitCode.failed) {
        throw new Error(`rsync: ${report.rsync?.meaning ?? `exit ${report.exitCode}`}`);
      }
      this.failures = 0;
      this.summary.runs += 1;
      this.summary.copied += report.totals.copied;
      this.summary.duplicatesSkipped += report.totals.duplicatesSkipped;
      this.summary.flagsApplied += report.totals.flagsApplied;
      this.summary.foldersAdded += report.totals.foldersAdded;
      // The source moved on while we copied: look again at once (the events are probably queued already).
      if (report.sourceChanged) for (const f of folders) this.pending.add(f);
      this.options.onRun?.({ kind, folders: list, ok: true, report });
    } catch (err) {
      if (this.options.signal.aborted || err instanceof InterruptedError) {
        for (const f of folders) this.pending.add(f);
        return;
      }
      if (isMailshiftError(err) && err.exitCode === ExitCode.config) {
        for (const f of folders) this.pending.add(f);
        this.fatalError = err;
        this.stopNow?.();
        return;
      }
      this.failures += 1;
      this.summary.failedRuns += 1;
      const retryInMs = decideRetryDelayMs(this.failures, this.options.retryBaseMs ?? 1000, this.options.retryMaxMs ?? 30_000);
      // After a failure, catch up with a full pass: events may have been lost while the target was away.
      this.pending.add(FULL);
      for (const f of folders) this.pending.add(f);
      const message = isMailshiftError(err) ? err.message : describeError(err);
      this.logger.warn(`watch: ${isFull ? 'full resync' : list.map((f) => f || 'INBOX').join(', ')} failed (${message}); retry in ${Math.round(retryInMs / 100) / 10} s`);
      this.options.onRun?.({ kind, folders: list, ok: false, error: message, retryInMs });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.kick();
      }, retryInMs);
    }
  }
}

function toRel(root: string, p: string): string {
  const rel = path.relative(root, p);
  return rel.split(path.sep).join('/');
}
