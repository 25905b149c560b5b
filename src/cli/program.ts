import { Command } from 'commander';
import type { CliContext } from './context.js';
import { registerConvert } from './commands/convert.js';
import { registerCopy } from './commands/copy.js';
import { registerVerify } from './commands/verify.js';
import { registerChown } from './commands/chown.js';
import { registerDiscover } from './commands/discover.js';
import { registerResync } from './commands/resync.js';
import { registerWatch } from './commands/watch.js';

/** A command module adds itself to the program; keep this list in the order `--help` should show. */
export type RegisterCommand = (program: Command, ctx: CliContext) => void;

const commands: RegisterCommand[] = [registerConvert, registerDiscover, registerCopy, registerChown, registerVerify, registerResync, registerWatch];

export function buildProgram(ctx: CliContext, version: string): Command {
  const program = new Command('mailshift')
    .description('Move mail between servers without losing a single message.')
    .version(version)
    .option('--json', 'print one machine-readable result document on stdout')
    .option('--debug', 'verbose logs and stack traces on stderr')
    .option('-q, --quiet', 'only warnings and errors on stderr')
    .showHelpAfterError()
    .configureOutput({ writeOut: ctx.out, writeErr: ctx.err })
    .exitOverride();
  for (const register of commands) register(program, ctx);
  return program;
}
