import { maskUrlSecrets } from '../../core/secrets.js';
import { parseStoreSpec } from '../../stores/spec.js';

/**
 * What the report may show of a text. In a customer report (the default) the hosts of the plan's sources and targets
 * become role names (`imaps://alice@mail.old.example` -> `imaps://alice@source-host`, a second source host
 * `source-host-2`), wherever they appear: in a spec, an error, a warning, a skipped item's reason; and IPv4 addresses
 * become "[address]", as a connection error may name the address instead of the host. A full report shows them.
 * Either way a password typed into a URL is masked (there should be none: the plan refuses them).
 */
export interface ReportMask {
  readonly detail: 'customer' | 'full';
  text(text: string): string;
}

export function buildReportMask(specs: Iterable<{ readonly source: string; readonly target: string }>, detail: 'customer' | 'full'): ReportMask {
  if (detail === 'full') return { detail, text: (text) => maskUrlSecrets(text) };
  const labels = decideHostLabels(specs);
  // Longest first, so that "mail.old.example" is replaced whole before a shorter host that is a part of it.
  const hosts = [...labels.keys()].sort((a, b) => b.length - a.length);
  // A host stands alone: not inside a longer name ("old.example" in "mold.example") nor in a longer number.
  const pattern = hosts.length > 0 ? new RegExp(`(?<![A-Za-z0-9-])(?:${hosts.map(escapeRegExp).join('|')})(?![A-Za-z0-9-]|\\.[A-Za-z0-9])`, 'gi') : undefined;
  return {
    detail,
    text(text) {
      let masked = maskUrlSecrets(text);
      if (pattern) masked = masked.replace(pattern, (host) => labels.get(host.toLowerCase()) ?? host);
      return masked.replace(ipv4, '[address]');
    },
  };
}

const ipv4 = /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]*\d)/g;

/** Each host of the plan gets the role it first appears in, numbered from the second host of that role on. */
export function decideHostLabels(specs: Iterable<{ readonly source: string; readonly target: string }>): Map<string, string> {
  const labels = new Map<string, string>();
  const counts = { source: 0, target: 0 };
  for (const row of specs) {
    for (const role of ['source', 'target'] as const) {
      const host = findSpecHost(row[role]);
      if (host === undefined || labels.has(host)) continue;
      counts[role] += 1;
      labels.set(host, counts[role] === 1 ? `${role}-host` : `${role}-host-${counts[role]}`);
    }
  }
  return labels;
}

/** The host an IMAP or ssh spec names, lower case; undefined for a local one (or a spec that does not parse). */
function findSpecHost(spec: string): string | undefined {
  try {
    const parsed = parseStoreSpec(spec);
    if (parsed.kind === 'imap') return parsed.host.toLowerCase();
    return parsed.location.type === 'ssh' ? parsed.location.host.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
