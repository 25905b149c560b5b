import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../../core/exit-codes.js';
import { MailshiftError, UsageError } from '../../core/errors.js';
import type { ExportSource } from '../../archive/export.js';
import { parseStoreSpec } from '../../stores/spec.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatBytes, formatJson, printable } from '../render.js';
import { addImapOptions, type ImapCliOptions } from './imap-options.js';
import { buildMessagesOptions, buildOperationBase } from './operation-request.js';

interface ExportCliOptions extends ImapCliOptions {
  mailbox?: string;
  user?: string;
}

export function registerExport(program: Command, ctx: CliContext): void {
  const command = program
    .command('export')
    .description("write a cPanel account, a maildir or an IMAP account into a tar in cPanel's backup layout (cpmove-USER/homedir/mail/DOMAIN/BOX/), readable by mailshift, GNU tar and cPanel's restore")
    .argument('<source>', 'cpanel:ROOT#USER, cpanel:ROOT#local@domain, a maildir, or imaps://user@host (then --mailbox, unless the user is local@domain)')
    .argument('<archive>', 'the new file: ARCHIVE.tar, or ARCHIVE.tar.gz to compress (never written over)')
    .option('--mailbox <local@domain>', 'for a maildir or an IMAP account: the mailbox it is in the backup')
    .option('--user <user>', 'for a maildir or an IMAP account: the cPanel account in the backup (default: the local part)');
  addImapOptions(command).action(async (sourceText: string, archive: string, options: ExportCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<GlobalOptions & ExportCliOptions>();
    const { resolveExportSource, runExport } = await import('../../archive/export.js');
    const spec = parseStoreSpec(sourceText);
    const naming = { ...(options.mailbox ? { mailbox: options.mailbox } : {}), ...(options.user ? { user: options.user } : {}) };
    let staging: string | undefined;
    try {
      let source: ExportSource;
      if (spec.kind === 'imap') {
        if (!naming.mailbox && !spec.user.includes('@')) {
          throw new UsageError(`${sourceText}: say which mailbox this account is in the backup`, 'add --mailbox local@domain (and --user USER for the cPanel account it belongs to)');
        }
        // An IMAP account is first copied into a maildir beside the archive by the messages engine (folder names,
        // flags, keywords and received dates as a copy keeps them), then exported; the maildir is removed after.
        staging = await mkdtemp(path.join(path.dirname(path.resolve(archive)), '.mailshift-export-'));
        const maildir = path.join(staging, 'maildir');
        const { runCopyOperation } = await import('../../engine/operations/copy.js');
        const copied = await runCopyOperation({
          ...buildOperationBase(ctx, cmd, sourceText, maildir),
          operation: 'copy',
          dryRun: false,
          files: { retries: 0, retryBaseDelayMs: 0, ioTimeoutS: 0 },
          messages: { ...buildMessagesOptions(globals), stateDir: path.join(staging, 'state') },
        });
        if (copied.exitCode !== ExitCode.ok) {
          throw new MailshiftError('MAILSHIFT_COPY_FAILED', `${sourceText}: not every message could be read (exit ${copied.exitCode}); no archive was written`, {
            hint: `${copied.summary.skipped.slice(0, 3).map((s) => `${s.item}: ${s.reason}`).join('; ') || 'run mailshift copy SOURCE MAILDIR to see what fails'}`,
            exitCode: copied.exitCode,
          });
        }
        const mailbox = naming.mailbox ?? (spec.user.includes('@') ? spec.user : undefined);
        source = await resolveExportSource(parseStoreSpec(maildir), { ...naming, ...(mailbox ? { mailbox } : {}) });
      } else source = await resolveExportSource(spec, naming);
      const report = await runExport(source, archive, { signal: ctx.signal, logger: ctx.logger() });
      if (globals.json) ctx.out(formatJson({ ok: report.exitCode === ExitCode.ok, command: 'export', source: sourceText, ...report }));
      else {
        let text = `Exported ${report.files} files and ${report.links} hard links (${formatBytes(report.bytes)}) into ${report.archive}\n`;
        if (report.skipped.length > 0) text += `\nNot exported (${report.skipped.length}):\n${report.skipped.map((s) => `  ${printable(s.item)}: ${s.reason}\n`).join('')}`;
        ctx.out(text);
      }
      ctx.setExitCode(report.exitCode);
    } finally {
      if (staging) await rm(staging, { recursive: true, force: true });
    }
  });
}
