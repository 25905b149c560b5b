import path from 'node:path';
import { domainRoutingTables, isSafeDomain } from '../cpanel/layout.js';
import type { Rewrite } from '../cpanel/merge.js';
import { checkNameSegment } from '../cpanel/unsafe.js';
import { mergeAccountFile } from '../engine/tree/copy-settle.js';
import { LocalFileSide } from '../hosts/local.js';
import type { FileSide } from '../hosts/side.js';
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
  const merges: AccountFileOutcome[] = [];
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
  const merge = (dirs: { base: string; mode: number }, dirRel: string, rel: string, kind: Parameters<typeof mergeAccountFile>[0], text: string) =>
    mergeInto(side, dirs, dirRel, target.root, rel, kind, text, rewrite, options.dryRun, refused);

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
      const outcome = await merge(homeDirs, path.posix.join('etc', domain), rel, kind, lines);
      if (outcome) merges.push(outcome);
    }
  }
  if (options.mailbox === undefined) {
    for (const table of domainRoutingTables) {
      for (const [domain, text] of held.routing.get(table) ?? []) {
        if (!isSafeDomain(domain)) {
          refused.push({ item: `${table}/${domain}`, reason: 'unsafe-name: not a domain name; not merged' });
          continue;
        }
        const outcome = await merge(rootDirs, path.posix.join('etc', table), path.posix.join('etc', table, domain), table, text);
        if (outcome) merges.push(outcome);
      }
    }
  }
  return { merges, refused };
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

/**
 * One table merged into the target's, read and written through the side (here or over ssh): read never through a
 * link; a target file that is there but cannot be read so (a link, over 1 MiB) is listed and left as it is, never
 * replaced by a merge that did not see it.
 */
async function mergeInto(
  side: FileSide,
  dirs: { readonly base: string; readonly mode: number },
  dirRel: string,
  root: string,
  rel: string,
  kind: Parameters<typeof mergeAccountFile>[0],
  sourceText: string,
  rewrite: Rewrite,
  dryRun: boolean,
  refused: SkippedEntry[],
): Promise<AccountFileOutcome | undefined> {
  const file = path.posix.join(root, rel);
  const targetText = (await side.readSmallFiles([file])).get(file);
  if (targetText === undefined && (await side.owner(file)) !== undefined) {
    refused.push({ item: rel, reason: 'the target has it, but not as a regular file of at most 1 MiB; not merged, left as it is' });
    return undefined;
  }
  const merged = mergeAccountFile(kind, sourceText, targetText, rewrite);
  if (merged.text === (targetText ?? null) || (targetText === undefined && merged.text === '')) {
    return { path: rel, action: 'unchanged', added: merged.added, keptTarget: merged.keptTarget };
  }
  if (!dryRun) {
    // One level at a time, never through a link; then replaced whole by rename: a reader (Exim, Dovecot's auth)
    // never sees half a table.
    const levels = dirRel.split('/').map((_, i, all) => path.posix.join(dirs.base, ...all.slice(0, i + 1)));
    await side.mkdirs([dirs.base]);
    await side.makeDirsNoFollow(levels, { mode: dirs.mode, errorRoot: dirs.base });
    await side.writeAtomic(file, merged.text, { mode: 0o640 });
  }
  return { path: rel, action: 'written', added: merged.added, keptTarget: merged.keptTarget };
}
