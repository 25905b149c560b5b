import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../core/logger.js';
import { mergeKeyedLines, rewriteEmbeddedHome, rewritePasswd, rewriteValiases, type Rewrite } from '../../cpanel/merge.js';
import { checkNameSegment } from '../../cpanel/unsafe.js';
import type { PathOnTheWay } from '../../hosts/inside-tree.js';
import { fetchFiles, pushFiles } from '../../hosts/transfer.js';
import type { RsyncEndpoint } from '../../transport/rsync/args.js';
import { sideOf } from './copy-jobs.js';
import type { ControlFileReport, CopyOptions, MergeReport } from './copy-report.js';
import type { RefusedItem } from './copy-safety.js';
import { controlFileNames, decideControlFile } from './control-files.js';
import type { MergeItem } from './plan-copy.js';
import type { ResolvedCopy } from './resolve-copy.js';
import { readRegularTextFile } from '../../fsops/read-regular.js';

/**
 * After a tree copy's jobs: the Dovecot control files the target already had are settled one by one
 * (control-files.ts decides), and the account's small files are merged line by line (cpanel/merge.ts). Both fetch
 * the two sides' versions into the run's local staging directory with rsync (symlinks stay symlinks and are never
 * read through), decide locally, and push what changed back the same way.
 */

// ---------------------------------------------------------------------------------------------------------------
// Control files the target already had

export async function listExistingControlFiles(resolved: ResolvedCopy, options: CopyOptions): Promise<string[][]> {
  const out: string[][] = [];
  for (const roots of resolved.controlRoots) {
    const found: string[] = [];
    await sideOf(roots.target, options).list(roots.target.path, (e) => {
      if (e.type === 'file') found.push(e.path);
    }, { names: controlFileNames, ...(options.signal ? { signal: options.signal } : {}) });
    out.push(found);
  }
  return out;
}

export async function settleControlFiles(
  resolved: ResolvedCopy,
  existing: string[][],
  staging: string,
  options: CopyOptions,
  logger: Logger,
): Promise<ControlFileReport[]> {
  const reports: ControlFileReport[] = [];
  for (const [i, roots] of resolved.controlRoots.entries()) {
    const paths = existing[i] ?? [];
    if (paths.length === 0) continue;
    const srcDir = path.join(staging, `control-src-${i}`);
    const dstDir = path.join(staging, `control-dst-${i}`);
    const outDir = path.join(staging, `control-out-${i}`);
    const [sourceFound, targetFound] = await Promise.all([fetchFiles(roots.source, paths, srcDir, options), fetchFiles(roots.target, paths, dstDir, options)]);
    const toPush: string[] = [];
    for (const rel of paths) {
      const sourceText = await readRegularTextFile(path.join(srcDir, rel));
      const targetText = await readRegularTextFile(path.join(dstDir, rel));
      if (sourceText === undefined || targetText === undefined) {
        // Missing on the source: nothing to settle. Not read on either side: listed, never passed over in silence.
        const unread = sourceText === undefined ? describeUnread('source', sourceFound.get(rel)) : describeUnread('target', targetFound.get(rel));
        if (unread === undefined) continue;
        reports.push({ path: rel, action: 'keep-target', reason: `${unread}; the target's version is kept` });
        logger.warn(`${rel}: kept the target's version: ${unread}`);
        continue;
      }
      const decision = decideControlFile(path.posix.basename(rel), sourceText, targetText);
      if (decision.reason === 'identical') continue;
      reports.push({ path: rel, action: decision.action, reason: decision.reason });
      if (decision.action === 'keep-target') {
        logger.warn(`${rel}: kept the target's version: ${decision.reason}`);
        continue;
      }
      const text = decision.action === 'write' ? decision.text : sourceText;
      await writeStaged(path.join(outDir, rel), text, 0o600);
      toPush.push(rel);
    }
    if (toPush.length > 0) await pushFiles(outDir, toPush, roots.target, options);
  }
  return reports;
}

/**
 * Why one side's copy of a small file was not read, from what the fetch found there; undefined when there is nothing
 * to say (the file is missing there, or vanished while the run read it). Pure.
 */
export function describeUnread(side: 'source' | 'target', found: PathOnTheWay | undefined): string | undefined {
  switch (found) {
    case 'behind-a-link':
      return `the ${side}'s copy was not read: a directory on the way to it is a symbolic link or not a directory (never followed)`;
    case 'not-a-regular-file':
      return `the ${side}'s copy was not read: it is not a regular file (a symbolic link is never followed)`;
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Account metadata merges

export function planOnlyMerges(merges: readonly MergeItem[]): MergeReport[] {
  return merges.map((m) => ({ path: m.targetPath, action: 'unchanged', added: [], keptTarget: [], reason: 'dry run: would be merged' }));
}

/**
 * Fetches both sides' small files, merges them and pushes the results. Runs after the jobs: the target root may only
 * exist once they ran, and the account-files job creates ~/etc/DOMAIN, which the push needs.
 */
export async function runMerges(resolved: ResolvedCopy, staging: string, options: CopyOptions, logger: Logger): Promise<MergeReport[]> {
  if (resolved.merges.length === 0 || !resolved.sourceRoot || !resolved.targetRoot || !resolved.rewrite) return [];
  const rewrite = resolved.rewrite;
  const targetRoot = resolved.targetRoot;
  const srcDir = path.join(staging, 'merge-src');
  const dstDir = path.join(staging, 'merge-dst');
  const outDir = path.join(staging, 'merge-out');
  // The account files under the homes are reached from there, never through a link below them (etc/DOMAIN -> /etc).
  const homes = resolved.homesRel;
  const within = (home: string | undefined) => ({ ...options, ...(home !== undefined ? { trusted: [home] } : {}) });
  const [sourceFound, targetFound] = await Promise.all([
    fetchFiles(resolved.sourceRoot, resolved.merges.map((m) => m.sourcePath), srcDir, within(homes?.source)),
    fetchFiles(targetRoot, resolved.merges.map((m) => m.targetPath), dstDir, within(homes?.target)),
  ]);
  const reports: MergeReport[] = [];
  const toPush: string[] = [];
  for (const item of resolved.merges) {
    const sourceText = await readRegularTextFile(path.join(srcDir, item.sourcePath));
    const sourceUnread = sourceText === undefined ? describeUnread('source', sourceFound.get(item.sourcePath)) : undefined;
    if (sourceText === undefined && sourceUnread === undefined) {
      reports.push({ path: item.targetPath, action: 'skipped', added: [], keptTarget: [], reason: 'missing on the source' });
      continue;
    }
    const targetText = await readRegularTextFile(path.join(dstDir, item.targetPath));
    // A target file that is there but was not read is not replaced by the source's lines alone: that would drop the
    // target's own accounts. Only a file the target lacks is created.
    const targetUnread = targetText === undefined ? describeUnread('target', targetFound.get(item.targetPath)) : undefined;
    if (sourceText === undefined || targetUnread !== undefined) {
      // Not merged, so the source's lines (its mailboxes' logins, quotas, forwarders) are not on the target: a
      // refused item, listed and making the copy partial (exit 3).
      const [root, rel] = sourceUnread !== undefined ? [resolved.sourceRoot, item.sourcePath] : [targetRoot, item.targetPath];
      const reason = `${sourceUnread ?? targetUnread}; not merged`;
      const refused: RefusedItem = { job: `${item.kind} of ${item.domain}`, path: path.posix.join(root.path, rel), kind: 'special-file', reason };
      reports.push({ path: item.targetPath, action: 'skipped', added: [], keptTarget: [], reason, refused: [refused] });
      continue;
    }
    const { text: safeSourceText, refused } = refuseUnsafeKeys(item, sourceText, resolved.sourceRoot);
    const merged = mergeAccountFile(item.kind, safeSourceText, targetText, rewrite);
    const refusedField = refused.length > 0 ? { refused } : {};
    if (merged.text === (targetText ?? null)) {
      reports.push({ path: item.targetPath, action: 'unchanged', added: merged.added, keptTarget: merged.keptTarget, ...refusedField });
      continue;
    }
    await writeStaged(path.join(outDir, item.targetPath), merged.text, 0o640);
    toPush.push(item.targetPath);
    reports.push({ path: item.targetPath, action: 'written', added: merged.added, keptTarget: merged.keptTarget, ...refusedField });
    if (merged.keptTarget.length > 0) logger.warn(`${item.targetPath}: kept the target's lines for ${merged.keptTarget.join(', ')}`);
  }
  if (toPush.length > 0) await pushFiles(outDir, toPush, targetRoot, within(homes?.target));
  return reports;
}

/**
 * passwd, shadow and quota lines are keyed by a mailbox name that cPanel and Dovecot turn into a path
 * (~/mail/DOMAIN/NAME): a key discover reports as unsafe (checkNameSegment: "/", "..", control characters) is not
 * merged, and is listed.
 */
function refuseUnsafeKeys(item: MergeItem, sourceText: string, sourceRoot: RsyncEndpoint): { text: string; refused: RefusedItem[] } {
  if (item.kind !== 'passwd' && item.kind !== 'shadow' && item.kind !== 'quota') return { text: sourceText, refused: [] };
  const refused: RefusedItem[] = [];
  const kept = sourceText.split('\n').filter((line) => {
    if (line.trim() === '' || line.startsWith('#')) return true;
    const key = line.slice(0, line.includes(':') ? line.indexOf(':') : line.length).trim();
    const problem = checkNameSegment(key);
    if (!problem) return true;
    refused.push({
      job: `${item.kind} of ${item.domain}`,
      path: path.posix.join(sourceRoot.path, item.sourcePath),
      kind: 'unsafe-name',
      reason: `line for mailbox ${JSON.stringify(key)}: the name is unsafe as a path (${problem}); not merged`,
    });
    return false;
  });
  return { text: kept.join('\n'), refused };
}

/** One account file's merge, by its kind (also what a restore from a cPanel backup applies: archive/account-files.ts). */
export function mergeAccountFile(kind: MergeItem['kind'], sourceText: string, targetText: string | undefined, rewrite: Rewrite): { text: string; added: string[]; keptTarget: string[] } {
  switch (kind) {
    case 'passwd':
      return mergeKeyedLines(rewritePasswd(sourceText, rewrite), targetText);
    case 'shadow':
    case 'quota':
      return mergeKeyedLines(sourceText, targetText);
    case 'valiases':
      return mergeKeyedLines(rewriteValiases(sourceText, rewrite), targetText, ':', { lastKey: '*' });
    case 'vdomainaliases':
      return mergeKeyedLines(sourceText, targetText);
    case 'vfilters': {
      // A compiled filter is one program, not lines: an existing non-empty one on the target stays.
      if (targetText !== undefined && targetText.trim() !== '') return { text: targetText, added: [], keptTarget: targetText === sourceText ? [] : ['(whole file)'] };
      return { text: rewriteEmbeddedHome(sourceText, rewrite), added: ['(whole file)'], keptTarget: [] };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Small-file transfers through rsync (symlinks stay symlinks and are never read through)


async function writeStaged(file: string, text: string, mode: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text, { mode });
  await chmod(file, mode);
}

