import type { Progress } from '../engine/operations/types.js';
import type { MailshiftError } from '../core/errors.js';

export function formatError(err: MailshiftError, options: { withStack: boolean }): string {
  let text = `mailshift: ${err.message}\n`;
  if (err.hint) text += `  hint: ${err.hint}\n`;
  if (options.withStack) {
    text += `  code: ${err.code}\n`;
    if (err.stack) text += `${err.stack}\n`;
    if (err.cause instanceof Error && err.cause.stack) text += `caused by: ${err.cause.stack}\n`;
  }
  return text;
}

export function formatJson(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

const units = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 -> "1.5 KB" (powers of 1024, as du -h and mail quotas use). */
export function formatBytes(sizeBytes: number): string {
  let value = sizeBytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(value >= 10 ? 0 : 1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/**
 * Control characters shown as \xNN: a folder or file name from the tree (a newline, an ESC sequence) can neither
 * break a table's rows nor drive the terminal. Printable text, including \xNN already escaped, is unchanged.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A plain text table: columns padded to their widest cell; numbers right-aligned; control characters escaped. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => printable(String(cell))))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number'));
  return (
    cells
      .map((row) =>
        row
          .map((cell, i) => (numeric[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** What the bar shows: the engine's progress, as operations report it. */
export type ProgressDone = Progress;

export interface ProgressBar {
  update(done: ProgressDone): void;
  /** Draws the last line: with `final`, the run's own totals (the last update may lag behind what was done). */
  finish(final?: ProgressDone): void;
}

/**
 * A one-line progress bar on stderr, redrawn at most 10 times a second. Only used when stderr is a terminal; in
 * pipes and CI it prints nothing.
 */
export function createProgressBar(
  write: (text: string) => void,
  options: { label: string; totalBytes?: number; isInteractive: boolean },
): ProgressBar {
  if (!options.isInteractive) return { update: () => {}, finish: () => {} };
  const started = Date.now();
  let lastDraw = 0;
  let last: ProgressDone = { bytes: 0, items: 0 };
  const draw = () => {
    const elapsedS = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = last.bytes / elapsedS;
    const totalBytes = last.totalBytes ?? options.totalBytes;
    const items = last.totalItems !== undefined ? `${last.items}/${last.totalItems} msgs` : `${last.items} msgs`;
    let line = `${options.label} ${items} ${formatBytes(last.bytes)} ${formatBytes(rate)}/s`;
    if (totalBytes && totalBytes > 0) {
      const measured = last.measuredBytes ?? last.bytes;
      const fraction = Math.min(measured / totalBytes, 1);
      const width = 24;
      const filled = Math.round(fraction * width);
      const measuredRate = measured / elapsedS;
      const etaS = measuredRate > 0 ? Math.max(totalBytes - measured, 0) / measuredRate : 0;
      line = `${options.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0)}% ${items} ${formatBytes(rate)}/s ETA ${formatDuration(etaS * 1000)}`;
    }
    if (last.note) line += ` (${last.note})`;
    write(`\r\x1b[2K${line}`);
  };
  return {
    update(done) {
      last = done;
      const now = Date.now();
      if (now - lastDraw >= 100) {
        lastDraw = now;
        draw();
      }
    },
    finish(final) {
      if (final) last = { ...last, ...final };
      draw();
      write('\n');
    },
  };
}
