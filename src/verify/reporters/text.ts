import { formatBytes, formatTable, printable } from '../../core/format.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { VerifyReport } from '../report.js';

/** Human-readable verify report: one table row per folder, then the problems by folder (bounded lists). */
export function formatVerifyText(report: VerifyReport, options: { listLimit?: number } = {}): string {
  const limit = options.listLimit ?? 20;
  const t = report.totals;
  const uidsChecked = report.folders.some((f) => f.uids.verdict !== 'unknown');
  const uids = t.foldersWithChangedUids > 0 ? `UIDs changed in ${t.foldersWithChangedUids} folder(s)` : uidsChecked ? 'UIDs kept' : 'UIDs not checked (the source lists none)';
  // Source messages found on the target, never the target's count: mail that arrived only there is no source message.
  const found = Math.max(0, t.sourceMessages - t.missing);
  let text = `${report.ok ? 'OK' : report.exitCode === ExitCode.partial ? 'INCOMPLETE' : 'DIFFERENCES'}: ${found} of ${t.sourceMessages} source messages checked on the target; ${t.missing} missing, ${t.duplicates} duplicated, ${t.flagDifferences} with other flags, ${uids}\n`;
  text += `source ${report.source}\ntarget ${report.target}\n\n`;
  text += formatTable(
    ['MAILBOX', 'FOLDER', 'SRC MSGS', 'SRC SIZE', 'DST MSGS', 'DST SIZE', 'MISSING', 'DUPES', 'FLAGS', 'UIDS'],
    report.folders.map((f) => [
      f.mailbox || '-',
      f.folder,
      f.source.messages,
      formatBytes(f.source.bytes),
      f.target.messages,
      formatBytes(f.target.bytes),
      f.missing.length,
      f.duplicates.length,
      f.flagDifferences.length,
      f.uids.verdict === 'kept' ? `kept (${f.uids.sourceUidValidity})` : f.uids.verdict === 'unknown' ? '-' : `changed ${f.uids.changed}/${f.uids.checked}${f.uids.sourceUidValidity !== f.uids.targetUidValidity ? ` (UIDVALIDITY ${f.uids.sourceUidValidity ?? '-'} -> ${f.uids.targetUidValidity ?? '-'})` : ''}`,
    ]),
  );
  for (const f of report.folders) {
    const where = printable(`${f.mailbox ? `${f.mailbox} ` : ''}${f.folder}`);
    if (f.missing.length > 0) text += `\nmissing on the target in ${where} (${f.missing.length}):\n${list(f.missing, limit)}`;
    if (f.duplicates.length > 0) text += `\nmore than once on the target in ${where} (${f.duplicates.length}):\n${list(f.duplicates, limit)}`;
    if (f.flagDifferences.length > 0) {
      text += `\nflags differ in ${where} (${f.flagDifferences.length}):\n${list(f.flagDifferences.map((d) => `${d.key}: source [${d.source}] target [${d.target}]`), limit)}`;
    }
  }
  if (report.skippedFolders.length > 0) {
    text += `\nfolders not compared (${report.skippedFolders.length}${report.ok ? ', left out as asked' : ''}):\n${list(report.skippedFolders.map((s) => `${s.mailbox ? `${printable(s.mailbox)}: ` : ''}${JSON.stringify(s.directory)}: ${printable(s.reason)}`), limit)}`;
  }
  return text;
}

function list(items: readonly string[], limit: number): string {
  const shown = items.slice(0, limit).map((item) => `  ${JSON.stringify(item).slice(1, -1)}\n`).join('');
  return items.length > limit ? `${shown}  ... and ${items.length - limit} more (all of them in --json)\n` : shown;
}
