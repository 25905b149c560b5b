import path from 'node:path';
import { shellReachFunctions } from '../hosts/inside-tree.js';

/**
 * The settle step of a restore over ssh (remote-stage.ts) as one remote command per batch, whatever its size.
 *
 * Why: renaming file by file costs one `mv` process per message on the far host (1-2 ms of fork and exec each, a
 * minute for a 40,000-message account). So each batch stages its files under their final base names, one staging
 * subdirectory per final directory (`BATCH/N/NAME`), and one `mv -n -t . --` per directory moves all of them while
 * the shell stands in that directory. What is still in a staging subdirectory afterwards was not placed, and a glob
 * over it says exactly which names those are: mv's -v output (which quotes non-ASCII names its own way) decides
 * nothing.
 *
 * Never written through a link: the shell reaches each final directory with `cd -P` from the tree's root (the
 * caller's, which may itself be a link) and checks with `pwd -P` that it stands at ROOT/REL exactly. Every name of
 * that physical path is a real directory (a name that is a link never appears in one), so a directory swapped for a
 * link since the target was listed is refused, and `mv -t .` then writes into the directory the shell stands in,
 * whatever happens to its path afterwards. The staging directory is checked the same way. `mv -n` never replaces a
 * file. Names reach the shell as words of its argument list (xargs -0 from NUL-separated stdin), never inside the
 * script, and the script is fixed.
 */

/** One final directory of a batch: its staging subdirectory number and where it is, from a root it trusts. */
export interface SettleDir {
  readonly n: number;
  /** The final directory, absolute. */
  readonly dir: string;
  /** The tree it is in (the walk to it starts there; the root itself may be a link). */
  readonly root: string;
}

/** What the settle left where it was. `n` is the staging subdirectory, `name` the base name. */
export interface SettleOutcome {
  /** Not placed: the final directory had that name already. */
  readonly taken: readonly { readonly n: number; readonly name: string }[];
  /** Not placed, and the name is free: mv failed (its error is on stderr). */
  readonly failed: readonly { readonly n: number; readonly name: string }[];
  /** Staging subdirectories whose final directory is not a real directory reached from its root: nothing moved. */
  readonly notReached: readonly number[];
}

/** The staging subdirectory script exits with this when the staging directory is not where it should be. */
export const STAGING_NOT_REACHED = 4;

/*
 * $1: the stage's root, $2: the batch directory relative to it; then records `N/ROOT//REL` (ROOT normalised, so the
 * first `//` ends it; REL empty for the root itself). `reach` is hosts/inside-tree.ts's shellReachFunctions. Prints `E N/NAME`, `F N/NAME` and
 * `L N` records, NUL-terminated.
 */
const settleScript = [
  shellReachFunctions,
  'sr=$1; sb=$2; shift 2',
  `reach "$sr" "$sb" && S=$p || exit ${STAGING_NOT_REACHED}`,
  'for rec; do',
  '  n=${rec%%/*}; rest=${rec#*/}; r=${rest%%//*}; rel=${rest#*//}',
  '  if reach "$r" "$rel"; then',
  '    find "$S/$n" -mindepth 1 -maxdepth 1 -exec mv -n -t . -- {} +',
  '    for f in "$S/$n"/* "$S/$n"/.[!.]* "$S/$n"/..?*; do',
  '      { [ -e "$f" ] || [ -L "$f" ]; } || continue',
  '      b=${f##*/}',
  '      if [ -e "$b" ] || [ -L "$b" ]; then printf \'E%s/%s\\0\' "$n" "$b"; else printf \'F%s/%s\\0\' "$n" "$b"; fi',
  '    done',
  '  else printf \'L%s\\0\' "$n"; fi',
  'done',
].join('\n');

/**
 * The settle command: xargs hands the records (stdin, NUL-separated) to as few runs of the fixed script as fit a
 * command line, each record one word. `stageRoot` holds `batchDir` (relative, under its tmp/).
 */
export function buildSettleArgv(stageRoot: string, batchDir: string): string[] {
  if (!stageRoot.startsWith('/')) throw new Error(`stage root must be absolute: ${stageRoot}`);
  if (batchDir.startsWith('/') || batchDir.split('/').includes('..')) throw new Error(`batch directory must be relative and inside: ${batchDir}`);
  return ['xargs', '-0', '-r', 'sh', '-c', settleScript, 'sh', stageRoot, batchDir];
}

/** The records for buildSettleArgv's stdin. Pure. */
export function buildSettleInput(dirs: readonly SettleDir[]): Buffer {
  return Buffer.from(dirs.map((d) => `${formatSettleRecord(d)}\u0000`).join(''), 'utf8');
}

/** `N/ROOT//REL`: ROOT without a trailing '/' (so '' for '/'), REL the final directory below it ('' for the root). */
export function formatSettleRecord(d: SettleDir): string {
  if (!Number.isSafeInteger(d.n) || d.n < 0) throw new Error(`staging subdirectory must be a number: ${d.n}`);
  return `${d.n}/${formatPlace(d.root, d.dir)}`;
}

/** `ROOT//REL` for a directory below a root (neither holds `//` once normalised, so the first `//` ends ROOT). */
function formatPlace(rootAsGiven: string, dirAsGiven: string): string {
  const root = path.posix.normalize(rootAsGiven).replace(/\/+$/, '');
  const dir = path.posix.normalize(dirAsGiven);
  if (!rootAsGiven.startsWith('/') || !dir.startsWith('/')) throw new Error(`paths must be absolute: ${rootAsGiven}, ${dirAsGiven}`);
  const rel = path.posix.relative(root === '' ? '/' : root, dir);
  if (rel === '..' || rel.startsWith('../')) throw new Error(`${dirAsGiven} is not inside ${rootAsGiven}`);
  return `${root}//${rel}`;
}

/** Reads the script's records. Pure. */
export function parseSettleOutput(stdout: string): SettleOutcome {
  const taken: { n: number; name: string }[] = [];
  const failed: { n: number; name: string }[] = [];
  const notReached: number[] = [];
  for (const field of stdout.split('\u0000')) {
    const kind = field[0];
    const body = field.slice(1);
    if (kind === 'L') notReached.push(Number(body));
    else if (kind === 'E' || kind === 'F') {
      const slash = body.indexOf('/');
      if (slash <= 0) continue;
      (kind === 'E' ? taken : failed).push({ n: Number(body.slice(0, slash)), name: body.slice(slash + 1) });
    }
  }
  return { taken, failed, notReached };
}

/** A hard link to a file an earlier batch placed: both ends below a root the walk starts from. */
export interface PlacedLink {
  readonly from: string;
  readonly fromRoot: string;
  readonly to: string;
  readonly toRoot: string;
}

/*
 * Records `I/TOROOT//TOREL//FROMROOT//FROMREL//FROMNAME//TONAME`. Both directories are reached as the settle reaches
 * one (`reach`: cd -P from the root, then pwd -P must be ROOT/REL), and neither is named by its path once checked:
 * the source directory is held open as fd 3 and named through /proc/self/fd/3 (the directory itself, whatever is
 * at its path by then), and the link is made in the directory the shell stands in. So a folder swapped for a link
 * can neither make ln read a file outside the tree nor write one outside it. ln without -f never replaces; -P links
 * the file itself. Prints `D I` (made), `E I` (the name was taken), `F I` (ln failed otherwise, its error on stderr)
 * and `L I` (a directory not reached without a link), NUL-terminated; a link it does not name was not made.
 */
const linkScript = [
  shellReachFunctions,
  'for rec; do',
  '  i=${rec%%/*}; x=${rec#*/}',
  '  tr=${x%%//*}; x=${x#*//}; tl=${x%%//*}; x=${x#*//}; fr=${x%%//*}; x=${x#*//}; fl=${x%%//*}; x=${x#*//}',
  '  fn=${x%%//*}; tn=${x#*//}',
  '  if reach "$fr" "$fl" && command exec 3< . && reach "$tr" "$tl"; then',
  '    if ln -P -T -- "/proc/self/fd/3/$fn" "./$tn" 2>/dev/null; then printf \'D%s\\0\' "$i"',
  '    elif [ -e "./$tn" ] || [ -L "./$tn" ]; then printf \'E%s\\0\' "$i"',
  '    else ln -P -T -- "/proc/self/fd/3/$fn" "./$tn"; printf \'F%s\\0\' "$i"; fi',
  '  else printf \'L%s\\0\' "$i"; fi',
  '  command exec 3<&-',
  'done',
].join('\n');

/** The command that makes hard links to placed files: records on stdin (buildLinkInput), one word each. */
export function buildLinkArgv(): string[] {
  return ['xargs', '-0', '-r', 'sh', '-c', linkScript, 'sh'];
}

/** The records for buildLinkArgv's stdin, in the order of `links` (their index is what the output names). Pure. */
export function buildLinkInput(links: readonly PlacedLink[]): Buffer {
  const records = links.map((link, index) => {
    const fromName = path.posix.basename(link.from);
    const toName = path.posix.basename(link.to);
    for (const name of [fromName, toName]) if (name === '' || name === '.' || name === '..' || name.includes('\u0000')) throw new Error(`not a file name: ${name}`);
    return `${index}/${formatPlace(link.toRoot, path.posix.dirname(link.to))}//${formatPlace(link.fromRoot, path.posix.dirname(link.from))}//${fromName}//${toName}\u0000`;
  });
  return Buffer.from(records.join(''), 'utf8');
}

/** Reads buildLinkArgv's output: the indexes of the links made, whose name was taken, that failed, not reached. Pure. */
export function parseLinkOutput(stdout: string): { made: number[]; taken: number[]; failed: number[]; notReached: number[] } {
  const out = { made: [] as number[], taken: [] as number[], failed: [] as number[], notReached: [] as number[] };
  for (const field of stdout.split('\u0000')) {
    const index = Number(field.slice(1));
    if (field.length < 2 || !Number.isSafeInteger(index)) continue;
    if (field[0] === 'D') out.made.push(index);
    else if (field[0] === 'E') out.taken.push(index);
    else if (field[0] === 'F') out.failed.push(index);
    else if (field[0] === 'L') out.notReached.push(index);
  }
  return out;
}
