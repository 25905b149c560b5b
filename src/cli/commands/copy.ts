import { Command, InvalidArgumentError } from 'commander';
import type { CliContext, GlobalOptions } from '../context.js';
import { createProgressBar, printable } from '../render.js';
import { addSshOptions, parseBandwidthKiBps, parseWholeNumber, type SshCliOptions } from './ssh-options.js';
import { addImapOptions, type ImapCliOptions } from './imap-options.js';
import { renderCopyOutcome } from './copy-reports.js';
import { buildMessagesOptions, buildOperationBase } from './operation-request.js';

interface CopyCliOptions extends SshCliOptions {
  dryRun?: boolean;
  jobs: number;
  bwlimit?: number;
  retries: number;
  retryDelay: number;
  timeout: number;
  renameUser?: { from: string; to: string };
  chown: boolean;
  uid?: number;
  gid?: number;
  mailGid?: number;
}

export function registerCopy(program: Command, ctx: CliContext): void {
  const command = program
    .command('copy')
    .description('copy maildirs or whole cPanel accounts with rsync: never deletes, never overwrites mail already on the target')
    .argument('<source>', 'maildir path, ssh://[user@]host[:port]/path, cpanel:ROOT#USER, cpanel:ROOT#local@domain, imap(s)://user@host[:port], a cPanel backup (cpmove .tar/.tar.gz or backup directory; cpmove:BACKUP#local@domain for one mailbox), or (to IMAP) an mbox file, .gz or directory of mbox files')
    .argument('<target>', 'same forms as the source; at most one end may be remote')
    .option('-n, --dry-run', 'list what would be copied, change nothing')
    .option('-j, --jobs <n>', 'mailboxes copied in parallel', parsePositive, 2)
    .option('--bwlimit <rate>', 'bandwidth limit per rsync, KiB/s (or 500K, 10M)', parseBandwidthKiBps)
    .option('--retries <n>', 'retries of a dropped connection, with back-off', parseWholeNumber, 3)
    .option('--retry-delay <ms>', 'first back-off delay; doubles up to 30 s', parseWholeNumber, 2000)
    .option('--timeout <s>', 'give up on a connection that moves no data for this long (then retry)', parsePositive, 120)
    .option('--rename-user <old:new>', 'the target account has another user name: rewrite home paths and names', parseRename)
    .option('--no-chown', 'do not fix owners and modes after copying into a cPanel root')
    .option('--uid <n>', 'target uid for chown (default: from the target passwd)', parseWholeNumber)
    .option('--gid <n>', 'target gid for chown', parseWholeNumber)
    .option('--mail-gid <n>', 'gid of the "mail" group for chown', parseWholeNumber);
  addImapOptions(addSshOptions(command)).action(async (sourceText: string, targetText: string, options: CopyCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<GlobalOptions & CopyCliOptions & ImapCliOptions>();
    const dryRun = Boolean(options.dryRun);
    const showProgress = ctx.isInteractive && !globals.json && !dryRun;
    // Created once the size of the sources is known (find, on a terminal only), so the bar can show an ETA.
    let progress = createProgressBar(ctx.err, { label: 'copying', isInteractive: showProgress });
    const { runCopyOperation } = await import('../../engine/operations/copy.js');
    const outcome = await runCopyOperation({
      ...buildOperationBase(ctx, cmd, sourceText, targetText),
      operation: 'copy',
      dryRun,
      ...(globals.imapFallback ? { imapFallback: globals.imapFallback } : {}),
      ...(globals.justlogin ? { justLogin: true } : {}),
      files: {
        jobs: options.jobs,
        ...(options.bwlimit !== undefined ? { bwlimitKiBps: options.bwlimit } : {}),
        retries: options.retries,
        retryBaseDelayMs: options.retryDelay,
        ioTimeoutS: options.timeout,
        ...(options.renameUser ? { renameUser: options.renameUser } : {}),
        ...(options.chown
          ? {
              chown: {
                ...(options.uid !== undefined ? { uid: options.uid } : {}),
                ...(options.gid !== undefined ? { gid: options.gid } : {}),
                ...(options.mailGid !== undefined ? { mailGid: options.mailGid } : {}),
              },
            }
          : {}),
      },
      messages: buildMessagesOptions(globals),
      ...(showProgress
        ? {
            progress: {
              total: (total) => {
                progress = createProgressBar(ctx.err, { label: `copying ${total.items} files`, totalBytes: total.bytes, isInteractive: showProgress });
              },
              update: (done) => progress.update(done),
            },
          }
        : {}),
      ...(dryRun && !globals.json
        ? { onItem: (job, item) => ctx.out(`would copy ${item.type === 'dir' ? 'dir ' : item.type === 'symlink' ? 'link' : 'file'} ${printable(job.label)}: ${printable(item.path)}\n`) }
        : {}),
    });
    progress.finish();
    renderCopyOutcome(ctx, outcome, 'copy', Boolean(globals.json));
  });
}

function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number, 1 or more');
  return Number(value);
}

function parseRename(value: string): { from: string; to: string } {
  const match = /^([a-z0-9_][a-z0-9_-]{0,31}):([a-z0-9_][a-z0-9_-]{0,31})$/i.exec(value);
  if (!match) throw new InvalidArgumentError('expected OLD:NEW cPanel user names');
  return { from: match[1]!, to: match[2]! };
}
