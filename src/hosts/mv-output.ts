import path from 'node:path';

/**
 * The pairs `mv -n -T -v` says it renamed: it prints "renamed 'A' -> 'B'" for each rename it did (-n skips silently
 * when B exists). A name mv had to quote differently (it holds a quote or a control character) does not parse; each
 * such line stands for one pair whose new name has such a character. `pairs` name paths relative to `root` (give
 * '/' for absolute ones). Pure.
 */
export function parseRenamedPairs<T extends { to: string }>(mvOutput: string, root: string, pairs: readonly T[]): T[] {
  const renamedTo = new Set<string>();
  let unparsed = 0;
  for (const line of mvOutput.split('\n')) {
    if (!line.startsWith('renamed ')) continue;
    const match = /^renamed '.*' -> '([^']*)'$/.exec(line);
    if (match) renamedTo.add(match[1]!);
    else unparsed += 1;
  }
  const done: T[] = [];
  for (const pair of pairs) {
    if (renamedTo.has(path.posix.join(root, pair.to))) done.push(pair);
    else if (unparsed > 0 && /['\u0000-\u001f]/.test(pair.to)) {
      unparsed -= 1;
      done.push(pair);
    }
  }
  return done;
}
