import { describeError, isMailshiftError, MailshiftError, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Logger } from '../core/logger.js';
import { combineWithAccountTimeout, CopyTimeoutError } from '../engine/messages/copy.js';
import type { StoreCopyReport } from '../engine/messages/report.js';
import { withDryRun } from '../stores/dry-run.js';
import { formatSpec, type StoreSpec } from '../stores/spec.js';
import type { MailStore } from '../stores/store.js';
import { ImapRestoreWriter, type ImapRestoreWriterOptions } from './imap-writer.js';
import { runArchiveRestore, type SkippedEntry, type WouldAdd } from './restore.js';
import { readBackupSource, type BackupSource } from './source.js';

/**
 * `mailshift copy cpmove:BACKUP#local@domain imaps://user@host`: one mailbox of a cPanel backup into an IMAP account,
 * streamed. restore.ts reads the backup once, from start to end, with its safety checks (refused names, symlinks,
 * devices, hard links, mdbox, a truncated archive), and hands each message to ImapRestoreWriter, which appends it to
 * the account as it passes (imap-writer.ts). Nothing is extracted or staged on disk, and no state is kept: a re-run
 * pairs the backup's messages with what the account holds, by identity, and appends only what is missing.
 *
 * The report has the shape of a messages copy's (folders, mapping, totals), so `--json` reads as it did when this
 * route went through a staging maildir, plus what the restore did not restore (`notRestored`) and its notices.
 */

export interface ArchiveImapRequest {
  readonly source: StoreSpec;
  /** The IMAP account, opened for writing (for reading in a dry run). The caller owns and closes it. */
  readonly target: { readonly store: MailStore; readonly label: string };
  readonly dryRun: boolean;
  /** The copy's message options that apply: folder mapping, --skip-existing, --max-size, pacing, retries. */
  readonly messages: Pick<ImapRestoreWriterOptions, 'mapping' | 'skipExisting' | 'maxSizeBytes' | 'maxBytesPerSecond' | 'maxBytes' | 'retries' | 'retryBaseMs' | 'batchMessages'>;
  readonly signal: AbortSignal;
  /** `--timeout`: stops cleanly once reached (what was appended stays; exit 75, the same command goes on). */
  readonly timeoutMs?: number;
  readonly logger: Logger;
  readonly onProgress?: (done: { readonly items: number; readonly bytes: number }) => void;
}

export interface ArchiveImapReport extends StoreCopyReport {
  /** Entries of the backup refused or not restorable (symlinks, devices, mdbox...), with their reasons. */
  readonly notRestored: SkippedEntry[];
  readonly notices: string[];
  /** Keywords that could not be set, and why. */
  readonly warnings: string[];
  /** A dry run: the messages it would append (the first maxNamedWouldAdd, restore.ts), named as in the backup. */
  readonly wouldAdd: WouldAdd[];
  /** A dry run: how many more it would append than wouldAdd names. */
  readonly wouldAddUnnamed: number;
}

/** The report of a backup restored into a mail store, told apart from a plain messages copy's (both come as `messages`). */
export function isArchiveImapReport(report: StoreCopyReport): report is ArchiveImapReport {
  return 'notRestored' in report && 'wouldAdd' in report;
}

/** The backup and its mailbox (`DOMAIN/LOCAL`); a whole account is refused: an IMAP account takes one mailbox. */
export async function readArchiveMailbox(source: StoreSpec): Promise<{ backup: BackupSource; mailbox: string }> {
  if (source.kind !== 'archive' && source.kind !== 'path') throw new UsageError(`${formatSpec(source)} is not a cPanel backup`);
  if (source.kind !== 'archive' || !source.mailbox) {
    throw new MailshiftError('MAILSHIFT_ARCHIVE_NO_MAILBOX', `${formatSpec(source)} holds a whole cPanel account and an IMAP account takes one mailbox: name the mailbox to restore`, {
      hint: 'name one mailbox: cpmove:ARCHIVE#local@domain (mailshift discover ARCHIVE lists them)',
      exitCode: ExitCode.usage,
    });
  }
  const backup = await readBackupSource(source.path);
  if (!backup) throw new MailshiftError('MAILSHIFT_MISSING_SOURCE', `${source.path} is not a cPanel backup (a tar, a tar.gz or a backup directory)`, { exitCode: ExitCode.config });
  return { backup, mailbox: `${source.mailbox.domain}/${source.mailbox.localPart}` };
}

export async function runArchiveIntoMailStore(request: ArchiveImapRequest): Promise<ArchiveImapReport> {
  const started = Date.now();
  const { backup, mailbox } = await readArchiveMailbox(request.source);
  const store = request.dryRun ? withDryRun(request.target.store) : request.target.store;
  const { signal, dispose } = combineWithAccountTimeout(request.signal, request.timeoutMs);
  try {
    return await restoreIntoStore(request, started, backup, mailbox, store, signal);
  } finally {
    dispose();
  }
}

async function restoreIntoStore(request: ArchiveImapRequest, started: number, backup: BackupSource, mailbox: string, store: MailStore, signal: AbortSignal): Promise<ArchiveImapReport> {
  const writer = await ImapRestoreWriter.open({
    store,
    label: request.target.label,
    ...request.messages,
    dryRun: request.dryRun,
    signal,
    logger: request.logger,
  });
  let restored: Awaited<ReturnType<typeof runArchiveRestore>> | undefined;
  let stopped: MailshiftError | undefined;
  try {
    restored = await runArchiveRestore(backup, {
      target: { kind: 'maildir', path: request.target.label, label: request.target.label },
      mailbox,
      dryRun: request.dryRun,
      signal,
      logger: request.logger,
      writers: { mail: writer },
      ...(request.onProgress ? { onProgress: request.onProgress } : {}),
    });
  } catch (err) {
    // A damaged archive: what was read whole before the damage still goes to the account. --max-bytes and --timeout:
    // clean stops, reported with exit 75 (the same command goes on).
    const isTimeout = signal.aborted && !request.signal.aborted;
    const isStop = isTimeout || (isMailshiftError(err) && err.code === 'MAILSHIFT_BYTE_BUDGET');
    const sendPending = isMailshiftError(err) && (err.code === 'MAILSHIFT_ARCHIVE_CORRUPT' || err.code === 'MAILSHIFT_BYTE_BUDGET');
    // The archive's error is the one to report: a failure to finish the appends after it is only logged.
    await writer.close({ sendPending }).catch((closeErr: unknown) => request.logger.warn(`finishing the appends after the stop: ${describeError(closeErr)}`));
    if (!isStop) throw err;
    stopped = isTimeout ? new CopyTimeoutError(request.timeoutMs!) : (err as MailshiftError);
    request.logger.error(`stopped: ${stopped.message}`);
  }
  if (restored) await writer.close({ sendPending: true });
  const notRestored = restored ? [...restored.report.skipped] : [];
  for (const s of notRestored) request.logger.warn(`not restored: ${s.item}: ${s.reason}`);
  const folders = [...writer.folders].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  for (const f of request.dryRun ? [] : writer.folders) {
    request.logger.info(`${f.source} -> ${f.target}: ${f.copied} copied, ${f.alreadyPresent} already there${f.skipped.length ? `, ${f.skipped.length} skipped` : ''}`);
  }
  const totals = { copied: 0, copiedBytes: 0, alreadyPresent: 0, skipped: 0, failedFolders: 0, examined: 0, flagDifferences: 0, flagsApplied: 0 };
  for (const folder of folders) {
    totals.copied += folder.copied;
    totals.copiedBytes += folder.copiedBytes;
    totals.alreadyPresent += folder.alreadyPresent;
    totals.skipped += folder.skipped.length;
    totals.examined += folder.examined;
    totals.flagDifferences += folder.flagDifferences;
    totals.flagsApplied += folder.flagsApplied;
    if (folder.error) totals.failedFolders += 1;
  }
  return {
    source: formatSpec(request.source),
    target: request.target.label,
    dryRun: request.dryRun,
    // INBOX first, then by name, as a messages copy lists them (the archive's order is tar's).
    mapping: [...writer.mapping].sort((a, b) => (a.source === 'INBOX' ? -1 : b.source === 'INBOX' ? 1 : a.source < b.source ? -1 : a.source > b.source ? 1 : 0)),
    folders,
    skippedFolders: writer.skippedFolders,
    totals,
    durationMs: Date.now() - started,
    ...(stopped ? { stopped: { code: stopped.code, reason: stopped.message, exitCode: stopped.exitCode } } : {}),
    notRestored,
    notices: restored ? restored.report.notices : [],
    warnings: writer.warnings,
    wouldAdd: restored ? restored.report.wouldAdd : [],
    wouldAddUnnamed: restored ? restored.report.wouldAddUnnamed : 0,
  };
}
