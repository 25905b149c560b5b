import { Command, Option } from 'commander';
import type { ResyncReport } from '../../engine/tree/resync/report.js';
import { runResync } from '../../engine/tree/resync/run.js';
import type { FlagsMode } from '../../engine/tree/resync/plan.js';
import { parseStoreSpec } from '../../stores/spec.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatBytes, formatDuration, formatJson, formatTable, printable } from '../render.js';
import { addSshOptions, parseBandwidthKiBps, parseWholeNumber, withSshSession, type SshCliOptions } from './ssh-options.js';
import { refuseLocalMboxSource } from './local-paths.js';
import { addImapOptions, decideEngine, formatFallbackLine, refuseDboxSource } from './imap-options.js';
import { runImapCopyAction } from './imap-actions.js';

export interface ResyncCliOptions extends SshCliOptions {
  flags: FlagsMode;
  dedupe: boolean;
  dryRun?: boolean;
  retries: number;
  retryDelay: number;
  timeout: number;
  bwlimit?: number;
}

/** Options resync and watch share. */
export function addResyncOptions(command: Command): Command {
  command
    .addOption(
      new Option('--flags <who>', 'flags of messages already on the target: keep the target\'s, take the source\'s, or merge both (renames the target file)')
        .choices(['target', 'source', 'merge'])
        .default('target'),
    )
    .option('--no-dedupe', 'do not look for mail delivered to both servers (same Message-ID and content)')
    .option('--retries <n>', 'retries of a dropped connection, with back-off', parseWholeNumber, 3)
    .option('--retry-delay <ms>', 'first back-off delay; doubles up to 30 s', parseWholeNumber, 2000)
    .option('--timeout <s>', 'give up on a connection that moves no data for this long (then retry)', parseWholeNumber, 120)
    .option('--bwlimit <rate>', 'bandwidth limit, KiB/s (or 500K, 10M)', parseBandwidthKiBps);
  return addSshOptions(command);
}

export function registerResync(program: Command, ctx: CliContext): void {
  const command = program
    .command('resync')
    .description('after a copy: bring the target up to date with mail that reached the source since, by maildir base name: never duplicates, never deletes, never overwrites')
    .argument('<source>', 'maildir path, ssh://[user@]host[:port]/path, cpanel:ROOT#USER, cpanel:ROOT#local@domain, imap(s)://user@host[:port], or (to IMAP) an mbox file, .gz or directory of mbox files')
    .argument('<target>', 'same forms as the source; at most one end may be remote')
    .option('-n, --dry-run', 'print what would be copied and renamed, change nothing');
  addImapOptions(addResyncOptions(command)).action(async (sourceText: string, targetText: string, options: ResyncCliOptions, cmd: Command) => {
    const route = await decideEngine(sourceText, targetText, cmd, ctx);
    if (route.engine === 'imap') return runImapCopyAction(ctx, cmd, sourceText, targetText, 'resync', route.fallback);
    await refuseLocalMboxSource(sourceText, 'resync');
    const globals = cmd.optsWithGlobals<GlobalOptions & ResyncCliOptions>();
    const logger = ctx.logger();
    const source = parseStoreSpec(sourceText);
    const target = parseStoreSpec(targetText);
    // One ssh connection for the whole run (listing, rsync, renames, listing again).
    const report = await withSshSession(options, [source, target], async (ssh) => {
      // --imap-fallback looked already (and found files); otherwise make sure the files are not a dbox store.
      if (!route.fallback) await refuseDboxSource(source, ssh, ctx.signal);
      return runResync(source, target, {
        flags: options.flags,
        dedupe: options.dedupe,
        dryRun: Boolean(options.dryRun),
        ssh,
        retries: options.retries,
        retryBaseDelayMs: options.retryDelay,
        ioTimeoutS: options.timeout,
        ...(options.bwlimit !== undefined ? { bwlimitKiBps: options.bwlimit } : {}),
        signal: ctx.signal,
        logger,
      });
    });
    for (const warning of report.warnings) logger.warn(warning);
    ctx.out(
      globals.json
        ? formatJson({ ok: report.exitCode === 0, command: 'resync', engine: 'files', ...(route.fallback ? { fallback: route.fallback } : {}), ...report })
        : formatFallbackLine(route.fallback) + formatResyncReport(report),
    );
    ctx.setExitCode(report.exitCode);
  });
}

export function formatResyncSummary(report: ResyncReport): string {
  const t = report.totals;
  const verb = report.dryRun ? 'would copy' : 'copied';
  const flagWord = report.flags === 'target' ? 'target kept' : report.dryRun ? `would apply ${t.flagsApplied}` : `${t.flagsApplied} applied`;
  const parts = [
    `${t.copied} ${verb}${t.bytesCopied > 0 ? ` (${formatBytes(t.bytesCopied)})` : ''}${t.notCopied > 0 ? ` (${t.notCopied} not copied)` : ''}`,
    `${t.alreadyPresent} already present`,
    `${t.duplicatesSkipped} duplicate${t.duplicatesSkipped === 1 ? '' : 's'} skipped`,
    `${t.flagDifferences} flag difference${t.flagDifferences === 1 ? '' : 's'} (${flagWord})`,
    `${t.foldersAdded} folder${t.foldersAdded === 1 ? '' : 's'} added`,
  ];
  return parts.join(', ');
}

function formatFolderNote(f: ResyncReport['folders'][number]): string {
  const notes = [f.added ? (f.subscribed ? 'folder added, subscribed' : 'folder added') : '', f.notCopied > 0 ? `${f.notCopied} not copied` : ''];
  return notes.filter(Boolean).join('; ');
}

export function formatResyncReport(report: ResyncReport): string {
  let text = `${report.dryRun ? 'Dry run' : 'Resynced'} ${report.source} -> ${report.target} in ${formatDuration(report.durationMs)}: ${formatResyncSummary(report)}\n`;
  if (report.totals.targetOnly > 0) text += `${report.totals.targetOnly} message(s) only on the target were left as they are\n`;
  const busy = report.folders.filter((f) => f.added || f.copied > 0 || f.notCopied > 0 || f.duplicatesSkipped > 0 || f.flagDifferences > 0);
  if (busy.length > 0) {
    text += '\n';
    text += formatTable(
      ['FOLDER', 'COPIED', 'PRESENT', 'DUPLICATES', 'FLAGS DIFFER', 'FLAGS APPLIED', 'NOTE'],
      busy.map((f) => [f.folder, f.copied, f.alreadyPresent, f.duplicatesSkipped, f.flagDifferences, f.flagsApplied, formatFolderNote(f)]),
    );
  }
  const quiet = report.folders.length - busy.length;
  if (quiet > 0) text += `${busy.length > 0 ? '' : '\n'}${quiet} folder(s) already in sync\n`;
  if (report.skippedFolders.length > 0) {
    text += `\nNot written (${report.skippedFolders.length}):\n`;
    for (const s of report.skippedFolders) text += `  ${printable(s.folder)}: ${printable(s.reason)}\n`;
  }
  if (report.rsync && report.rsync.outcome !== 'ok') text += `\nrsync: ${report.rsync.outcome}: ${report.rsync.meaning} (${report.rsync.attempts} attempt(s))\n`;
  if (report.rsync?.hint && report.rsync.outcome !== 'ok') text += `hint: ${report.rsync.hint}\n`;
  if (report.sourceChanged) {
    const c = report.sourceChange;
    text += `\nThe source changed during the run${c ? ` (${c.added} new, ${c.renamed} renamed, ${c.removed} gone)` : ''}: run resync again.\n`;
  } else if (report.exitCode === 0 && !report.dryRun) {
    text += '\nIn sync.\n';
  }
  return text;
}
