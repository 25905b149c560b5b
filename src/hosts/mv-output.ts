/**
 * Renaming without clobbering on a host reached by a command line (ssh.ts renameNoClobber): one `mv -n -T` per pair,
 * run by a fixed script that says which pairs it renamed. Why not `mv -v`: it names what it renamed, but quotes a
 * name with a quote, a control character or (in the C locale) any non-ASCII byte its own way, so its output cannot
 * tell exactly which pairs were done. The script prints the pair's index instead, when mv succeeded and the old name
 * is gone: a taken new name (mv -n skips it, with exit 0 or 1 depending on the coreutils version) and a vanished old
 * name (mv fails) are both left out.
 *
 * Each pair travels as ONE word `INDEX FROM // TO` (both absolute, so the first `//` ends FROM): xargs -0 hands as
 * many as fit a command line to one run of the script, and a pair is never split across two runs.
 */

const renameScript = [
  'for rec; do',
  '  i=${rec%%/*}; rest=${rec#"$i"}; f=${rest%%//*}; t=${rest#*//}',
  '  if mv -n -T -- "$f" "$t" && ! { [ -e "$f" ] || [ -L "$f" ]; }; then printf \'%s\\0\' "$i"; fi',
  'done',
].join('\n');

/** The rename command: records on stdin, NUL-separated (buildRenameInput). */
export function buildRenameNoClobberArgv(): string[] {
  return ['xargs', '-0', '-r', 'sh', '-c', renameScript, 'sh'];
}

/** The records for the rename command's stdin. Paths are absolute and hold no `//` (path.posix.join output). Pure. */
export function buildRenameInput(pairs: readonly { readonly from: string; readonly to: string }[]): Buffer {
  const records = pairs.map((pair, index) => {
    for (const p of [pair.from, pair.to]) {
      if (!p.startsWith('/') || p.includes('//') || p.includes('\u0000')) throw new Error(`not an absolute, normalised path: ${p}`);
    }
    return `${index}${pair.from}//${pair.to}\u0000`;
  });
  return Buffer.from(records.join(''), 'utf8');
}

/** The indexes of the pairs the rename command renamed. Pure. */
export function parseRenamedIndexes(stdout: string): Set<number> {
  return new Set(
    stdout
      .split('\u0000')
      .filter((field) => /^\d+$/.test(field))
      .map(Number),
  );
}
