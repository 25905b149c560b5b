import type { Command } from 'commander';
import { ExitCode } from '../../core/exit-codes.js';
import { formatOwnershipAction, type OwnershipAction } from '../../fsops/ownership.js';
import { parseStoreSpec } from '../../stores/spec.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatJson } from '../render.js';
import { addSshOptions, buildSshOptionsFromCli, parseWholeNumber, type SshCliOptions } from './ssh-options.js';

interface ChownCliOptions extends SshCliOptions {
  user?: string;
  dryRun?: boolean;
  uid?: number;
  gid?: number;
  mailGid?: number;
}

export function registerChown(program: Command, ctx: CliContext): void {
  const command = program
    .command('chown')
    .description("give a copied cPanel account (or a maildir) to its user with cPanel's owners and modes; symlinks are never followed")
    .argument('<target>', 'cpanel:ROOT#USER, cpanel:ROOT#local@domain, or a maildir path (then --user is required)')
    .option('--user <user>', 'owner (default: the cPanel user of the spec)')
    .option('-n, --dry-run', 'print the plan (every change), apply nothing')
    .option('--uid <n>', 'uid instead of looking USER up', parseWholeNumber)
    .option('--gid <n>', 'gid instead of looking USER up', parseWholeNumber)
    .option('--mail-gid <n>', 'gid of the "mail" group instead of looking it up', parseWholeNumber);
  addSshOptions(command).action(async (targetText: string, options: ChownCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<GlobalOptions & ChownCliOptions>();
    const dryRun = Boolean(options.dryRun);
    const { runChownOperation } = await import('../../engine/operations/chown.js');
    const result = await runChownOperation({
      target: parseStoreSpec(targetText),
      ...(options.user ? { user: options.user } : {}),
      idOverrides: {
        ...(options.uid !== undefined ? { uid: options.uid } : {}),
        ...(options.gid !== undefined ? { gid: options.gid } : {}),
        ...(options.mailGid !== undefined ? { mailGid: options.mailGid } : {}),
      },
      dryRun,
      ssh: buildSshOptionsFromCli(options),
      signal: ctx.signal,
      logger: ctx.logger(),
      ...(dryRun && !globals.json ? { onAction: (a: OwnershipAction) => ctx.out(`would change ${formatOwnershipAction(a)}\n`) } : {}),
    });
    const { exitCode, user, ids, ...ownership } = result;
    if (globals.json) {
      ctx.out(formatJson({ ok: exitCode === ExitCode.ok, command: 'chown', target: targetText, user, ids, dryRun, ...ownership }));
    } else {
      let text = `${dryRun ? 'Would change' : 'Changed'} ${dryRun ? result.planned : result.applied} of ${result.checked} entries for ${user} (${ids})\n`;
      for (const s of result.skipped) text += `  left alone: ${JSON.stringify(s.path)}: ${s.reason}\n`;
      for (const f of result.failed) text += `  FAILED: ${JSON.stringify(f.path)}: ${f.reason}\n`;
      ctx.out(text);
    }
    ctx.setExitCode(exitCode);
  });
}
