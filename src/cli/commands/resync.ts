import { Command, Option } from 'commander';
import type { FlagsMode } from '../../engine/tree/resync/plan.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createProgressBar } from '../render.js';
import { addSshOptions, parseBandwidthKiBps, parseWholeNumber, type SshCliOptions } from './ssh-options.js';
import { addImapOptions, type ImapCliOptions } from './imap-options.js';
import { renderCopyOutcome } from './copy-reports.js';
import { buildMessagesOptions, buildOperationBase } from './operation-request.js';

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
    const globals = cmd.optsWithGlobals<GlobalOptions & ResyncCliOptions & ImapCliOptions>();
    const dryRun = Boolean(options.dryRun);
    const showProgress = ctx.isInteractive && !globals.json && !dryRun;
    const progress = createProgressBar(ctx.err, { label: 'resyncing', isInteractive: showProgress });
    const { runCopyOperation } = await import('../../engine/operations/copy.js');
    const outcome = await runCopyOperation({
      ...buildOperationBase(ctx, cmd, sourceText, targetText),
      operation: 'resync',
      dryRun,
      ...(globals.imapFallback ? { imapFallback: globals.imapFallback } : {}),
      ...(globals.justlogin ? { justLogin: true } : {}),
      files: {
        flags: options.flags,
        dedupe: options.dedupe,
        retries: options.retries,
        retryBaseDelayMs: options.retryDelay,
        ioTimeoutS: options.timeout,
        ...(options.bwlimit !== undefined ? { bwlimitKiBps: options.bwlimit } : {}),
      },
      messages: buildMessagesOptions(globals),
      ...(showProgress ? { progress: { update: (done) => progress.update(done) } } : {}),
    });
    progress.finish();
    renderCopyOutcome(ctx, outcome, 'resync', Boolean(globals.json));
  });
}
