import { formatBytes, formatDuration, printable } from '../../core/format.js';
import type { RunRecord, StageRecord } from '../state/types.js';
import { reportContentSecurityPolicy, reportCss, reportScript } from './html-assets.js';
import type { AccountDetail, AccountSummary, ReportTotals } from './model.js';
import type { Verdict } from './verdict.js';

/**
 * report.html in pieces, written in order by write.ts: the start (verdict, totals, the account table's head), one
 * table row per account, the part between table and details, one <details> per account, the end (footer, script).
 * Every text from the plan or the servers (account ids, folder names, errors, reasons) goes through escapeHtml: a
 * folder named "<script>" is shown as those eight characters.
 */

export interface HtmlPageFacts {
  readonly verdict: string;
  readonly exitCode: number;
  readonly totals: ReportTotals;
  readonly toolVersion: string;
  readonly generatedAt: string;
  readonly detail: 'customer' | 'full';
  readonly runs: readonly RunRecord[];
}

/** The account table's columns: heading, how it sorts, and its width class (report.css gives the widths). */
const columns = [
  { label: 'Account', type: 'text', width: 'name' },
  { label: 'Source', type: 'text', width: 'spec' },
  { label: 'Target', type: 'text', width: 'spec' },
  { label: 'Status', type: 'number', width: 'status' },
  { label: 'Verdict', type: 'number', width: 'verdict' },
  { label: 'Copied', type: 'number', width: 'count' },
  { label: 'Size', type: 'number', width: 'size' },
  { label: 'Skipped', type: 'number', width: 'count' },
  { label: 'Missing', type: 'number', width: 'count' },
  { label: 'Duration', type: 'number', width: 'size' },
  { label: 'Attempts', type: 'number', width: 'count' },
] as const;

/** Sort ranks: the worst last when sorted ascending, so a second click puts the problems on top. */
const statusRank: Record<string, number> = { done: 0, 'done-with-skips': 1, planned: 2, running: 3, 'timed-out': 4, failed: 5 };
const verdictRank: Record<Verdict, number> = { complete: 0, 'complete-with-exceptions': 1, unverified: 2, incomplete: 3 };

export function formatHtmlStart(page: HtmlPageFacts): string {
  const { totals } = page;
  const tone = page.exitCode === 0 ? 'ok' : page.exitCode === 3 ? 'warn' : 'bad';
  const fact = (label: string, value: string) => `<div><dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd></div>`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(reportContentSecurityPolicy)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="mailshift">',
    `<title>Mail migration report: ${escapeHtml(page.verdict)}</title>`,
    `<style>${reportCss}</style>`,
    '</head>',
    '<body>',
    '<header>',
    '<h1>Mail migration report</h1>',
    `<p class="muted">Generated ${escapeText(formatTime(page.generatedAt))} by mailshift ${escapeText(page.toolVersion)}.</p>`,
    `<p id="verdict" class="verdict ${tone}">${escapeHtml(page.verdict)}</p>`,
    '<dl class="totals">',
    fact('Accounts', String(totals.accounts)),
    fact('Complete', String(totals.byVerdict.complete)),
    fact('With exceptions', String(totals.byVerdict['complete-with-exceptions'])),
    fact('Not verified yet', String(totals.byVerdict.unverified)),
    fact('Incomplete', String(totals.byVerdict.incomplete)),
    fact('Items copied', String(totals.copiedItems)),
    fact('Size copied', formatBytes(totals.copiedBytes)),
    fact('Items skipped', String(totals.skippedItems)),
    fact('Messages missing', String(totals.missing)),
    '</dl>',
    '</header>',
    '<main>',
    '<h2>Accounts</h2>',
    '<p class="muted">Click a column heading to sort by it; click again to reverse. Each account name leads to its folders and skipped items below.</p>',
    '<table id="accounts">',
    `<colgroup>${columns.map((column) => `<col class="w-${column.width}">`).join('')}</colgroup>`,
    `<thead><tr>${columns.map((column) => `<th scope="col" data-type="${column.type}" aria-sort="none"><button type="button">${escapeHtml(column.label)}</button></th>`).join('')}</tr></thead>`,
    '<tbody>',
    '',
  ].join('\n');
}

export function formatHtmlAccountRow(summary: AccountSummary): string {
  const { counts, verdict } = summary;
  // data-value only where the cell shows something else than the number it sorts by; the sorting script reads the
  // text otherwise (the markup of 25,000 rows adds up).
  const number = (value: number | null, shown?: string) =>
    value === null ? '<td data-value="">–</td>' : shown === undefined ? `<td>${value}</td>` : `<td data-value="${value}">${escapeHtml(shown)}</td>`;
  return (
    '<tr>' +
    `<td><a href="#${anchorOf(summary)}">${escapeText(summary.row.id)}</a></td>` +
    `<td>${escapeSpec(summary.source)}</td>` +
    `<td>${escapeSpec(summary.target)}</td>` +
    `<td data-value="${statusRank[verdict.status]}">${statusBadge(verdict.status)}</td>` +
    `<td data-value="${verdictRank[verdict.verdict]}">${verdictBadge(verdict.verdict)}</td>` +
    number(counts.copiedItems) +
    number(counts.copiedBytes, formatBytes(counts.copiedBytes)) +
    number(counts.skippedItems) +
    number(counts.missing) +
    number(Math.round(summary.durationMs / 1000), formatDuration(summary.durationMs)) +
    number(summary.attempts) +
    '</tr>\n'
  );
}

export function formatHtmlBetween(): string {
  return ['</tbody>', '</table>', '<h2>Accounts in detail</h2>', '<p class="muted">Failed and unfinished accounts first, then those with exceptions, those not verified yet, and the complete ones.</p>', ''].join('\n');
}

export function formatHtmlAccountDetail(summary: AccountSummary, detail: AccountDetail): string {
  const parts: string[] = [];
  parts.push(`<details class="account" id="${anchorOf(summary)}">`);
  parts.push(`<summary><span class="id">${escapeText(summary.row.id)}</span> ${verdictBadge(summary.verdict.verdict)} ${escapeText(summary.verdict.reason)}</summary>`);
  parts.push(`<p>${escapeText(summary.source)} &#8594; ${escapeText(summary.target)}</p>`);
  if (summary.stages.length > 0) parts.push(formatStageTable(summary.stages));
  if (detail.folders.length > 0) {
    parts.push('<h3>Folders, as verify compared them</h3>');
    parts.push('<table class="folders"><thead><tr><th>Folder</th><th>Source</th><th>Target</th><th>Difference</th><th>Missing on target</th></tr></thead><tbody>');
    for (const folder of detail.folders) {
      const difference = folder.targetMessages - folder.sourceMessages;
      const differs = difference !== 0 || folder.missing > 0;
      parts.push(
        `<tr${differs ? ' class="diff"' : ''}><td>${escapeText(folder.folder)}</td><td>${folder.sourceMessages}</td><td>${folder.targetMessages}</td>` +
          `<td${difference !== 0 ? ' class="bad"' : ''}>${difference > 0 ? `+${difference}` : difference}</td><td${folder.missing > 0 ? ' class="bad"' : ''}>${folder.missing}</td></tr>`,
      );
    }
    parts.push('</tbody></table>');
  } else {
    parts.push('<p class="muted">No folder comparison: verify has not compared this account.</p>');
  }
  if (detail.skipped.length > 0) {
    parts.push(`<h3>Skipped items (${detail.skipped.length})</h3>`);
    parts.push('<table class="skipped"><thead><tr><th>Stage</th><th>Item</th><th>Reason</th></tr></thead><tbody>');
    for (const entry of detail.skipped) parts.push(`<tr><td>${escapeText(entry.stage)}</td><td>${escapeText(entry.item)}</td><td>${escapeText(entry.reason)}</td></tr>`);
    parts.push('</tbody></table>');
  }
  if (detail.warnings.length > 0) {
    parts.push(`<h3>Warnings (${detail.warnings.length})</h3><ul>`);
    for (const warning of detail.warnings) parts.push(`<li>${escapeText(warning.stage)}: ${escapeText(warning.text)}</li>`);
    parts.push('</ul>');
  }
  parts.push('</details>\n');
  return parts.join('\n');
}

export function formatHtmlEnd(page: HtmlPageFacts): string {
  const last = page.runs.at(-1);
  const runs = last ? `${page.runs.length} run(s), the last: ${last.stage}, started ${formatTime(last.startedAt)}` : 'no run recorded';
  const detail = page.detail === 'customer' ? 'customer report: host names and addresses masked' : 'full report: host names shown';
  return [
    '</main>',
    `<footer>mailshift ${escapeText(page.toolVersion)} · generated ${escapeText(formatTime(page.generatedAt))} · ${escapeText(runs)} · ${detail} · schema mailshift.report/1</footer>`,
    `<script>${reportScript}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function formatStageTable(records: readonly StageRecord[]): string {
  const rows = records.map(
    (record) =>
      `<tr><td>${escapeText(record.stage)}</td><td>${statusBadge(record.status)}</td><td>${record.attempts}</td><td>${record.items}</td>` +
      `<td>${escapeHtml(formatBytes(record.bytes))}</td><td>${record.skipped}</td><td>${escapeHtml(formatDuration(record.durationMs))}</td>` +
      `<td>${record.lastError !== undefined ? escapeText(record.lastError) : ''}</td></tr>`,
  );
  return `<table class="stages"><thead><tr><th>Stage</th><th>Status</th><th>Attempts</th><th>Items</th><th>Size</th><th>Skipped</th><th>Time</th><th>Error</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** "2026-12-07T05:00:12.345Z" as a person reads it: "2026-12-07 05:00 UTC" (report.json keeps the exact time). */
function formatTime(iso: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return match ? `${match[1]} ${match[2]} UTC` : iso;
}

/** Status as a word on a coloured badge: the colour helps, the word carries it (a printout in grey still says it). */
function statusBadge(status: string): string {
  return `<span class="badge s-${escapeHtml(status)}">${escapeHtml(status)}</span>`;
}

function verdictBadge(verdict: Verdict): string {
  return `<span class="badge v-${verdict}">${escapeHtml(verdict)}</span>`;
}

/** The anchor of an account's details: its plan position, since an id is the plan's data. */
function anchorOf(summary: AccountSummary): string {
  return `account-${summary.index + 1}`;
}

/** A source or target, with places to break a long one at its separators (<wbr>: a narrow column wraps there, not mid-word). */
function escapeSpec(spec: string): string {
  return escapeText(spec).replace(/([@/#])/g, '$1<wbr>');
}

/** Text from the plan or a server: control characters shown as \xNN, then escaped. */
function escapeText(text: string): string {
  return escapeHtml(printable(text));
}

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** For text and for attribute values in double or single quotes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => htmlEscapes[c]!);
}
