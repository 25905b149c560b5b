import type { Command } from 'commander';
import { ExitCode } from '../../core/exit-codes.js';
import type { Logger } from '../../core/logger.js';
import type { ExportSource } from '../../archive/export.js';
import { parseStoreSpec, type ImapSpec } from '../../stores/spec.js';
import type { MailStore } from '../../stores/store.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatBytes, formatJson, printable } from '../render.js';
import { addImapOptions, type ImapCliOptions } from './imap-options.js';
import { buildFolderSelection, buildOperationBase } from './operation-request.js';
import { parseWholeNumber } from './ssh-options.js';

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
    .option('--user <user>', 'for a maildir or an IMAP account: the cPanel account in the backup (default: the local part)')
    .option('--retries <n>', 'IMAP: reopen a folder this many times after a dropped connection, with back-off', parseWholeNumber, 6)
    .option('--retry-delay <ms>', 'IMAP: first back-off delay; doubles each time', parseWholeNumber, 2000);
  addImapOptions(command).action(async (sourceText: string, archive: string, options: ExportCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<GlobalOptions & ExportCliOptions>();
    const { resolveExportNaming, resolveExportSource, runExport } = await import('../../archive/export.js');
    const spec = parseStoreSpec(sourceText);
    const naming = { ...(options.mailbox ? { mailbox: options.mailbox } : {}), ...(options.user ? { user: options.user } : {}) };
    let store: MailStore | undefined;
    try {
      let source: ExportSource;
      if (spec.kind === 'imap') {
        // Named (and refused) before the login: a missing --mailbox must not cost a connection.
        const placed = resolveExportNaming(sourceText, { ...naming, ...(!naming.mailbox && spec.user.includes('@') ? { mailbox: spec.user } : {}) });
        warnIgnoredOptions(cmd, ctx.logger());
        const opened = await openImapSource(ctx, cmd, sourceText, archive, spec);
        store = opened.store;
        // The messages are streamed from the account into the archive (archive/export-store.ts): no copy on disk.
        source = {
          kind: 'store',
          ...placed,
          read: {
            store: opened.store,
            label: opened.label,
            folders: buildFolderSelection(globals),
            ...(globals.maxSize !== undefined ? { maxSizeBytes: globals.maxSize } : {}),
            ...(globals.retries !== undefined ? { retries: globals.retries } : {}),
            ...(globals.retryDelay !== undefined ? { retryBaseMs: globals.retryDelay } : {}),
          },
        };
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
      await store?.[Symbol.asyncDispose]();
    }
  });
}

/** The IMAP account, logged in to for reading, with the password from where copy takes it (never argv). */
async function openImapSource(ctx: CliContext, cmd: Command, sourceText: string, archive: string, spec: ImapSpec): Promise<{ store: MailStore; label: string }> {
  // Only the credentials and the IMAP settings of the request are used (the archive as its target keeps "-", standard
  // input, available for the one password).
  const request = buildOperationBase(ctx, cmd, sourceText, archive);
  const [{ openStore }, { buildStoreOpenOptions }] = await Promise.all([import('../../stores/open.js'), import('../../engine/operations/store-pair.js')]);
  return openStore(spec, { ...buildStoreOpenOptions(request), mode: 'read', password: (each) => request.credentials.password('source', each) });
}

/** IMAP options of copy that an export has no use for (it keeps no sync state and reads every message once). */
const ignoredByExport: readonly { readonly name: string; readonly flag: string }[] = [
  { name: 'stateDir', flag: '--state-dir' },
  { name: 'skipExisting', flag: '--no-skip-existing' },
  { name: 'maxBytesPerSecond', flag: '--max-bytes-per-second' },
  { name: 'maxBytes', flag: '--max-bytes' },
  { name: 'accountTimeout', flag: '--account-timeout' },
  { name: 'justlogin', flag: '--justlogin' },
  { name: 'imapFallback', flag: '--imap-fallback' },
];

function warnIgnoredOptions(cmd: Command, logger: Logger): void {
  const given = ignoredByExport.filter((option) => cmd.getOptionValueSource(option.name) === 'cli').map((option) => option.flag);
  if (given.length > 0) logger.warn(`${given.join(', ')}: not used by an export of an IMAP account; ignored`);
}
