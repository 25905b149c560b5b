import { splitDestinations } from './files.js';

/**
 * The small text files that make a cPanel account's mail work, merged into what the target already has and
 * rewritten for a new home path or user name. Pure: text in, text out (cpanel-layout.md §3, §4, §7).
 *
 * Merging rule everywhere: the target's lines win. A line is added only when the target has no line with the same
 * key (mailbox name, alias), so a copy never clobbers a password, quota or forwarder that was set on the target.
 */

export interface Rewrite {
  /** Absolute home directory on the source and on the target, e.g. /home/olduser and /home2/newuser. */
  readonly sourceHome: string;
  readonly targetHome: string;
  readonly sourceUser: string;
  readonly targetUser: string;
  /** uid/gid for passwd lines on the target, when known. */
  readonly targetUid?: number;
  readonly targetGid?: number;
}

export interface MergeResult {
  readonly text: string;
  /** Keys taken from the source. */
  readonly added: string[];
  /** Keys present on both sides whose lines differ: the target's line was kept. */
  readonly keptTarget: string[];
}

/** Lines "KEY<sep>..." keyed by what comes before the first separator. Comments and blank lines stay put. */
function keyOf(line: string, separator: string): string | undefined {
  if (line.trim() === '' || line.startsWith('#')) return undefined;
  const at = line.indexOf(separator);
  return at < 0 ? line.trim() : line.slice(0, at).trim();
}

/** Merges line files keyed by their first field (passwd, shadow, quota: ':'; valiases: ':'). */
export function mergeKeyedLines(sourceText: string, targetText: string | undefined, separator = ':', options: { lastKey?: string } = {}): MergeResult {
  const sourceLines = splitLines(sourceText);
  if (targetText === undefined) {
    return { text: joinLines(orderLastKey(sourceLines, separator, options.lastKey)), added: sourceLines.map((l) => keyOf(l, separator)).filter(isString), keptTarget: [] };
  }
  const targetLines = splitLines(targetText);
  const targetByKey = new Map<string, string>();
  for (const line of targetLines) {
    const key = keyOf(line, separator);
    if (key !== undefined && !targetByKey.has(key)) targetByKey.set(key, line);
  }
  const added: string[] = [];
  const keptTarget: string[] = [];
  const out = [...targetLines];
  for (const line of sourceLines) {
    const key = keyOf(line, separator);
    if (key === undefined) continue;
    const existing = targetByKey.get(key);
    if (existing === undefined) {
      out.push(line);
      targetByKey.set(key, line);
      added.push(key);
    } else if (existing !== line) {
      keptTarget.push(key);
    }
  }
  return { text: joinLines(orderLastKey(out, separator, options.lastKey)), added, keptTarget };
}

/** cPanel writes the catch-all ("*:") last in valiases (Cpanel/Email/Aliases.pm); keep it there after a merge. */
function orderLastKey(lines: string[], separator: string, lastKey: string | undefined): string[] {
  if (lastKey === undefined) return lines;
  const last = lines.filter((l) => keyOf(l, separator) === lastKey);
  return [...lines.filter((l) => keyOf(l, separator) !== lastKey), ...last];
}

/**
 * `~/etc/DOMAIN/passwd`: LOCALPART:x:UID:GID::HOME:SHELL. Home is rewritten to the target home; uid/gid to the
 * target user's when known (cpanel-layout.md §3.1: "rebuild fields from the target's uid/gid/homedir").
 */
export function rewritePasswd(text: string, rewrite: Rewrite): string {
  return joinLines(
    splitLines(text).map((line) => {
      const fields = line.split(':');
      if (fields.length < 7) return line;
      if (rewrite.targetUid !== undefined) fields[2] = String(rewrite.targetUid);
      if (rewrite.targetGid !== undefined) fields[3] = String(rewrite.targetGid);
      fields[5] = rewriteHomePath(fields[5] ?? '', rewrite);
      return fields.join(':');
    }),
  );
}

/**
 * valiases destinations that name the account: the autoresponder pipe with the old home path, and the bare user
 * name (the default address delivering to the system mailbox). Other addresses are left as they are.
 */
export function rewriteValiases(text: string, rewrite: Rewrite): string {
  return joinLines(
    splitLines(text).map((line) => {
      const colon = line.indexOf(':');
      if (colon < 0 || line.startsWith('#')) return line;
      const key = line.slice(0, colon);
      const value = line.slice(colon + 1);
      const destinations = splitDestinations(value.trim());
      const rewritten = destinations.map((dest) => {
        if (dest === rewrite.sourceUser) return rewrite.targetUser;
        return rewriteEmbeddedHome(dest, rewrite);
      });
      if (rewritten.every((dest, i) => dest === destinations[i])) return line;
      return `${key}: ${rewritten.join(',')}`;
    }),
  );
}

/** Any text file that may carry absolute home paths (filters, vfilters): only whole-path occurrences change. */
export function rewriteEmbeddedHome(text: string, rewrite: Rewrite): string {
  if (rewrite.sourceHome === rewrite.targetHome) return text;
  const from = rewrite.sourceHome.replace(/\/+$/, '');
  const to = rewrite.targetHome.replace(/\/+$/, '');
  // "/home/bob" must not match inside "/home/bobby": the old home must be followed by '/', a quote, space or end.
  const re = new RegExp(`${escapeRegExp(from)}(?=$|[/"'\\s,])`, 'g');
  return text.replace(re, to);
}

function rewriteHomePath(p: string, rewrite: Rewrite): string {
  return rewriteEmbeddedHome(p, rewrite);
}

/** Renames files whose name carries the user (Roundcube's DB of the system mailbox: etc/USER.rcube.db). */
export function renameAccountPath(relativePath: string, rewrite: Rewrite): string {
  if (rewrite.sourceUser === rewrite.targetUser) return relativePath;
  const m = /^etc\/([^/]+)\.rcube\.db$/.exec(relativePath);
  if (m && m[1] === rewrite.sourceUser) return `etc/${rewrite.targetUser}.rcube.db`;
  return relativePath;
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function joinLines(lines: string[]): string {
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function isString(value: string | undefined): value is string {
  return value !== undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
