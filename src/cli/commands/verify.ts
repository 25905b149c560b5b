import type { Command } from 'commander';
import { parseStoreSpec } from '../../stores/spec.js';
import { isLocalMbox, requireLocalDirectory } from './local-paths.js';
import { runVerify } from '../../verify/tree.js';
import { formatVerifyJson } from '../../verify/reporters/json.js';
import { formatVerifyText } from '../../verify/reporters/text.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { addSshOptions, parseWholeNumber, withSshSession, type SshCliOptions } from './ssh-options.js';
import { addImapOptions, involvesImap, refuseDboxSource, verifyDboxHint } from './imap-options.js';
import { runImapVerifyAction } from './imap-actions.js';

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
    // mbox has no files to compare one by one: it is read as a store (its messages, as convert would store them).
    if (involvesImap(sourceText, targetText) || (await isLocalMbox(sourceText))) return runImapVerifyAction(ctx, cmd, sourceText, targetText);
    const globals = cmd.optsWithGlobals<GlobalOptions & VerifyCliOptions>();
    const source = parseStoreSpec(sourceText);
    const target = parseStoreSpec(targetText);
    // A missing target is a verify result (everything missing); a missing source is a mistake, never "OK".
    await requireLocalDirectory(source, 'source');
    const report = await withSshSession(options, [source, target], async (ssh) => {
      // A Dovecot dbox has no message files to compare: listed as a maildir it would be "OK: 0 of 0".
      await refuseDboxSource(source, ssh, ctx.signal, verifyDboxHint);
      return runVerify(source, target, { ssh, signal: ctx.signal, strict: Boolean(options.strict) });
    });
    ctx.out(globals.json ? formatVerifyJson(report) : formatVerifyText(report, { listLimit: options.list }));
    ctx.setExitCode(report.exitCode);
  });
}
