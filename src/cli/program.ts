import { Command } from 'commander';
import type { CliContext } from './context.js';

/** A command module adds itself to the program. */
export type RegisterCommand = (program: Command, ctx: CliContext) => void;

/**
 * The commands, in the order `--help` shows them. Each is loaded only when it is the one being run (or for help):
 * loading every command and its engines (imapflow, execa, fast-glob, chokidar...) cost more start-up time than a
 * small conversion takes.
 */
interface CommandEntry {
  readonly name: string;
  readonly load: () => Promise<RegisterCommand>;
  /** Work the command can start before it is loaded, when it is the one being run (args: the whole command line). */
  readonly startEarly?: (args: readonly string[]) => Promise<void>;
}

/**
 * For the commands that take IMAP URLs: the TCP connections to those servers are opened while the command and imapflow
 * load (~0.1 s of CPU), so the server's greeting is already here when the login starts (stores/preconnect.ts).
 */
async function connectImapEarly(args: readonly string[]): Promise<void> {
  if (!args.some((arg) => /^imaps?:\/\//i.test(arg))) return;
  (await import('../stores/preconnect.js')).preconnectImap(args);
}

const commands: readonly CommandEntry[] = [
  {
    name: 'convert',
    load: async () => (await import('./commands/convert.js')).registerConvert,
    // The writer thread boots (~50 ms) while the command loads, instead of stalling the first message.
    startEarly: async (args) => {
      if (!args.includes('--dry-run') && !args.includes('-n')) (await import('../stores/maildir/index.js')).warmUp();
    },
  },
  { name: 'discover', load: async () => (await import('./commands/discover.js')).registerDiscover },
  { name: 'copy', load: async () => (await import('./commands/copy.js')).registerCopy, startEarly: connectImapEarly },
  { name: 'export', load: async () => (await import('./commands/export.js')).registerExport, startEarly: connectImapEarly },
  { name: 'chown', load: async () => (await import('./commands/chown.js')).registerChown },
  { name: 'verify', load: async () => (await import('./commands/verify.js')).registerVerify, startEarly: connectImapEarly },
  { name: 'resync', load: async () => (await import('./commands/resync.js')).registerResync, startEarly: connectImapEarly },
  { name: 'watch', load: async () => (await import('./commands/watch.js')).registerWatch, startEarly: connectImapEarly },
  { name: 'state', load: async () => (await import('./commands/state.js')).registerState },
  { name: 'plan', load: async () => (await import('./commands/plan.js')).registerPlan },
  { name: 'campaign', load: async () => (await import('./commands/campaign.js')).registerCampaign },
  { name: 'report', load: async () => (await import('./commands/report.js')).registerReport },
  { name: 'worker', load: async () => (await import('./commands/worker.js')).registerWorker },
];

const globalFlags = new Set(['--json', '--debug', '-q', '--quiet']);

/** The command named on the command line (the first argument that is not a global flag), if any. */
export function findRequestedCommand(args: readonly string[]): string | undefined {
  for (const arg of args) {
    if (globalFlags.has(arg)) continue;
    return arg.startsWith('-') ? undefined : arg;
  }
  return undefined;
}

export async function buildProgram(ctx: CliContext, version: string, args: readonly string[] = []): Promise<Command> {
  const program = new Command('mailshift')
    .description('Move mail between servers without losing a single message.')
    .version(version)
    .option('--json', 'print one machine-readable result document on stdout')
    .option('--debug', 'verbose logs and stack traces on stderr')
    .option('-q, --quiet', 'only warnings and errors on stderr')
    .showHelpAfterError()
    .configureOutput({ writeOut: ctx.out, writeErr: ctx.err })
    .exitOverride();
  const requested = findRequestedCommand(args);
  const wanted = commands.filter((command) => command.name === requested);
  for (const command of wanted) await command.startEarly?.(args);
  for (const command of wanted.length > 0 ? wanted : commands) (await command.load())(program, ctx);
  return program;
}
