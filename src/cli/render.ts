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

export { formatBytes, formatDuration, formatJson, formatTable, printable } from '../core/format.js';
import { formatBytes, formatDuration } from '../core/format.js';

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
