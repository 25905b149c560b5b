import path from 'node:path';
import { domainRoutingTables, isSafeDomain } from '../cpanel/layout.js';
import type { Rewrite } from '../cpanel/merge.js';
import { checkNameSegment } from '../cpanel/unsafe.js';
import { mergeAccountFile } from '../engine/tree/copy-settle.js';
import { LocalFileSide } from '../hosts/local.js';
import { lastLine, type FileSide } from '../hosts/side.js';
import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { HeldAccountFiles, SkippedEntry } from './restore.js';

/**
 * The last step of a restore into a cPanel root: the account files the backup carried (held in memory while the
 * archive streamed, because etc/ may come after mail/) merged into the target's by the rules copy uses
 * (cpanel/merge.ts through mergeAccountFile): the target's lines win, a line is added only for a key the target
 * lacks, a passwd line gets the target's home and ids, valiases are rewritten for a new user.
 */

export interface AccountFilesTarget {
  /** The cPanel root (absolute, on `side`). */
  readonly root: string;
  readonly home: string;
  readonly user: string;
  readonly uid?: number;
  readonly gid?: number;
}

export interface AccountFileOutcome {
  /** Relative to the cPanel root. */
  readonly path: string;
  readonly action: 'written' | 'unchanged';
  readonly added: string[];
  readonly keptTarget: string[];
}

export interface AccountFilesResult {
  readonly merges: AccountFileOutcome[];
  readonly refused: SkippedEntry[];
}

export async function applyAccountFiles(
  held: HeldAccountFiles,
  target: AccountFilesTarget,
  options: { readonly sourceUser: string; readonly mailbox?: string; readonly dryRun: boolean },
  side: FileSide = new LocalFileSide(),
): Promise<AccountFilesResult> {
  const refused: SkippedEntry[] = [];
  const sourceHome = held.homedirPaths?.split('\n').map((l) => l.trim()).find((l) => l.startsWith('/')) ?? `/home/${options.sourceUser}`;
  const rewrite: Rewrite = {
    sourceHome,
    targetHome: path.posix.join('/', path.posix.relative(target.root, target.home)),
    sourceUser: options.sourceUser,
    targetUser: target.user,
    ...(target.uid !== undefined ? { targetUid: target.uid } : {}),
    ...(target.gid !== undefined ? { targetGid: target.gid } : {}),
  };
  const [onlyDomain, onlyLocal] = options.mailbox?.split('/') ?? [];
  const homeDirs = { base: target.home, mode: 0o750 };
  const rootDirs = { base: target.root, mode: 0o755 };
  const planned: PlannedMerge[] = [];

  for (const [domain, files] of [...held.domainTables].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!isSafeDomain(domain)) {
      refused.push({ item: `homedir/etc/${domain}`, reason: 'unsafe-name: not a domain name; its account files are not merged' });
      continue;
    }
    if (onlyDomain !== undefined && domain !== onlyDomain) continue;
    for (const [kind, text] of files) {
      if (kind !== 'passwd' && kind !== 'shadow' && kind !== 'quota') continue;
      const lines = keepSafeLines(text, `homedir/etc/${domain}/${kind}`, onlyLocal, refused);
      const rel = path.posix.join(path.posix.relative(target.root, target.home), 'etc', domain, kind);
      planned.push({ dirs: homeDirs, dirRel: path.posix.join('etc', domain), rel, kind, sourceText: lines });
    }
  }
  if (options.mailbox === undefined) {
    for (const table of domainRoutingTables) {
      for (const [domain, text] of held.routing.get(table) ?? []) {
        if (!isSafeDomain(domain)) {
          refused.push({ item: `${table}/${domain}`, reason: 'unsafe-name: not a domain name; not merged' });
          continue;
        }
        planned.push({ dirs: rootDirs, dirRel: path.posix.join('etc', table), rel: path.posix.join('etc', table, domain), kind: table, sourceText: text });
      }
    }
  }
  const merges = await applyMerges(side, planned, target.root, rewrite, options.dryRun, refused);
  return { merges, refused };
}

interface PlannedMerge {
  /** The directory the table's directories are made under, and their mode. */
  readonly dirs: { readonly base: string; readonly mode: number };
  /** The table's directory, relative to `dirs.base`. */
  readonly dirRel: string;
  /** The table, relative to the cPanel root. */
  readonly rel: string;
  readonly kind: Parameters<typeof mergeAccountFile>[0];
  readonly sourceText: string;
}

/**
 * The tables merged into the target's, read and written through the side (here or over ssh), in a handful of round
 * trips whatever their number: all read at once, never through a link; a target table that is there but cannot be read
 * so (a link, over 1 MiB) is listed and left as it is, never replaced by a merge that did not see it. Each changed
 * table is replaced whole by rename: a reader (Exim, Dovecot's auth) never sees half a table.
 */
async function applyMerges(side: FileSide, planned: readonly PlannedMerge[], root: string, rewrite: Rewrite, dryRun: boolean, refused: SkippedEntry[]): Promise<AccountFileOutcome[]> {
  if (planned.length === 0) return [];
  const fileOf = (p: PlannedMerge) => path.posix.join(root, p.rel);
  // Read from where each table's directories start (the home, or the root for /etc's tables), never through a link
  // below that: the account's user may have put one at ~/etc/DOMAIN.
  const texts = new Map<string, string>();
  for (const base of new Set(planned.map((p) => p.dirs.base))) {
    const read = await side.readSmallFiles(planned.filter((p) => p.dirs.base === base).map(fileOf), { within: base });
    for (const [file, text] of read) texts.set(file, text);
  }
  const unread = await findExisting(side, planned.map(fileOf).filter((f) => !texts.has(f)));
  const out: AccountFileOutcome[] = [];
  const writes: { planned: PlannedMerge; text: string }[] = [];
  for (const p of planned) {
    if (unread.has(fileOf(p))) {
      refused.push({ item: p.rel, reason: 'the target has it, but not as a regular file of at most 1 MiB; not merged, left as it is' });
      continue;
    }
    const targetText = texts.get(fileOf(p));
    const merged = mergeAccountFile(p.kind, p.sourceText, targetText, rewrite);
    if (merged.text === (targetText ?? null) || (targetText === undefined && merged.text === '')) {
      out.push({ path: p.rel, action: 'unchanged', added: merged.added, keptTarget: merged.keptTarget });
      continue;
    }
    writes.push({ planned: p, text: merged.text });
    out.push({ path: p.rel, action: 'written', added: merged.added, keptTarget: merged.keptTarget });
  }
  if (dryRun || writes.length === 0) return out;
  await side.mkdirs([...new Set(writes.map((w) => w.planned.dirs.base))]);
  const levelsOf = (p: PlannedMerge) => p.dirRel.split('/').map((_, i, all) => path.posix.join(p.dirs.base, ...all.slice(0, i + 1)));
  /** A table left as it is because a name on the way to it is a link (~/etc/DOMAIN -> /etc) or a file: listed. */
  const refuse = (p: PlannedMerge) => {
    refused.push({ item: p.rel, reason: 'a directory on the way to it is a link or not a directory; not merged, nothing written through it' });
    out.splice(out.findIndex((o) => o.path === p.rel), 1);
  };
  const isLinkOnTheWay = (err: unknown) => err instanceof MailshiftError && err.code === 'MAILSHIFT_TARGET_NOT_DIR';
  let writable = writes;
  for (const mode of new Set(writes.map((w) => w.planned.dirs.mode))) {
    // One level at a time, parents first, never through a link: all tables' directories at once, and table by table
    // only when that finds a link, so the others are still merged.
    const ofMode = writable.filter((w) => w.planned.dirs.mode === mode);
    try {
      await side.makeDirsNoFollow([...new Set(ofMode.flatMap((w) => levelsOf(w.planned)))], { mode, errorRoot: root });
    } catch (err) {
      if (!isLinkOnTheWay(err)) throw err;
      for (const w of ofMode) {
        try {
          await side.makeDirsNoFollow(levelsOf(w.planned), { mode, errorRoot: root });
        } catch (each) {
          if (!isLinkOnTheWay(each)) throw each;
          refuse(w.planned);
          writable = writable.filter((x) => x !== w);
        }
      }
    }
  }
  for (const w of writable) {
    try {
      await side.writeAtomic(fileOf(w.planned), w.text, { mode: 0o640, within: w.planned.dirs.base });
    } catch (err) {
      if (!isLinkOnTheWay(err)) throw err;
      refuse(w.planned);
    }
  }
  return out;
}

/** Which of these paths exist, of any type (find -P: a link is itself), in one round trip. */
async function findExisting(side: FileSide, absPaths: readonly string[]): Promise<Set<string>> {
  if (absPaths.length === 0) return new Set();
  const result = await side.run(['find', ...absPaths, '-maxdepth', '0', '-printf', '%p\\0']);
  if (result.exitCode === 255 && side.ssh) throw new MailshiftError('MAILSHIFT_SSH_FAILED', `ssh to ${side.ssh.host} failed: ${lastLine(result.stderr)}`, { exitCode: ExitCode.tempFail });
  return new Set(result.stdout.toString('utf8').split('\u0000').filter((p) => p !== ''));
}

/**
 * Lines keyed by a mailbox name that cPanel and Dovecot turn into a path: an unsafe key is refused and listed
 * (the rule copy applies); with one mailbox selected, only its line is kept.
 */
function keepSafeLines(text: string, what: string, onlyLocal: string | undefined, refused: SkippedEntry[]): string {
  return text
    .split('\n')
    .filter((line) => {
      if (line.trim() === '' || line.startsWith('#')) return onlyLocal === undefined;
      const key = line.slice(0, line.includes(':') ? line.indexOf(':') : line.length).trim();
      const problem = checkNameSegment(key);
      if (problem) {
        refused.push({ item: what, reason: `line for mailbox ${JSON.stringify(key)}: the name is unsafe as a path (${problem}); not merged` });
        return false;
      }
      return onlyLocal === undefined || key === onlyLocal;
    })
    .join('\n');
}
