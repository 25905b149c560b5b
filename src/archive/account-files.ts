import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { domainRoutingTables, isSafeDomain } from '../cpanel/layout.js';
import type { Rewrite } from '../cpanel/merge.js';
import { checkNameSegment } from '../cpanel/unsafe.js';
import { mergeAccountFile } from '../engine/tree/copy-settle.js';
import { MaildirTreeWriter } from './maildir-writer.js';
import type { HeldAccountFiles, SkippedEntry } from './restore.js';
import { readRegularTextFile } from '../fsops/read-regular.js';

/**
 * The last step of a restore into a cPanel root: the account files the backup carried (held in memory while the
 * archive streamed, because etc/ may come after mail/) merged into the target's by the rules copy uses
 * (cpanel/merge.ts through mergeAccountFile): the target's lines win, a line is added only for a key the target
 * lacks, a passwd line gets the target's home and ids, valiases are rewritten for a new user.
 */

export interface AccountFilesTarget {
  /** The cPanel root (absolute, local). */
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
  const homeDirs = new MaildirTreeWriter(target.home, { dryRun: options.dryRun, dirMode: 0o750 });
  const rootDirs = new MaildirTreeWriter(target.root, { dryRun: options.dryRun, dirMode: 0o755 });

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
      merges.push(await mergeInto(homeDirs, path.posix.join('etc', domain), target.root, rel, kind, lines, rewrite, options.dryRun));
    }
  }
  if (options.mailbox === undefined) {
    for (const table of domainRoutingTables) {
      for (const [domain, text] of held.routing.get(table) ?? []) {
        if (!isSafeDomain(domain)) {
          refused.push({ item: `${table}/${domain}`, reason: 'unsafe-name: not a domain name; not merged' });
          continue;
        }
        merges.push(await mergeInto(rootDirs, path.posix.join('etc', table), target.root, path.posix.join('etc', table, domain), table, text, rewrite, options.dryRun));
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

async function mergeInto(
  dirs: MaildirTreeWriter,
  dirRel: string,
  root: string,
  rel: string,
  kind: Parameters<typeof mergeAccountFile>[0],
  sourceText: string,
  rewrite: Rewrite,
  dryRun: boolean,
): Promise<AccountFileOutcome> {
  const file = path.join(root, rel);
  const targetText = await readRegularTextFile(file);
  const merged = mergeAccountFile(kind, sourceText, targetText, rewrite);
  if (merged.text === (targetText ?? null) || (targetText === undefined && merged.text === '')) {
    return { path: rel, action: 'unchanged', added: merged.added, keptTarget: merged.keptTarget };
  }
  if (!dryRun) {
    await dirs.ensureDir(dirRel);
    // Replaced whole by rename: a reader (Exim, Dovecot's auth) never sees half a table.
    const tmp = `${file}.mailshift-restore.${process.pid}`;
    await writeFile(tmp, merged.text, { mode: 0o640, flag: 'wx' });
    await rename(tmp, file);
  }
  return { path: rel, action: 'written', added: merged.added, keptTarget: merged.keptTarget };
}

