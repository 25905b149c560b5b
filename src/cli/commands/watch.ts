import { Command, InvalidArgumentError } from 'commander';
import type { StoreCopyReport } from '../../engine/messages/copy.js';
import type { WatchRun } from '../../watch/tree-watch.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatJson } from '../render.js';
import { formatResyncSummary } from './copy-reports.js';
import { addImapOptions, type ImapCliOptions } from './imap-options.js';
import { buildMessagesOptions, buildOperationBase } from './operation-request.js';
import { addResyncOptions, type ResyncCliOptions } from './resync.js';
import { parseWholeNumber } from './ssh-options.js';

interface WatchCliOptions extends ResyncCliOptions {
  fullEvery: number;
  debounce: number;
  poll: number;
}

export function registerWatch(program: Command, ctx: CliContext): void {
  const command = program
    .command('watch')
    .description('keep resyncing while the old server still receives mail: watches the source\'s new/ and cur/ (with an IMAP end: resyncs every --poll seconds) and copies what arrives (Ctrl-C stops)')
    .argument('<source>', 'maildir path or cpanel:ROOT#USER / cpanel:ROOT#local@domain on THIS machine (the one that receives the mail), or imap(s)://user@host[:port]')
    .argument('<target>', 'same forms, usually remote: ssh://[user@]host[:port]/path; or a maildir / imap(s):// when the source is IMAP')
    .option('--full-every <minutes>', 'also run a full resync this often, to catch anything an event missed (0 = never)', parseMinutes, 10)
    .option('--debounce <ms>', 'wait for this much quiet after a change before copying', parseWholeNumber, 200)
    .option('--poll <seconds>', 'with an IMAP end: resync this often (IMAP has no files to watch)', parsePollSeconds, 30);
  addImapOptions(addResyncOptions(command), { forWatch: true }).action(async (sourceText: string, targetText: string, options: WatchCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<GlobalOptions & WatchCliOptions & ImapCliOptions>();
    const logger = ctx.logger();
    const base = buildOperationBase(ctx, cmd, sourceText, targetText);
    const { runWatchOperation } = await import('../../engine/operations/watch.js');
    const outcome = await runWatchOperation({
      ...base,
      onRoute: (route) => {
        base.onRoute?.(route);
        if (route.use !== 'messages') return;
        const fileWatchOnly = ['fullEvery', 'debounce'].filter((name) => cmd.getOptionValueSource(name) === 'cli');
        if (fileWatchOnly.length > 0) logger.warn(`${fileWatchOnly.map((name) => (name === 'fullEvery' ? '--full-every' : '--debounce')).join(', ')}: for watching maildir files only; an IMAP watch polls every --poll seconds`);
      },
      flags: options.flags,
      files: {
        dedupe: options.dedupe,
        ioTimeoutS: options.timeout,
        ...(options.bwlimit !== undefined ? { bwlimitKiBps: options.bwlimit } : {}),
        debounceMs: options.debounce,
        fullEveryMs: options.fullEvery * 60_000,
        retryBaseMs: options.retryDelay,
      },
      messages: { ...buildMessagesOptions(globals), pollMs: options.poll * 1000 },
      onReady: (description) => logger.info(description),
      onFilesRun: (run) => logRun(run, logger.info.bind(logger)),
      onMessagesRound: (report) => logRound(report, options.flags !== 'target', logger.info.bind(logger)),
      onMessagesFailure: (error) => logger.warn(`resync failed: ${error.message}; trying again in ${options.poll} s`),
    });
    if (outcome.kind === 'files') {
      const summary = outcome.watch;
      const text = `stopped: ${summary.runs} run(s), ${summary.copied} copied, ${summary.duplicatesSkipped} duplicate(s) skipped, ${summary.flagsApplied} flag change(s) applied, ${summary.foldersAdded} folder(s) added, ${summary.failedRuns} failed run(s)${summary.pendingAtExit.length > 0 ? `; not yet copied: ${summary.pendingAtExit.join(', ')} (run resync)` : ''}\n`;
      ctx.out(globals.json ? formatJson({ ok: summary.pendingAtExit.length === 0, command: 'watch', route: outcome.route, ...summary }) : text);
    } else {
      const summary = outcome.watch;
      const text = `stopped: ${summary.runs} run(s), ${summary.copied} copied, ${summary.flagsApplied} flag change(s) applied, ${summary.failedRuns} failed run(s)${summary.stopped ? `; ${summary.stopped.reason}` : ''}\n`;
      ctx.out(globals.json ? formatJson({ ok: !summary.stopped, command: 'watch', engine: 'imap', route: outcome.route, ...summary }) : text);
    }
    // Watching ends only when asked to (Ctrl-C, SIGTERM), or when a round fails in a way waiting cannot mend.
    ctx.setExitCode(outcome.exitCode);
  });
}

/** One line per IMAP round that did something. */
function logRound(report: StoreCopyReport, withFlags: boolean, info: (line: string) => void): void {
  const t = report.totals;
  if (t.copied === 0 && t.flagsApplied === 0 && t.skipped === 0 && t.failedFolders === 0 && report.skippedFolders.length === 0 && !report.stopped) return;
  const time = new Date().toISOString().slice(11, 19);
  const problems = report.stopped ? `; stopped: ${report.stopped.reason}` : t.failedFolders > 0 ? `; ${t.failedFolders} folder(s) failed` : '';
  info(`${time} resync: ${t.copied} copied${withFlags ? `, ${t.flagsApplied} flag change(s) applied` : ''}${t.skipped ? `, ${t.skipped} skipped` : ''}${report.skippedFolders.length ? `, ${report.skippedFolders.length} folder(s) skipped` : ''}${problems}`);
}

function logRun(run: WatchRun, info: (line: string) => void): void {
  const what = run.kind === 'full' ? 'full resync' : run.folders.map((f) => f || 'INBOX').join(', ');
  const time = new Date().toISOString().slice(11, 19);
  if (!run.ok) return; // the watcher already warned, with the retry delay
  const t = run.report.totals;
  if (run.kind === 'folders' && t.copied === 0 && t.flagsApplied === 0 && t.foldersAdded === 0) return;
  info(`${time} ${what}: ${formatResyncSummary(run.report)}${run.report.sourceChanged ? ' (more arrived; again)' : ''}`);
}

function parsePollSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError('expected seconds, more than 0 (e.g. 30 or 0.5)');
  return Number(value);
}

function parseMinutes(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError('expected minutes, e.g. 10 or 0.5 (0 = never)');
  return Number(value);
}
