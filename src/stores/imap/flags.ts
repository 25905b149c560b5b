import type { SystemFlag } from '../../core/types.js';
import { systemFlags } from '../../core/types.js';

const systemFlagByLower = new Map(systemFlags.map((flag) => [flag.toLowerCase(), flag]));

/** IMAP flags -> system flags and keywords. \Recent is a session flag (never carried); other \-flags are unknown. */
export function splitImapFlags(flags: Iterable<string>): { flags: Set<SystemFlag>; keywords: Set<string> } {
  const system = new Set<SystemFlag>();
  const keywords = new Set<string>();
  for (const flag of flags) {
    const known = systemFlagByLower.get(flag.toLowerCase());
    if (known) system.add(known);
    else if (!flag.startsWith('\\')) keywords.add(flag);
  }
  return { flags: system, keywords };
}

/** A keyword must be an IMAP atom (RFC 3501 flag-keyword); anything else cannot be sent in APPEND. */
export function isSendableKeyword(keyword: string): boolean {
  return keyword.length > 0 && !/[\u0000-\u0020\u007f-\uffff(){%*"\\\]]/.test(keyword);
}
