import { Command, InvalidArgumentError } from 'commander';
import { ExitCode } from '../../core/exit-codes.js';
import { resolveResyncTree } from '../../engine/tree/resync/run.js';
import { parseStoreSpec } from '../../stores/spec.js';
import { refuseLocalMboxSource, requireLocalDirectory } from './local-paths.js';
import { addImapOptions, involvesImap, refuseDboxSource, watchDboxHint } from './imap-options.js';
import { runImapWatchAction } from './imap-actions.js';
import type { WatchRun } from '../../watch/tree-watch.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatJson } from '../render.js';
import { addResyncOptions, formatResyncSummary, type ResyncCliOptions } from './resync.js';
import { parseWholeNumber, withSshSession } from './ssh-options.js';

interface WatchCliOptions extends ResyncCliOptions {
  fullEvery: number;
  debounce: number;
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
    if (involvesImap(sourceText, targetText)) return runImapWatchAction(ctx, cmd, sourceText, targetText);
    const globals = cmd.optsWithGlobals<GlobalOptions & WatchCliOptions>();
    const logger = ctx.logger();
    const source = parseStoreSpec(sourceText);
    const target = parseStoreSpec(targetText);
    // mbox (and a file that is neither) first: it is a directory-or-file question, with its own pointer.
    await refuseLocalMboxSource(sourceText, 'watch');
    await requireLocalDirectory(source, 'source');
    await withSshSession(options, [source, target], async (ssh) => {
      // A dbox store has no message files to watch: it would wait forever and copy nothing.
      await refuseDboxSource(source, ssh, ctx.signal, watchDboxHint);
      const tree = await resolveResyncTree(source, target, { ssh });
      // Loaded here, not at start-up: chokidar costs every other command ~0.1 s of module loading.
      const { MaildirWatcher } = await import('../../watch/tree-watch.js');
      const watcher = new MaildirWatcher({
        tree,
        resync: {
          flags: options.flags,
          dedupe: options.dedupe,
          ssh,
          ioTimeoutS: options.timeout,
          ...(options.bwlimit !== undefined ? { bwlimitKiBps: options.bwlimit } : {}),
        },
        signal: ctx.signal,
        logger,
        debounceMs: options.debounce,
        fullEveryMs: options.fullEvery * 60_000,
        retryBaseMs: options.retryDelay,
        onReady: () => logger.info(`watching ${tree.sourceLabel} -> ${tree.targetLabel} (Ctrl-C stops)`),
        onRun: (run) => logRun(run, logger.info.bind(logger)),
      });
      const summary = await watcher.run();
      const text = `stopped: ${summary.runs} run(s), ${summary.copied} copied, ${summary.duplicatesSkipped} duplicate(s) skipped, ${summary.flagsApplied} flag change(s) applied, ${summary.foldersAdded} folder(s) added, ${summary.failedRuns} failed run(s)${summary.pendingAtExit.length > 0 ? `; not yet copied: ${summary.pendingAtExit.join(', ')} (run resync)` : ''}\n`;
      ctx.out(globals.json ? formatJson({ ok: summary.pendingAtExit.length === 0, command: 'watch', ...summary }) : text);
      // Watching ends only when asked to: Ctrl-C (or SIGTERM).
      ctx.setExitCode(ExitCode.interrupted);
    });
  });
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
