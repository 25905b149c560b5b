import type { Command } from 'commander';
import type { CliContext, GlobalOptions } from '../context.js';
import { addSshOptions, parseWholeNumber, type SshCliOptions } from './ssh-options.js';
import { addImapOptions, type ImapCliOptions } from './imap-options.js';
import { buildFolderSelection, buildOperationBase } from './operation-request.js';

interface VerifyCliOptions extends SshCliOptions {
  strict?: boolean;
  list: number;
}

export function registerVerify(program: Command, ctx: CliContext): void {
  const command = program
    .command('verify')
    .description('compare source and target folder by folder: counts, bytes, missing messages, duplicates, flags, UIDs (exit 4 when messages are missing)')
    .argument('<source>', 'maildir path, ssh://[user@]host[:port]/path, cpanel:ROOT#USER, cpanel:ROOT#local@domain, imap(s)://user@host[:port], or (to IMAP) an mbox file, .gz or directory of mbox files')
    .argument('<target>', 'same forms as the source')
    .option('--strict', 'also exit 4 for duplicates on the target, flag differences and UIDs not kept')
    .option('--list <n>', 'how many missing/duplicate/flag items to show per folder (text output)', parseWholeNumber, 20);
  addImapOptions(addSshOptions(command), { forVerify: true }).action(async (sourceText: string, targetText: string, options: VerifyCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<GlobalOptions & VerifyCliOptions & ImapCliOptions>();
    const rules = buildFolderSelection(globals);
    const { runVerifyOperation } = await import('../../engine/operations/verify.js');
    const outcome = await runVerifyOperation({
      ...buildOperationBase(ctx, cmd, sourceText, targetText),
      strict: Boolean(options.strict),
      rules,
    });
    const { formatVerifyJson } = await import('../../verify/reporters/json.js');
    const { formatVerifyText } = await import('../../verify/reporters/text.js');
    ctx.out(globals.json ? formatVerifyJson(outcome.report, outcome.route) : formatVerifyText(outcome.report, { listLimit: options.list }));
    ctx.setExitCode(outcome.exitCode);
  });
}
