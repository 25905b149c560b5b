import type { ChownOutcome, CopyOutcome } from '../../engine/operations/copy.js';
import type { LoginFacts } from '../../engine/operations/login.js';
import type { FallbackDecision } from '../../engine/route.js';
import type { CopyReport } from '../../engine/tree/copy-report.js';
import type { ResyncReport } from '../../engine/tree/resync/report.js';
import type { StoreCopyReport } from '../../engine/messages/copy.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { CliContext } from '../context.js';
import { formatRestoreReport } from './archive-reports.js';
import { formatBytes, formatDuration, formatJson, formatTable, printable } from '../render.js';

/**
 * How copy and resync show what they did, whichever engine ran: the files engine's job table (and chown), the
 * files resync's folder table, the messages engine's folder mapping and counts, or --justlogin's server facts.
 * Text for people, --json for scripts (with the route: which engine, and why).
 */

/** Prints what copy or resync did, as text or --json, and sets the exit code: the same for both commands. */
export function renderCopyOutcome(ctx: CliContext, outcome: CopyOutcome, command: 'copy' | 'resync', asJson: boolean): void {
  const { route, exitCode } = outcome;
  const fallback = route.fallback;
  const common = { ok: exitCode === ExitCode.ok, command, route: { use: route.use, reason: route.reason } };
  switch (outcome.kind) {
    case 'login':
      ctx.out(asJson ? formatJson({ ok: true, command, justlogin: outcome.logins.map(formatLoginJson) }) : formatLogins(outcome.logins));
      break;
    case 'messages':
      ctx.out(asJson ? formatJson({ ...common, engine: 'imap', ...(fallback ? { fallback } : {}), ...outcome.report, exitCode }) : formatStoreCopyReport(outcome.report, fallback));
      break;
    case 'files-copy':
      ctx.out(
        asJson
          ? formatJson({ ...common, engine: 'files', ...(fallback ? { fallback } : {}), ...outcome.report, exitCode, ...(outcome.chown ? { chown: outcome.chown } : {}) })
          : formatFallbackLine(fallback) + formatCopyReport(outcome.report, outcome.chown),
      );
      break;
    case 'archive-restore':
      ctx.out(asJson ? formatJson({ ...common, engine: 'archive', ...outcome.result, exitCode }) : formatRestoreReport(outcome.result));
      break;
    case 'files-resync':
      for (const warning of outcome.report.warnings) ctx.logger().warn(warning);
      ctx.out(asJson ? formatJson({ ...common, engine: 'files', ...(fallback ? { fallback } : {}), ...outcome.report }) : formatFallbackLine(fallback) + formatResyncReport(outcome.report));
      break;
  }
  ctx.setExitCode(exitCode);
}

/** Human output's line about --imap-fallback; empty when it was not given. */
export function formatFallbackLine(fallback: FallbackDecision | undefined): string {
  if (!fallback) return '';
  return fallback.used ? `Using IMAP (${fallback.imap}) because ${fallback.reason}\n` : `IMAP fallback not needed: ${fallback.reason}\n`;
}

function formatLoginJson(each: LoginFacts): unknown {
  return each.login ? { side: each.side, label: each.label, login: 'ok', ...each.login } : { side: each.side, label: each.label, kind: each.kind };
}

/** `--justlogin`: each end, and what its server offers. */
export function formatLogins(logins: readonly LoginFacts[]): string {
  const lines: string[] = [];
  for (const each of logins) {
    if (each.login) {
      const ns = each.login.namespace;
      lines.push(`${each.side}: ${each.label}: login ok (${each.login.credential})`);
      lines.push(`  namespace: prefix "${ns.prefix}", delimiter "${ns.delimiter ?? 'NIL'}"`);
      lines.push(`  capabilities: ${each.login.capabilities.join(' ')}`);
    } else {
      lines.push(`${each.side}: ${each.label}: ${each.kind} (no login needed)`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function formatCopyReport(report: CopyReport, chown?: ChownOutcome): string {
  const verb = report.dryRun ? 'Would copy' : 'Copied';
  const files = report.jobs.reduce((sum, j) => sum + j.files, 0);
  const bytes = report.jobs.reduce((sum, j) => sum + j.bytes, 0);
  let text = `${verb} ${files} files (${formatBytes(bytes)}) from ${report.source} to ${report.target}\n\n`;
  text += formatTable(
    ['JOB', 'FILES', 'LINKS', 'SIZE', 'RESULT', 'TRIES'],
    report.jobs.map((j) => [j.label, j.files, j.hardlinks + j.symlinks, formatBytes(j.bytes), j.outcome === 'ok' ? 'ok' : `${j.outcome}: ${j.meaning}`, j.attempts]),
  );
  const changed = report.controlFiles.filter((c) => c.action !== 'keep-target');
  const kept = report.controlFiles.filter((c) => c.action === 'keep-target');
  if (changed.length > 0) text += `\nControl files updated on the target (${changed.length}):\n${changed.map((c) => `  ${printable(c.path)}: ${c.reason}\n`).join('')}`;
  if (kept.length > 0) text += `\nControl files the target keeps (${kept.length}):\n${kept.map((c) => `  ${printable(c.path)}: ${c.reason}\n`).join('')}`;
  if (report.merges.length > 0) {
    text += '\nAccount files:\n';
    for (const m of report.merges) {
      const detail = m.action === 'written' ? `added ${m.added.length ? m.added.join(', ') : 'nothing'}${m.keptTarget.length ? `; kept target's ${m.keptTarget.join(', ')}` : ''}` : (m.reason ?? '');
      text += `  ${m.action.padEnd(9)} ${printable(m.path)}${detail ? `: ${printable(detail)}` : ''}\n`;
    }
  }
  if (report.skipped.length > 0) {
    text += `\nNot copied, unsafe (${report.skipped.length}; the items discover reports as unsafe):\n`;
    for (const item of report.skipped) text += `  ${item.job}: ${JSON.stringify(item.path)}: ${item.reason}\n`;
  }
  if (chown) {
    text += `\nchown ${chown.user} (${chown.ids}): ${chown.applied} of ${chown.planned} changes applied, ${chown.checked} entries checked\n`;
    for (const s of chown.skipped.slice(0, 20)) text += `  left alone: ${JSON.stringify(s.path)}: ${s.reason}\n`;
    for (const f of chown.failed.slice(0, 20)) text += `  FAILED: ${JSON.stringify(f.path)}: ${f.reason}\n`;
  } else if (report.cpanelTarget && report.dryRun) {
    text += `\nchown would run for ${report.cpanelTarget.user} after the copy\n`;
  }
  const warnings = report.jobs.flatMap((j) => j.warnings.map((w) => `${j.label}: ${w}`));
  if (warnings.length > 0) text += `\nrsync said:\n${warnings.slice(0, 30).map((w) => `  ${w}\n`).join('')}`;
  const hints = [...new Set(report.jobs.flatMap((j) => (j.hint ? [j.hint] : [])))];
  for (const hint of hints) text += `\nhint: ${hint}\n`;
  return text;
}

export function formatResyncSummary(report: ResyncReport): string {
  const t = report.totals;
  const verb = report.dryRun ? 'would copy' : 'copied';
  const flagWord = report.flags === 'target' ? 'target kept' : report.dryRun ? `would apply ${t.flagsApplied}` : `${t.flagsApplied} applied`;
  const parts = [
    `${t.copied} ${verb}${t.bytesCopied > 0 ? ` (${formatBytes(t.bytesCopied)})` : ''}${t.notCopied > 0 ? ` (${t.notCopied} not copied)` : ''}`,
    `${t.alreadyPresent} already present`,
    `${t.duplicatesSkipped} duplicate${t.duplicatesSkipped === 1 ? '' : 's'} skipped`,
    `${t.flagDifferences} flag difference${t.flagDifferences === 1 ? '' : 's'} (${flagWord})`,
    `${t.foldersAdded} folder${t.foldersAdded === 1 ? '' : 's'} added`,
  ];
  return parts.join(', ');
}

function formatFolderNote(f: ResyncReport['folders'][number]): string {
  const notes = [f.added ? (f.subscribed ? 'folder added, subscribed' : 'folder added') : '', f.notCopied > 0 ? `${f.notCopied} not copied` : ''];
  return notes.filter(Boolean).join('; ');
}

export function formatResyncReport(report: ResyncReport): string {
  let text = `${report.dryRun ? 'Dry run' : 'Resynced'} ${report.source} -> ${report.target} in ${formatDuration(report.durationMs)}: ${formatResyncSummary(report)}\n`;
  if (report.totals.targetOnly > 0) text += `${report.totals.targetOnly} message(s) only on the target were left as they are\n`;
  const busy = report.folders.filter((f) => f.added || f.copied > 0 || f.notCopied > 0 || f.duplicatesSkipped > 0 || f.flagDifferences > 0);
  if (busy.length > 0) {
    text += '\n';
    text += formatTable(
      ['FOLDER', 'COPIED', 'PRESENT', 'DUPLICATES', 'FLAGS DIFFER', 'FLAGS APPLIED', 'NOTE'],
      busy.map((f) => [f.folder, f.copied, f.alreadyPresent, f.duplicatesSkipped, f.flagDifferences, f.flagsApplied, formatFolderNote(f)]),
    );
  }
  const quiet = report.folders.length - busy.length;
  if (quiet > 0) text += `${busy.length > 0 ? '' : '\n'}${quiet} folder(s) already in sync\n`;
  if (report.skippedFolders.length > 0) {
    text += `\nNot written (${report.skippedFolders.length}):\n`;
    for (const s of report.skippedFolders) text += `  ${printable(s.folder)}: ${printable(s.reason)}\n`;
  }
  if (report.rsync && report.rsync.outcome !== 'ok') text += `\nrsync: ${report.rsync.outcome}: ${report.rsync.meaning} (${report.rsync.attempts} attempt(s))\n`;
  if (report.rsync?.hint && report.rsync.outcome !== 'ok') text += `hint: ${report.rsync.hint}\n`;
  if (report.sourceChanged) {
    const c = report.sourceChange;
    text += `\nThe source changed during the run${c ? ` (${c.added} new, ${c.renamed} renamed, ${c.removed} gone)` : ''}: run resync again.\n`;
  } else if (report.exitCode === 0 && !report.dryRun) {
    text += '\nIn sync.\n';
  }
  return text;
}

export function formatStoreCopyReport(report: StoreCopyReport, fallback?: FallbackDecision): string {
  const verb = report.dryRun ? 'Would copy' : 'Copied';
  const t = report.totals;
  let text = formatFallbackLine(fallback);
  const flagWords = report.flags ? `; flags (--flags ${report.flags}): ${t.flagDifferences} differed, ${report.dryRun ? 'none changed (dry run)' : `${t.flagsApplied} changed on the target`}` : '';
  text += `${verb} ${t.copied} messages (${formatBytes(t.copiedBytes)}) from ${report.source} to ${report.target} in ${formatDuration(report.durationMs)}; ${t.alreadyPresent} already there${flagWords}\n\n`;
  text += formatTable(
    ['SOURCE FOLDER', 'TARGET FOLDER', 'WHY'],
    report.mapping.map((row) => [row.source, row.action === 'copy' ? row.target : '(not copied)', row.reason]),
  );
  if (report.folders.length > 0) {
    text += '\n';
    text += formatTable(
      ['FOLDER', report.dryRun ? 'TO COPY' : 'COPIED', 'ALREADY THERE', 'SKIPPED', 'RUN', 'RESULT'],
      report.folders.map((f) => [f.source, f.copied, f.alreadyPresent, f.skipped.length, f.mode, f.error ? `failed: ${f.error.message}` : f.retries ? `ok after ${f.retries} retries` : 'ok']),
    );
  }
  if (report.skippedFolders.length > 0) {
    text += `\nSkipped folders (${report.skippedFolders.length}):\n${report.skippedFolders.map((each) => `  ${each.folder}: ${each.reason}`).join('\n')}\n`;
  }
  const skipped = report.folders.flatMap((f) => f.skipped.map((s) => `  ${f.source} ${s.uid !== undefined ? `UID ${s.uid}` : s.id}: ${s.reason}`));
  if (skipped.length > 0) text += `\nSkipped messages (${skipped.length}):\n${skipped.slice(0, 50).join('\n')}\n`;
  if (report.stopped) text += `\nStopped: ${report.stopped.reason}\nEverything copied so far is recorded; run the same command again to continue (nothing is copied twice).\n`;
  return text;
}
