import type { ArchiveCopyResult } from '../../archive/operation.js';
import { formatBytes, formatTable, printable } from '../render.js';

/**
 * How a restore from a cPanel backup is shown: one row per mailbox (messages written, hard links made, already on
 * the target), the account files merged, the control files settled, and every entry not restored with its reason.
 */
export function formatRestoreReport(result: ArchiveCopyResult): string {
  const { report } = result;
  const verb = report.dryRun ? 'Would restore' : 'Restored';
  const { totals } = report;
  let text = `${verb} ${totals.written + totals.linked} messages (${formatBytes(totals.bytes)}) from ${report.archive} to ${report.target}\n\n`;
  text += formatTable(
    ['MAILBOX', 'WRITTEN', 'LINKED', 'ALREADY THERE', 'SIZE'],
    report.mailboxes.map((m) => [m.mailbox === '' ? `${report.user ?? '(account)'} (default)` : mailboxAddress(m.mailbox), m.written, m.linked, m.existing, formatBytes(m.bytes)]),
  );
  const written = result.accountFiles.filter((m) => m.action === 'written');
  if (written.length > 0) text += `\n${report.dryRun ? 'Account files that would be merged' : 'Account files merged'}: ${written.map((m) => `${m.path} (+${m.added.length})`).join(', ')}\n`;
  const settled = report.controlFiles.filter((c) => c.action !== 'unchanged');
  if (settled.length > 0) text += `\nControl files: ${settled.map((c) => `${printable(c.path)} ${c.action}`).join(', ')}\n`;
  if (report.extras.written.length > 0) text += `\nAccount extras written: ${report.extras.written.length}; kept on the target: ${report.extras.keptTarget.length}\n`;
  if (result.chown) text += `\nchown ${result.chown.user} (${result.chown.ids}): ${result.chown.applied} changed, ${result.chown.failed.length} failed\n`;
  if (report.notMail > 0) text += `\n${report.notMail} entries of the backup are not mail (web files, databases, logs): not restored\n`;
  if (result.skipped.length > 0) {
    text += `\nNot restored (${result.skipped.length}):\n`;
    text += result.skipped.map((s) => `  ${printable(s.item)}: ${s.reason}\n`).join('');
  }
  return text;
}

function mailboxAddress(mailbox: string): string {
  const [domain, local] = mailbox.split('/');
  return `${local}@${domain}`;
}
