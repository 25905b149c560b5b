import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../core/exit-codes.js';
import { MailshiftError, UsageError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { Credentials, ImapConnectOptions, OperationBase, OperationSummary } from '../engine/operations/types.js';
import { parseStoreSpec, type ImapSpec, type StoreSpec } from '../stores/spec.js';
import type { SshOptions } from '../transport/ssh.js';
import { decideStageVerdict } from './classify.js';
import type { PlanRow } from './plan-file.js';
import { parseRowOptions, type RowOptions } from './row-options.js';
import type { StageExecutor, StageProgress } from './run.js';
import type { FolderComparison, Stage, StageOutcome } from './state/types.js';

/**
 * One stage of one account, through the same engine calls as the single commands, so each account gets exactly what
 * they give it: prestage is `copy` (and `convert` for an mbox source going to a maildir; the owners and modes of a
 * cPanel target are set by the copy's last step, as `copy` does), cutover is `resync` (`convert` again for mbox, the
 * restore again for a cPanel backup: each adds only what is new), verify is `verify` (for a backup, a dry run of the
 * restore that must find nothing to add). Passwords come from the campaign's credentials file by the names the
 * row gives, never from argv; each account logs to its own file in the campaign directory, with its secrets masked.
 */
export interface StageEnvironment {
  readonly credentials: ReadonlyMap<string, string>;
  readonly ssh: SshOptions;
  readonly imap: ImapConnectOptions;
  readonly env: NodeJS.ProcessEnv;
  /** Where IMAP copies keep their per-folder UID watermarks (inside the campaign directory). */
  readonly syncStateDir: string;
  /** One log file per account. */
  readonly logsDir: string;
  /** File copies: retries of a dropped connection and the first back-off, and the no-data timeout. */
  readonly fileRetries: number;
  readonly fileRetryDelayMs: number;
  readonly ioTimeoutS: number;
  /**
   * Whether anyone draws per-account progress (a terminal, --json). A file copy that reports progress measures its
   * sources first, a listing more per account: a campaign logging to a file skips it.
   */
  readonly wantProgress: boolean;
}

/**
 * The stage environment of a campaign directory, as the campaign (in-process) and a queue worker both run it: the
 * IMAP watermarks in DIR/sync, one log per account in DIR/logs, and the file copies' retry and time-out defaults of
 * `mailshift copy`.
 */
export function buildCampaignStageEnvironment(
  directory: string,
  ends: Pick<StageEnvironment, 'credentials' | 'ssh' | 'imap' | 'env' | 'wantProgress'>,
): StageEnvironment {
  return { ...ends, syncStateDir: path.join(directory, 'sync'), logsDir: path.join(directory, 'logs'), fileRetries: 3, fileRetryDelayMs: 2000, ioTimeoutS: 120 };
}

export function buildStageExecutor(environment: StageEnvironment): StageExecutor {
  return async (row, stage, signal, progress) => {
    const started = Date.now();
    const log = openAccountLog(environment.logsDir, row.id);
    try {
      log.logger.info(`--- ${stage} ${row.id}`);
      const parsedOptions = parseRowOptions(row.options);
      if (!parsedOptions.ok) throw new UsageError(`line ${row.line}: ${parsedOptions.reason}`);
      const result = await runStage(row, stage, parsedOptions.options, { environment, signal, logger: log.logger, progress });
      const verdict = decideStageVerdict(result.exitCode, stage === 'verify' ? 'verify' : stage === 'cutover' ? 'the cutover resync' : 'the copy');
      const outcome: StageOutcome = {
        status: verdict.status,
        items: result.summary.items,
        bytes: result.summary.bytes,
        exitCode: result.exitCode,
        durationMs: Date.now() - started,
        skipped: result.summary.skipped,
        warnings: result.summary.warnings,
        ...(result.folders ? { folders: result.folders } : {}),
        ...(result.missing ? { missing: result.missing } : {}),
        ...(verdict.error ? { error: verdict.error } : {}),
        ...(verdict.failureKind ? { failureKind: verdict.failureKind } : {}),
        ...(result.route ? { route: result.route } : {}),
      };
      log.logger.info(`${stage} ${row.id}: ${outcome.status}, ${outcome.items} item(s), ${outcome.bytes} bytes, ${outcome.skipped.length} skipped${outcome.error ? `: ${outcome.error}` : ''}`);
      return outcome;
    } catch (err) {
      log.logger.error(`${stage} ${row.id}: ${(err as Error).message}`);
      throw err;
    } finally {
      await log.close();
    }
  };
}

interface StageResult {
  readonly exitCode: number;
  readonly summary: OperationSummary;
  readonly folders?: readonly FolderComparison[];
  readonly missing?: StageOutcome['missing'];
  readonly route?: string;
}

interface StageContext {
  readonly environment: StageEnvironment;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly progress: (done: StageProgress) => void;
}

async function runStage(row: PlanRow, stage: Stage, options: RowOptions, context: StageContext): Promise<StageResult> {
  const source = parseStoreSpec(row.source);
  const target = parseStoreSpec(row.target);
  const base = buildBase(row, source, target, context);
  if (stage === 'verify' && (await isBackupSource(source))) return verifyBackupRestore(base, options, context);
  if (stage === 'verify') {
    const { runVerifyOperation } = await import('../engine/operations/verify.js');
    const outcome = await runVerifyOperation({ ...base, strict: false, rules: { maps: [], excludes: options.excludes, skipVirtual: true } });
    const folderName = (folder: { mailbox: string; folder: string }) => (folder.mailbox ? `${folder.mailbox}: ${folder.folder}` : folder.folder);
    return {
      exitCode: outcome.exitCode,
      summary: outcome.summary,
      folders: outcome.report.folders.map((folder) => ({
        folder: folderName(folder),
        sourceMessages: folder.source.messages,
        targetMessages: folder.target.messages,
        missing: folder.missing.length,
      })),
      missing: outcome.report.folders.flatMap((folder) =>
        folder.missing.map((key) => {
          const sourceUid = folder.missingSourceUids[key];
          return { folder: folderName(folder), key, sourceFolder: folder.folder, ...(sourceUid !== undefined ? { sourceUid } : {}) };
        }),
      ),
      route: `${outcome.route.use}: ${outcome.route.reason}`,
    };
  }
  if (await isMboxToMaildir(source, target)) return runMboxConvert(source, target, context);
  const { runCopyOperation } = await import('../engine/operations/copy.js');
  const { environment } = context;
  // From a cPanel backup, the cutover's resync is the restore again (engine/route.ts decides it, as for `resync`).
  const outcome = await runCopyOperation({
    ...base,
    operation: stage === 'prestage' ? 'copy' : 'resync',
    dryRun: false,
    files: {
      ...(options.jobs !== undefined ? { jobs: options.jobs } : {}),
      ...(options.bwlimitKiBps !== undefined ? { bwlimitKiBps: options.bwlimitKiBps } : {}),
      retries: environment.fileRetries,
      retryBaseDelayMs: environment.fileRetryDelayMs,
      ioTimeoutS: environment.ioTimeoutS,
      ...(row.rename ? { renameUser: row.rename } : {}),
      // Into a cPanel root, owners and modes as cPanel sets them (the copy's last step), as `copy` does by default.
      ...(target.kind === 'cpanel' && !options.noChown ? { chown: {} } : {}),
      ...(options.flags ? { flags: options.flags } : {}),
      dedupe: !options.noDedupe,
    },
    messages: {
      maps: [],
      excludes: options.excludes,
      skipVirtual: true,
      skipExisting: true,
      ...(options.maxSizeBytes !== undefined ? { maxSizeBytes: options.maxSizeBytes } : {}),
      stateDir: environment.syncStateDir,
      concurrency: Math.max(1, Math.min(options.jobs ?? 1, environment.imap.maxConnections)),
    },
    ...(environment.wantProgress ? { progress: { update: (done) => context.progress({ bytes: done.bytes, items: done.items, ...(done.totalBytes !== undefined ? { totalBytes: done.totalBytes } : {}) }) } } : {}),
  });
  return { exitCode: outcome.exitCode, summary: outcome.summary, route: `${outcome.route.use}: ${outcome.route.reason}` };
}

/** A cPanel backup (`cpmove:BACKUP`, or a plain path that holds one): restored by the archive engine. */
async function isBackupSource(source: StoreSpec): Promise<boolean> {
  if (source.kind === 'archive') return true;
  if (source.kind !== 'path' || source.location.type !== 'local') return false;
  const { readBackupSource } = await import('../archive/source.js');
  return (await readBackupSource(source.path)) !== undefined;
}

/**
 * verify for a backup row: `verify` works on live trees and accounts, and a backup is one compressed stream. A dry
 * run of the restore reads the whole backup and compares each message with the target (by its base name in the
 * target folder, or by identity in an IMAP account): a message it would still add is missing there (exit 4), an
 * entry it refuses is listed (exit 3), nothing to add is a verify that compared everything (exit 0).
 */
async function verifyBackupRestore(base: OperationBase, options: RowOptions, context: StageContext): Promise<StageResult> {
  const { runCopyOperation } = await import('../engine/operations/copy.js');
  const outcome = await runCopyOperation({
    ...base,
    operation: 'copy',
    dryRun: true,
    files: { retries: context.environment.fileRetries, retryBaseDelayMs: context.environment.fileRetryDelayMs, ioTimeoutS: context.environment.ioTimeoutS },
    messages: { maps: [], excludes: options.excludes, skipVirtual: true, skipExisting: true, stateDir: context.environment.syncStateDir, concurrency: 1 },
  });
  const missing = outcome.summary.items;
  const exitCode = outcome.exitCode !== ExitCode.ok && outcome.exitCode !== ExitCode.partial ? outcome.exitCode : missing > 0 ? ExitCode.differences : outcome.exitCode;
  // Named, as a verify of live trees names them: the dry run lists the first ones it would add (archive/restore.ts),
  // into a tree or, through the same restore, into an IMAP account (archive/imap-restore.ts).
  const { isArchiveImapReport } = await import('../archive/imap-restore.js');
  const wouldAdd = outcome.kind === 'archive-restore' ? outcome.result.report.wouldAdd : outcome.kind === 'messages' && isArchiveImapReport(outcome.report) ? outcome.report.wouldAdd : [];
  const named = wouldAdd.map((message) => ({ folder: describeBackupFolder(message), key: message.name.split(':')[0]! }));
  const unnamed = missing - named.length;
  const warnings = missing > 0
    ? [...outcome.summary.warnings, `${missing} message(s) of the backup are not on the target${unnamed > 0 ? ` (${unnamed} of them not named in this report)` : ''}: run the prestage again`]
    : outcome.summary.warnings;
  // As a verify of live trees lists them: one skipped entry per missing message, with the reason campaigns look for.
  const { missingOnTargetReason } = await import('../engine/operations/verify.js');
  const skipped = [...outcome.summary.skipped, ...named.map((each) => ({ item: `${each.folder} ${each.key}`, reason: missingOnTargetReason }))];
  return {
    exitCode,
    summary: { ...outcome.summary, items: 0, bytes: 0, skipped, warnings },
    ...(named.length > 0 ? { missing: named } : {}),
    route: `verify by a dry run of the restore: ${outcome.route.reason}`,
  };
}

/** "DOMAIN/LOCAL: FOLDER" for a message of a backup's mailbox (the folder is its directory in the tree restored into). */
function describeBackupFolder(message: { readonly mailbox: string; readonly folder: string }): string {
  const inMailbox = message.mailbox && message.folder.startsWith(`${message.mailbox}/`) ? message.folder.slice(message.mailbox.length + 1) : message.folder;
  const folder = inMailbox === '' ? 'INBOX' : inMailbox;
  return message.mailbox ? `${message.mailbox}: ${folder}` : folder;
}

/** An mbox file (or directory of them) going to a maildir here is a conversion, as `mailshift convert` does it. */
async function isMboxToMaildir(source: StoreSpec, target: StoreSpec): Promise<boolean> {
  if (target.kind === 'imap' || target.kind === 'mbox') return false;
  if (source.kind === 'mbox') return true;
  if (source.kind !== 'path' || source.location.type !== 'local') return false;
  const { classifyLocalMailPath } = await import('../stores/probe.js');
  return (await classifyLocalMailPath(source.path)).kind === 'mbox';
}

async function runMboxConvert(source: StoreSpec, target: StoreSpec, context: StageContext): Promise<StageResult> {
  if (source.kind === 'imap' || source.kind === 'cpanel' || source.location.type !== 'local') throw new UsageError('an mbox source must be a file or directory on this machine');
  if (target.kind === 'cpanel' || target.kind === 'imap' || target.location.type !== 'local') {
    throw new UsageError('an mbox source is converted into a maildir on this machine: give the target maildir path', 'copy the maildir to its server afterwards, or give an IMAP target');
  }
  const { runConvert } = await import('../engine/convert.js');
  const report = await runConvert({
    source: source.path,
    target: target.path,
    dryRun: false,
    maxBad: 100,
    gmailLabels: 'ignore',
    variant: 'auto',
    signal: context.signal,
    logger: context.logger,
    onProgress: (done) => context.progress({ bytes: done.sourceBytesDone, items: done.messages, totalBytes: done.sourceBytesTotal }),
  });
  const skipped = report.skipped.map((item) => ({ item: `${item.file} at byte ${item.offset}`, reason: item.reason }));
  // Files that are not mbox (cPanel's mailbox_format.cpanel, a client's index directory) are not mail left behind:
  // `convert` lists them and still exits 0, so they are warnings here, not skips that would mark the account partial.
  const ignored = report.ignored.map((item) => `${item.path}: not read as mbox: ${item.reason}`);
  const exitCode = report.stopped ? ExitCode.failed : skipped.length > 0 ? ExitCode.partial : ExitCode.ok;
  return {
    exitCode,
    summary: { items: report.totals.messages, bytes: report.totals.bytes, skipped, warnings: [...report.warnings, ...ignored, ...(report.stopped ? [`stopped: ${report.stopped.reason}`] : [])] },
    route: 'convert: the source is mbox and the target a maildir',
  };
}

function buildBase(row: PlanRow, source: StoreSpec, target: StoreSpec, context: StageContext): OperationBase {
  const { environment } = context;
  const credentials: Credentials = {
    async password(side: 'source' | 'target', spec: ImapSpec): Promise<string> {
      const name = side === 'source' ? row.sourceCredential : row.targetCredential;
      if (!name) throw new UsageError(`line ${row.line}: the ${side} ${spec.user}@${spec.host} is IMAP and the row names no ${side}_credential`, 'add the credential name to the plan and its secret to the credentials file');
      const secret = environment.credentials.get(name);
      if (secret === undefined) throw new MailshiftError('MAILSHIFT_PASSWORD_FILE', `line ${row.line}: the credentials file has no "${name}" (${side}_credential of ${row.id})`, { hint: 'add it to the credentials file (mode 0600)' });
      context.logger.redact(secret);
      return secret;
    },
  };
  return { source, target, ssh: environment.ssh, credentials, imap: environment.imap, signal: context.signal, logger: context.logger, env: environment.env };
}

/** logs/ID.log, appended to by every stage and attempt; a secret registered with the logger never reaches it. */
function openAccountLog(directory: string, id: string): { logger: Logger; close(): Promise<void> } {
  const stream: WriteStream = createWriteStream(path.join(directory, `${id}.log`), { flags: 'a', mode: 0o600 });
  const logger = createLogger({ level: 'info', write: (line) => stream.write(`${new Date().toISOString()} ${line}`) });
  return {
    logger,
    close: () => new Promise<void>((resolve) => stream.end(resolve)),
  };
}
