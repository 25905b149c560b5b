import { Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { formatDiscoverCsv } from '../../discover/format-csv.js';
import { formatDiscoverTable } from '../../discover/format-table.js';
import { runDiscover, type DiscoverOptions } from '../../discover/run.js';
import { runArchiveDiscover } from '../../archive/discover.js';
import { readBackupSource } from '../../archive/source.js';
import { parseSizeBytes } from '../../discover/size.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createProgressBar, formatJson } from '../render.js';

interface DiscoverCliOptions {
  targetQuota?: number;
  csv?: boolean;
  stat?: boolean;
  user?: string[];
  concurrency: number;
}

export function registerDiscover(program: Command, ctx: CliContext): void {
  program
    .command('discover')
    .description('inventory a cPanel server from its file system: accounts, mailboxes, sizes, quotas, forwarders, filters, and what is unsafe to copy')
    .argument('[root]', 'root of the cPanel server or of a mounted copy of it, or a cPanel backup (cpmove .tar or .tar.gz, or a backup directory)', '/')
    .option('--target-quota <size>', 'warn about mailboxes larger than this (e.g. 10G, 500M): the ones that will not fit the new plan', parseSize)
    .option('--csv', 'print one row per mailbox as CSV instead of the table')
    .option('--stat', 'stat every message file instead of trusting ",S=" sizes in names (slower; also finds unreadable and sparse files)')
    .option('--user <name>', 'only this account (repeat for more)', collect)
    .option('--concurrency <n>', 'accounts read at the same time', parsePositive, 4)
    .action(async (root: string, options: DiscoverCliOptions, command: Command) => {
      const globals = command.optsWithGlobals<GlobalOptions & DiscoverCliOptions>();
      if (globals.json && options.csv) throw new UsageError('--json and --csv cannot be combined', 'choose one output format');
      const logger = ctx.logger();
      const progress = createProgressBar(ctx.err, { label: 'discovering', isInteractive: ctx.isInteractive && !globals.json && !options.csv });
      let messages = 0;
      let bytes = 0;
      // A cPanel backup (told by its first bytes) is discovered like the server it came from (archive/discover.ts).
      const backup = await readBackupSource(root);
      const discover = backup ? (_r: string, o: DiscoverOptions) => runArchiveDiscover(backup, o) : runDiscover;
      const doc = await discover(root, {
        targetQuotaBytes: options.targetQuota ?? null,
        statEveryMessage: Boolean(options.stat),
        concurrency: options.concurrency,
        ...(options.user ? { users: options.user } : {}),
        signal: ctx.signal,
        onAccount: (account) => {
          for (const mb of account.mailboxes) {
            messages += mb.messages ?? 0;
            bytes += mb.sizeBytes;
          }
          progress.update({ bytes, items: messages });
          logger.debug(`read account ${account.user}: ${account.mailboxes.length} mailboxes`);
        },
      });
      progress.finish();
      ctx.out(globals.json ? formatJson(doc) : options.csv ? formatDiscoverCsv(doc) : formatDiscoverTable(doc));
      if (doc.totals.warnings.unsafe > 0) {
        logger.warn(`${doc.totals.warnings.unsafe} unsafe items found (links out of an account, unsafe names, unreadable or special files): reported, not followed`);
        ctx.setExitCode(ExitCode.partial);
      } else ctx.setExitCode(ExitCode.ok);
    });
}

function parseSize(value: string): number {
  const bytes = parseSizeBytes(value);
  if (bytes === undefined || bytes <= 0) throw new InvalidArgumentError('expected a size such as 10G, 500M or 1048576');
  return bytes;
}

function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number, 1 or more');
  return Number(value);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
