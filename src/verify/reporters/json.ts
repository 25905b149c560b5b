import type { VerifyReport } from '../report.js';

/** The --json document: the whole report, every missing key listed, and the route (which engine compared, and why). */
export function formatVerifyJson(report: VerifyReport, route?: { readonly use: string; readonly reason: string }): string {
  return `${JSON.stringify({ command: 'verify', ...(route ? { route: { use: route.use, reason: route.reason } } : {}), ...report }, null, 2)}\n`;
}
