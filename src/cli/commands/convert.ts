import { setFlagsFromString } from 'node:v8';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ExitCode } from '../../core/exit-codes.js';
import { runConvert, type ConvertReport, type MboxVariant } from '../../engine/convert.js';
import type { GmailLabelMode } from '../../../converters/mbox/gmail-folders.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createProgressBar, formatBytes, formatDuration, formatJson, formatTable, type ProgressBar } from '../render.js';

interface ConvertCliOptions {
  dryRun?: boolean;
  maxBad: number;
  gmailLabels: GmailLabelMode | 'ignore';
  mboxVariant: MboxVariant;
  folder?: string;
}

export function registerConvert(program: Command, ctx: CliContext): void {
  program
    .command('convert')
    .description('convert mbox (a file, a .gz, or a tree of mbox files) into a Maildir++ tree, keeping flags, keywords, dates and UIDs')
    .argument('<source>', 'mbox file, .gz of one, or directory of mbox files (cPanel, Thunderbird .sbd, nested dirs)')
    .argument('<target>', 'Maildir++ root; created if missing; mail already in it is never touched')
    .option('-n, --dry-run', 'print per-folder counts and bytes, write nothing')
    .option('--max-bad <n>', 'skip up to N messages that cannot be converted (each is reported); more stops the run', parseCount, 0)
    .addOption(
      new Option('--gmail-labels <mode>', 'Gmail Takeout: one copy per label folder, a single copy, or ignore labels')
        .choices(['folders', 'single', 'ignore'])
        .default('folders'),
    )
    .addOption(
      new Option('--mbox-variant <variant>', 'how messages are framed and escaped; auto detects mboxrd and honours Content-Length where it is right')
        .choices(['auto', 'mboxo', 'mboxrd', 'mboxcl', 'mboxcl2'])
        .default('auto'),
    )
    .option('--folder <name>', 'folder for a single-file source (default INBOX), e.g. "Archive/2019"')
    .action(async (source: string, target: string, options: ConvertCliOptions, command: Command) => {
      // A conversion's live data grows slowly with the message count (names and UIDs); grown 20% at a time instead
      // of V8's default factor, the heap stays close to it: 100,000 messages peaked at ~125 MB RSS instead of
      // 155-195 MB, no slower. Only a GC growth heuristic, read when the heap limit is next computed; set here, not
      // in the shebang, because the same setting made IMAP copies ~20% slower (they churn through socket buffers).
      setFlagsFromString('--heap-growing-percent=20');
      const globals = command.optsWithGlobals<GlobalOptions & ConvertCliOptions>();
      const logger = ctx.logger();
      // Created on the first report, which carries the total source size the bar's percentage and ETA need.
      let progress: ProgressBar | undefined;
      let sourceBytesTotal = 0;
      const report = await runConvert({
        source,
        target,
        dryRun: Boolean(options.dryRun),
        maxBad: options.maxBad,
        gmailLabels: options.gmailLabels,
        variant: options.mboxVariant,
        ...(options.folder ? { folder: options.folder } : {}),
        signal: ctx.signal,
        logger,
        onProgress: (p) => {
          progress ??= createProgressBar(ctx.err, { label: 'converting', totalBytes: p.sourceBytesTotal, isInteractive: ctx.isInteractive && !globals.json });
          sourceBytesTotal = p.sourceBytesTotal;
          progress.update({ bytes: p.sourceBytesDone, items: p.messages });
        },
      });
      // Progress is reported while reading; the last messages are placed after the last report: end on the totals.
      progress?.finish(report.stopped ? undefined : { bytes: sourceBytesTotal, items: report.totals.messages });
      ctx.out(globals.json ? formatJson({ ok: !report.stopped && report.skipped.length === 0, command: 'convert', ...report }) : formatConvertReport(report));
      if (report.stopped) logger.error(`stopped: ${report.stopped.reason}`);
      ctx.setExitCode(report.stopped || report.skipped.length > 0 ? ExitCode.partial : ExitCode.ok);
    });
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number, 0 or more');
  return Number(value);
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

export function formatConvertReport(report: ConvertReport): string {
  const verb = report.dryRun ? 'Would convert' : 'Converted';
  let text = `${verb} ${plural(report.totals.messages, 'message')} (${formatBytes(report.totals.bytes)}) in ${plural(report.totals.folders, 'folder')} from ${report.source} into ${report.target} in ${formatDuration(report.durationMs)}\n`;
  if (report.totals.alreadyPresent > 0) text += `${plural(report.totals.alreadyPresent, 'message')} already in the target, left as they are\n`;
  if (report.totals.pseudoMessagesSkipped > 0) text += `${plural(report.totals.pseudoMessagesSkipped, '"FOLDER INTERNAL DATA" pseudo-message')} (mbox bookkeeping) not copied\n`;
  text += '\n';
  text += formatTable(
    ['FOLDER', 'MESSAGES', 'SIZE', 'ALREADY THERE', 'UIDS', 'UIDVALIDITY'],
    report.folders.map((folder) => [
      folder.mailbox,
      folder.messages,
      formatBytes(folder.bytes),
      folder.alreadyPresent,
      folder.uids ?? '-',
      folder.uidValidity === undefined ? '-' : String(folder.uidValidity),
    ]),
  );
  if (report.skipped.length > 0) {
    text += `\nSkipped (${report.skipped.length}):\n`;
    for (const item of report.skipped) text += `  ${item.file} at byte ${item.offset}: ${item.reason}\n`;
  }
  if (report.ignored.length > 0) {
    text += `\nNot read as mbox (${report.ignored.length}):\n`;
    for (const item of report.ignored) text += `  ${item.path}: ${item.reason}\n`;
  }
  if (report.warnings.length > 0) {
    text += `\nWarnings (${report.warnings.length}):\n`;
    for (const warning of report.warnings) text += `  ${warning}\n`;
  }
  if (report.stopped) {
    text += `\nStopped early: ${report.stopped.reason}\nEverything converted before that point is complete; fix the input or raise --max-bad and run again (nothing is written twice).\n`;
  }
  return text;
}
