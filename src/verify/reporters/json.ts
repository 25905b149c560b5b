import type { VerifyReport } from '../report.js';

/** The --json document: the whole report, every missing key listed. */
export function formatVerifyJson(report: VerifyReport): string {
  return `${JSON.stringify({ command: 'verify', ...report }, null, 2)}\n`;
}
