import { ExitCode, type ExitCodeValue } from '../../core/exit-codes.js';
import { UsageError } from '../../core/errors.js';
import { parseStoreSpec } from '../../stores/spec.js';
import type { FlagUpdateMode } from '../../stores/store.js';
import type { ItemizedChange } from '../../transport/rsync/itemize.js';
import type { CopyJob } from '../tree/plan-copy.js';
import type { CopyReport } from '../tree/copy-report.js';
import type { TreeCopyChown } from '../tree/run-tree-copy.js';
import type { FlagsMode } from '../tree/resync/plan.js';
import type { ResyncReport } from '../tree/resync/report.js';
import type { CopyProgress, StoreCopyOptions, StoreCopyReport } from '../messages/copy.js';
import type { Route } from '../route.js';
import type { ArchiveCopyResult } from '../../archive/operation.js';
import { probeRoute } from './probe-route.js';
import { withSharedSsh } from './ssh.js';
import { openStorePair, type StorePair } from './store-pair.js';
import { describeLogins, type LoginFacts } from './login.js';
import type { FolderRules, OperationBase, OperationResult, OperationSummary, Progress, ProgressSink } from './types.js';

/**
 * `copy` and `resync` as one engine call each, whichever engine the route picks. The files engine copies (and, into a
 * cPanel root, sets owners and modes as its last step) or resyncs by maildir base name; the messages engine copies
 * what the target lacks, above the saved UID watermark. `resync` with an IMAP end is that same incremental copy.
 */
export interface FilesCopyOptions {
  /** Mailboxes copied in parallel (copy). */
  readonly jobs?: number;
  readonly bwlimitKiBps?: number;
  readonly retries: number;
  readonly retryBaseDelayMs: number;
  readonly ioTimeoutS: number;
  readonly renameUser?: { readonly from: string; readonly to: string };
  /** Into a cPanel root: owners and modes as cPanel sets them, after the copy (copy). Absent: left as copied. */
  readonly chown?: { readonly uid?: number; readonly gid?: number; readonly mailGid?: number };
  /** Flags of messages already on the target (resync). */
  readonly flags?: FlagsMode;
  /** Recognise mail delivered to both servers (resync). */
  readonly dedupe?: boolean;
}

export interface MessagesCopyOptions extends FolderRules {
  readonly skipExisting: boolean;
  readonly maxSizeBytes?: number;
  /** Whole-account limit: stops cleanly (state kept) with exit 75. */
  readonly accountTimeoutMs?: number;
  /** Pacing (`--max-bytes-per-second`) and a per-run byte budget (`--max-bytes`, exit 75 once reached). */
  readonly maxBytesPerSecond?: number;
  readonly maxBytes?: number;
  /** Where the per-folder UID watermarks live (default ~/.local/state/mailshift/sync). */
  readonly stateDir?: string;
  /** Folders copied at once. */
  readonly concurrency: number;
  readonly retries?: number;
  readonly retryBaseMs?: number;
}

export interface CopyRequest extends OperationBase {
  readonly operation: 'copy' | 'resync';
  readonly dryRun: boolean;
  /** `--imap-fallback imaps://user@host`: read the source over IMAP when its files cannot be read. */
  readonly imapFallback?: string;
  /** Log in to both ends and describe them; copy nothing (`--justlogin`). */
  readonly justLogin?: boolean;
  readonly files: FilesCopyOptions;
  readonly messages: MessagesCopyOptions;
  readonly progress?: ProgressSink;
  /** Files engine with dryRun: every item rsync would copy. */
  readonly onItem?: (job: CopyJob, item: ItemizedChange) => void;
}

export type ChownOutcome = TreeCopyChown;

export type CopyOutcome = OperationResult &
  (
    | { readonly kind: 'files-copy'; readonly report: CopyReport; readonly chown?: ChownOutcome }
    | { readonly kind: 'files-resync'; readonly report: ResyncReport }
    | { readonly kind: 'messages'; readonly report: StoreCopyReport }
    | { readonly kind: 'login'; readonly logins: readonly LoginFacts[] }
    | { readonly kind: 'archive-restore'; readonly result: ArchiveCopyResult }
  );

export async function runCopyOperation(request: CopyRequest): Promise<CopyOutcome> {
  return withSharedSsh(request.ssh, [request.source, request.target], async (ssh) => {
    const route = await probeRoute(request.operation, request, ssh, request.imapFallback);
    if (route.use === 'messages') return runMessagesCopy(request, route);
    if (route.use === 'archive') return runArchiveRestoreCopy({ ...request, ssh }, route);
    if (request.justLogin) throw new UsageError('--justlogin logs in to IMAP ends: neither end of this copy is IMAP', 'give an imap:// or imaps:// end, or leave out --justlogin');
    return request.operation === 'copy' ? runFilesCopy({ ...request, ssh }, route) : runFilesResync({ ...request, ssh }, route);
  });
}

/**
 * A resync from a cPanel backup is the restore again (route.ts). The restore adds what the target lacks and never
 * renames a message the target has, so `--flags source|merge` cannot be honoured: refused, not ignored.
 */
function refuseFlagsFromBackup(request: CopyRequest): void {
  const { flags } = request.files;
  if (request.operation !== 'resync' || flags === undefined || flags === 'target') return;
  throw new UsageError(`--flags ${flags}: a resync from a cPanel backup adds only what the target lacks and leaves the flags of what it has`, 'run without --flags (the target keeps its flags)');
}

async function runFilesCopy(request: CopyRequest, route: Route): Promise<CopyOutcome> {
  const { runTreeCopy } = await import('../tree/run-tree-copy.js');
  const { files } = request;
  const { report, chown, exitCode } = await runTreeCopy(request.source, request.target, {
    ...(files.jobs !== undefined ? { jobs: files.jobs } : {}),
    ...(files.bwlimitKiBps !== undefined ? { bwlimitKiBps: files.bwlimitKiBps } : {}),
    retries: files.retries,
    retryBaseDelayMs: files.retryBaseDelayMs,
    ioTimeoutS: files.ioTimeoutS,
    dryRun: request.dryRun,
    ssh: request.ssh,
    ...(files.renameUser ? { renameUser: files.renameUser } : {}),
    signal: request.signal,
    logger: request.logger,
    wantProgress: Boolean(request.progress),
    ...(request.progress ? { onTotal: (total) => request.progress!.total?.({ bytes: total.bytes, items: total.files }), onProgress: (done) => request.progress!.update(done) } : {}),
    // Owner and modes set by rsync as files arrive, and the chown pass afterwards, with ids resolved once.
    ...(files.chown ? { chown: true, idOverrides: files.chown } : {}),
    ...(request.onItem ? { onItem: request.onItem } : {}),
  });
  const summary: OperationSummary = {
    items: report.jobs.reduce((sum, j) => sum + j.files, 0),
    bytes: report.jobs.reduce((sum, j) => sum + j.bytes, 0),
    skipped: [
      ...report.skipped.map((s) => ({ item: `${s.job}: ${s.path}`, reason: s.reason })),
      // A job that did not finish left some of its mailbox behind: what rsync said is the reason.
      ...report.jobs.filter((j) => j.outcome !== 'ok').map((j) => ({ item: j.label, reason: `not copied completely: ${j.outcome}: ${j.meaning}` })),
      ...(chown?.failed ?? []).map((f) => ({ item: f.path, reason: `owner or mode not set: ${f.reason}` })),
    ],
    warnings: report.jobs.flatMap((j) => j.warnings.map((w) => `${j.label}: ${w}`)),
  };
  return { kind: 'files-copy', route, exitCode, summary, report, ...(chown ? { chown } : {}) };
}

/** A cPanel backup restored into a tree here or over ssh (src/archive/): one pass over the archive. */
async function runArchiveRestoreCopy(request: CopyRequest, route: Route): Promise<CopyOutcome> {
  refuseFlagsFromBackup(request);
  const { runArchiveCopy } = await import('../../archive/operation.js');
  const result = await runArchiveCopy({
    source: request.source,
    target: request.target,
    dryRun: request.dryRun,
    ...(request.files.chown ? { chown: request.files.chown } : {}),
    ssh: request.ssh,
    signal: request.signal,
    logger: request.logger,
    ...(request.progress ? { onProgress: (done: { items: number; bytes: number }) => request.progress!.update({ items: done.items, bytes: done.bytes }) } : {}),
  });
  const { totals } = result.report;
  const summary: OperationSummary = {
    items: totals.written + totals.linked,
    bytes: totals.bytes,
    skipped: result.skipped,
    warnings: result.report.controlFiles.filter((c) => c.action === 'keep-target').map((c) => `${c.path}: kept the target's version: ${c.reason}`),
  };
  return { kind: 'archive-restore', route, exitCode: result.exitCode, summary, result };
}

async function runFilesResync(request: CopyRequest, route: Route): Promise<CopyOutcome> {
  const { runResync } = await import('../tree/resync/run.js');
  const { files } = request;
  const report = await runResync(request.source, request.target, {
    flags: files.flags ?? 'target',
    dedupe: files.dedupe ?? true,
    dryRun: request.dryRun,
    ssh: request.ssh,
    retries: files.retries,
    retryBaseDelayMs: files.retryBaseDelayMs,
    ioTimeoutS: files.ioTimeoutS,
    ...(files.bwlimitKiBps !== undefined ? { bwlimitKiBps: files.bwlimitKiBps } : {}),
    signal: request.signal,
    logger: request.logger,
  });
  const summary: OperationSummary = {
    items: report.totals.copied,
    bytes: report.totals.bytesCopied,
    skipped: [
      ...report.skippedFolders.map((f) => ({ item: f.folder, reason: f.reason })),
      ...report.folders.filter((f) => f.notCopied > 0).map((f) => ({ item: f.folder, reason: `${f.notCopied} message(s) not copied` })),
    ],
    warnings: report.warnings,
  };
  return { kind: 'files-resync', route, exitCode: report.exitCode, summary, report };
}

async function runMessagesCopy(request: CopyRequest, route: Route): Promise<CopyOutcome> {
  if (request.target.kind === 'imap' && (request.source.kind === 'archive' || request.source.kind === 'path') && !route.fallback?.used) {
    const { readBackupSource } = await import('../../archive/source.js');
    if (request.source.kind === 'archive' || (await readBackupSource(request.source.path))) return runArchiveIntoImap(request, route);
  }
  const sourceSpec = route.fallback?.used ? parseStoreSpec(route.fallback.imap) : request.source;
  const pair = await openStorePair(request, sourceSpec, request.dryRun ? 'read' : 'write', { allowMissingTarget: request.dryRun });
  // The engine's modules load while the folder listings are on their way (an IMAP store sends its LIST as it opens).
  // Not before the stores open: its loading then went first, and the logins waited for it.
  const engine = import('../messages/copy.js');
  engine.catch(() => undefined);
  try {
    const flags = decideFlagsMode(request.files.flags, pair.target.store.caps);
    if (request.justLogin) return { kind: 'login', route, exitCode: ExitCode.ok, summary: { items: 0, bytes: 0, skipped: [], warnings: [] }, logins: describeLogins(pair) };
    const { runStoreCopy, decideCopyExitCode } = await engine;
    const report = await runStoreCopy(pair.source, pair.target, {
      ...(await buildStoreCopyOptions(request, pair, request.messages, flags)),
      dryRun: request.dryRun,
      ...(request.messages.accountTimeoutMs ? { timeoutMs: request.messages.accountTimeoutMs } : {}),
      ...(request.progress ? { onProgress: (done: CopyProgress) => request.progress!.update(toProgress(done)) } : {}),
    });
    const exitCode = decideCopyExitCode(report) as ExitCodeValue;
    return { kind: 'messages', route, exitCode, summary: summariseStoreCopy(report), report };
  } finally {
    await pair.dispose();
  }
}

/**
 * A cPanel backup into an IMAP account (the route says why): the selected mailbox streamed into the account in one
 * pass over the backup (archive/imap-restore.ts), in the report shape of a messages copy; what the restore left out
 * is part of the outcome and makes it partial.
 */
async function runArchiveIntoImap(request: CopyRequest, route: Route): Promise<CopyOutcome> {
  refuseFlagsFromBackup(request);
  if (request.justLogin) throw new UsageError('--justlogin logs in to two IMAP ends: the source of this copy is a cPanel backup', 'leave out --justlogin');
  const { readArchiveMailbox, runArchiveIntoMailStore } = await import('../../archive/imap-restore.js');
  // A whole account is refused before anything logs in.
  await readArchiveMailbox(request.source);
  const { openTargetStore } = await import('./store-pair.js');
  const target = await openTargetStore(request, request.dryRun ? 'read' : 'write');
  try {
    const m = request.messages;
    const report = await runArchiveIntoMailStore({
      source: request.source,
      target,
      dryRun: request.dryRun,
      messages: {
        mapping: { ...(m.maps ? { maps: m.maps } : {}), ...(m.excludes ? { excludes: m.excludes } : {}), ...(m.skipVirtual !== undefined ? { skipVirtual: m.skipVirtual } : {}) },
        skipExisting: m.skipExisting,
        ...(m.maxSizeBytes !== undefined ? { maxSizeBytes: m.maxSizeBytes } : {}),
        ...(m.maxBytesPerSecond ? { maxBytesPerSecond: m.maxBytesPerSecond } : {}),
        ...(m.maxBytes ? { maxBytes: m.maxBytes } : {}),
        ...(m.retries !== undefined ? { retries: m.retries } : {}),
        ...(m.retryBaseMs !== undefined ? { retryBaseMs: m.retryBaseMs } : {}),
      },
      signal: request.signal,
      ...(m.accountTimeoutMs ? { timeoutMs: m.accountTimeoutMs } : {}),
      logger: request.logger,
      ...(request.progress ? { onProgress: (done: { items: number; bytes: number }) => request.progress!.update({ items: done.items, bytes: done.bytes }) } : {}),
    });
    const { decideCopyExitCode } = await import('../messages/copy.js');
    const copied = decideCopyExitCode(report) as ExitCodeValue;
    const exitCode = copied === ExitCode.ok && report.notRestored.length > 0 ? ExitCode.partial : copied;
    const summary = summariseStoreCopy(report);
    return { kind: 'messages', route, exitCode, summary: { ...summary, skipped: [...report.notRestored, ...summary.skipped], warnings: [...summary.warnings, ...report.warnings] }, report };
  } finally {
    await target.store[Symbol.asyncDispose]();
  }
}

/** The store copy's options, as copy, resync and watch share them; the state file is per pair of stores. */
export async function buildStoreCopyOptions(request: OperationBase, pair: StorePair, m: MessagesCopyOptions, flags: FlagUpdateMode | undefined): Promise<StoreCopyOptions> {
  const { stateFileFor, defaultStateDir } = await import('../state.js');
  const pairKey = `${pair.source.label} -> ${pair.target.label}`;
  return {
    maps: m.maps,
    excludes: m.excludes,
    skipVirtual: m.skipVirtual,
    skipExisting: m.skipExisting,
    ...(flags ? { flags } : {}),
    ...(m.maxSizeBytes !== undefined ? { maxSizeBytes: m.maxSizeBytes } : {}),
    ...(m.maxBytesPerSecond ? { maxBytesPerSecond: m.maxBytesPerSecond } : {}),
    ...(m.maxBytes ? { maxBytes: m.maxBytes } : {}),
    concurrency: m.concurrency,
    ...(m.retries !== undefined ? { retries: m.retries } : {}),
    ...(m.retryBaseMs !== undefined ? { retryBaseMs: m.retryBaseMs } : {}),
    state: { file: stateFileFor(m.stateDir ?? defaultStateDir(request.env), pairKey), pair: pairKey },
    logger: request.logger,
    signal: request.signal,
  };
}

/**
 * `resync --flags source|merge`: a target that finds what earlier runs copied, by the source identity its file names
 * carry (a maildir) or by its own UIDs from the map the sync state keeps (an IMAP target opened for writing), can take
 * the source's flags. Any other target (an mbox) is refused rather than ignored.
 */
export function decideFlagsMode(value: FlagsMode | undefined, caps: { readonly flagsBySourceKey: boolean; readonly flagsByTargetUid?: boolean }): FlagUpdateMode | undefined {
  if (value === undefined || value === 'target') return undefined;
  if (!caps.flagsBySourceKey && !caps.flagsByTargetUid) {
    throw new UsageError(`--flags ${value} needs a maildir or IMAP target: flags of messages already on this target are kept`, 'run without --flags (the target keeps its flags)');
  }
  return value;
}

/** What a messages copy did, in the shape every operation shares. */
export function summariseStoreCopy(report: StoreCopyReport): OperationSummary {
  return {
    items: report.totals.copied,
    bytes: report.totals.copiedBytes,
    skipped: [
      ...report.skippedFolders.map((f) => ({ item: f.folder, reason: f.reason })),
      ...report.folders.flatMap((f) => f.skipped.map((s) => ({ item: `${f.source} ${s.uid !== undefined ? `UID ${s.uid}` : s.id}`, reason: s.reason }))),
      ...report.folders.flatMap((f) => (f.error ? [{ item: f.source, reason: `folder failed: ${f.error.message}` }] : [])),
    ],
    warnings: report.stopped ? [`stopped: ${report.stopped.reason}`] : [],
  };
}

/**
 * An IMAP copy's progress: a percentage and an ETA against what the folders listed so far lack (source sizes), and
 * how many folders that covers while the rest are still to be listed.
 */
export function toProgress(done: CopyProgress): Progress {
  const base = { bytes: done.bytes, items: done.messages };
  if (done.foldersPlanned === 0 || done.plannedBytes === 0) return base;
  return {
    ...base,
    totalItems: done.plannedMessages,
    totalBytes: done.plannedBytes,
    measuredBytes: done.sourceBytes,
    ...(done.foldersPlanned < done.foldersTotal ? { note: `${done.foldersPlanned}/${done.foldersTotal} folders listed` } : {}),
  };
}
