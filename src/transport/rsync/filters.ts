/**
 * rsync filter rules as data, and the NUL-separated merge file that carries them (read with --from0, so no name can
 * break a rule by containing a newline). Pure.
 *
 * Matching literals: rsync's wildmatch treats `*`, `?`, `[` as wildcards and, only when a pattern contains one of
 * them, `\` as an escape. So a literal is made safe by turning each special character into a one-character class
 * (`[*]`, `[?]`, `[[]`, `[]]`, `[\\]`): any literal that needs escaping then contains `[`, which switches wildcard
 * matching on and makes the classes mean exactly that character. Literals without special characters are left alone.
 */

export type FilterAction = 'include' | 'exclude';

export interface FilterRule {
  readonly action: FilterAction;
  /** An rsync pattern (already escaped where it contains literals from untrusted names). */
  readonly pattern: string;
}

const classFor: Record<string, string> = { '*': '[*]', '?': '[?]', '[': '[[]', ']': '[]]', '\\': '[\\\\]' };

export function escapeFilterLiteral(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, (c) => classFor[c] ?? c);
}

/** A rule matching exactly one path relative to the transfer root ("/a/b" anchored), directory-only when isDir. */
export function buildAnchoredRule(action: FilterAction, relativePath: string, isDir: boolean): FilterRule {
  const clean = relativePath.replace(/^\/+|\/+$/g, '');
  if (clean === '' || clean.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`not a clean relative path: ${relativePath}`);
  }
  return { action, pattern: `/${clean.split('/').map(escapeFilterLiteral).join('/')}${isDir ? '/' : ''}` };
}

export function formatFilterFile(rules: readonly FilterRule[]): Buffer {
  const lines = rules.map((rule) => {
    if (rule.pattern.includes('\u0000')) throw new Error('a filter pattern cannot contain a NUL byte');
    return `${rule.action === 'include' ? '+' : '-'} ${rule.pattern}`;
  });
  return Buffer.from(lines.map((line) => `${line}\u0000`).join(''), 'utf8');
}
