import type { Command } from 'commander';
import { ExitCode } from '../../core/exit-codes.js';
import { parseStoreSpec } from '../../stores/spec.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatBytes, formatJson, printable } from '../render.js';

interface ExportCliOptions {
  mailbox?: string;
  user?: string;
}

export function registerExport(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description("write a cPanel account or a maildir into a tar in cPanel's backup layout (cpmove-USER/homedir/mail/DOMAIN/BOX/), readable by mailshift, GNU tar and cPanel's restore")
    .argument('<source>', 'cpanel:ROOT#USER, cpanel:ROOT#local@domain, or a maildir (then --mailbox)')
    .argument('<archive>', 'the new file: ARCHIVE.tar, or ARCHIVE.tar.gz to compress (never written over)')
    .option('--mailbox <local@domain>', 'for a maildir: the mailbox it is in the backup')
    .option('--user <user>', 'for a maildir: the cPanel account in the backup (default: the local part)')
    .action(async (sourceText: string, archive: string, options: ExportCliOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions & ExportCliOptions>();
      const { resolveExportSource, runExport } = await import('../../archive/export.js');
      const source = await resolveExportSource(parseStoreSpec(sourceText), { ...(options.mailbox ? { mailbox: options.mailbox } : {}), ...(options.user ? { user: options.user } : {}) });
      const report = await runExport(source, archive, { signal: ctx.signal, logger: ctx.logger() });
      if (globals.json) ctx.out(formatJson({ ok: report.exitCode === ExitCode.ok, command: 'export', source: sourceText, ...report }));
      else {
        let text = `Exported ${report.files} files and ${report.links} hard links (${formatBytes(report.bytes)}) into ${report.archive}\n`;
        if (report.skipped.length > 0) text += `\nNot exported (${report.skipped.length}):\n${report.skipped.map((s) => `  ${printable(s.item)}: ${s.reason}\n`).join('')}`;
        ctx.out(text);
      }
      ctx.setExitCode(report.exitCode);
    });
}
