import path from 'node:path';
import type { Logger } from '../../../core/logger.js';
import { buildRsyncArgv } from '../../../transport/rsync/args.js';
import type { ItemizedChange } from '../../../transport/rsync/itemize.js';
import { runRsync, type RsyncRunResult } from '../../../transport/rsync/run.js';
import { listArrivedFiles } from '../../../transport/rsync/arrived.js';
import { buildStagingDirName, createDirs, readOwner, removeDeadStagingDirs, removeOwnDir, renameNoClobber, rsyncEndpointOf, type Owner, type ResyncSide } from './ends.js';
import { writeKeywordTable } from './keywords.js';
import type { ResyncOptions, ResyncTree } from './options.js';
import { messagePath, type CopyItem, type FolderPlan, type KeywordTables, type RenameItem, type ResyncPlan } from './plan.js';
import { displayFolder } from './report.js';
import { subscribeNewFolders } from './subscriptions.js';

/**
 * Steps 3 to 6 of a resync: writing the plan into the target, in an order that never shows a client a wrong state.
 * 3. create new folders and missing cur/ new/ tmp/; write keyword tables that gained a letter (before any file uses
 *    the letter);
 * 4. one rsync with --files-from for every message whose name stays as it is (--ignore-existing: never overwrite;
 *    --no-implied-dirs: the target's directories keep their mtimes, which Dovecot watches);
 * 5. messages whose keyword letters change go through the target's tmp/ and are renamed into place (maildir's own
 *    delivery protocol: a client never sees a half-written file or a wrong keyword);
 * then new folders are subscribed where the source subscribes to them, and
 * 6. flag renames (--flags=source|merge): one rename of the target file each, never a second copy.
 */

export interface Applied {
  copied: Map<string, number>;
  subscribed?: Set<string>;
  renamed: Map<string, number>;
  bytes: number;
  rsync: RsyncRunResult | undefined;
  /** Items not done this time because something changed under us (a keyword table): run again. */
  deferred: number;
}

export type ApplyOptions = ResyncOptions & { readonly tempDir?: string };

/** A planned folder with the copies left after dedupe. */
export interface FolderWork {
  readonly folder: FolderPlan;
  readonly copies: readonly CopyItem[];
}

export function emptyApplied(): Applied {
  return { copied: new Map(), renamed: new Map(), bytes: 0, rsync: undefined, deferred: 0 };
}

export async function applyPlan(
  tree: ResyncTree,
  plan: ResyncPlan,
  duplicates: ReadonlySet<string>,
  keywords: KeywordTables,
  options: ApplyOptions,
  logger: Logger,
  warnings: string[],
): Promise<Applied> {
  const applied = emptyApplied();
  const work: FolderWork[] = plan.folders.map((folder) => ({ folder, copies: folder.copies.filter((c) => !duplicates.has(messagePath(folder.dir, c))) }));
  const needsWrite = work.some((w) => w.copies.length > 0 || w.folder.renames.length > 0 || w.folder.isNew || w.folder.missingSubdirs.length > 0);
  if (!needsWrite) return applied;
  const owner = await readOwner(tree.target);
  const leftovers = await removeDeadStagingDirs(tree.target);
  if (leftovers > 0) logger.info(`removed ${leftovers} staging folder(s) that an interrupted resync left in the target's tmp/`);

  const creation = planFolderCreation(work.map((w) => w.folder));
  if (creation.dirs.length > 0) await createDirs(tree.target, creation.dirs, owner);

  // Keyword tables that gained letters, before any file uses them.
  const deferredFolders = new Set<string>();
  for (const { folder } of work) {
    if (!folder.keywordUpdate || folder.isNew) continue;
    const ok = await writeKeywordTable(tree.target, folder.dir, keywords.target.get(folder.dir) ?? new Map(), folder.keywordUpdate, owner, options);
    if (!ok) {
      deferredFolders.add(folder.dir);
      warnings.push(`${displayFolder(folder.dir, tree.layout)}: the target's dovecot-keywords changed or is locked; messages that need new keyword letters wait for the next run`);
    }
  }

  // Direct copies (names unchanged) in one rsync; translated ones through tmp/.
  const copies = partitionCopies(work, deferredFolders);
  applied.deferred += copies.deferred;
  const direct = [...creation.files, ...copies.direct];
  const countCopied = (dir: string, n = 1) => applied.copied.set(dir, (applied.copied.get(dir) ?? 0) + n);
  if (direct.length > 0) {
    // Counted from rsync's own item list: what it really created, per folder. When rsync dies (a full disk) its
    // items run ahead of what was written, so the items that are really on the target are counted instead.
    const itemized = new Set<string>();
    const countMessage = (relPath: string) => {
      const parts = relPath.split('/');
      const sub = parts[parts.length - 2];
      if (sub === 'cur' || sub === 'new') countCopied(parts.slice(0, -2).join('/'));
    };
    const result = await rsyncList(tree.source, tree.target, tree.source.root, tree.target.root, direct, owner, options, logger, (item) => {
      if (item.type === 'file') itemized.add(item.path);
    });
    applied.rsync = result;
    if (result.exit.outcome !== 'ok' && result.exit.outcome !== 'vanished') {
      // A target that cannot be listed (the connection is gone) counts nothing as copied: rsync's items are no
      // proof, and the next run copies whatever is missing anyway.
      const arrived = await listArrivedFiles(tree.target.host.exec, tree.target.root, itemized, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
      for (const relPath of arrived?.paths ?? []) countMessage(relPath);
      applied.bytes += arrived?.bytes ?? 0;
      const cause = result.exit.hint ? '' : result.stderrTail ? `: ${result.stderrTail.trim().split('\n').pop()}` : '';
      logger.error(`rsync: ${result.exit.meaning}${cause}; ${arrived ? `${arrived.paths.length} file(s) arrived` : 'the target could not be listed to count what arrived (counted as none; run again)'}`);
    } else {
      for (const relPath of itemized) countMessage(relPath);
      applied.bytes += result.stats.transferredFileSizeBytes ?? 0;
    }
  }
  if (copies.translated.length > 0 && applied.rsync?.exit.outcome !== 'network' && applied.rsync?.exit.outcome !== 'config') {
    const moved = await copyThroughTmp(tree, copies.translated, owner, options, logger, warnings);
    for (const [dir, n] of moved.perFolder) countCopied(dir, n);
    applied.bytes += moved.bytes;
    if (!applied.rsync || moved.rsync.exit.outcome !== 'ok') applied.rsync = moved.rsync;
  }

  // Folders created by this run: subscribed when the source subscribes to them.
  const newFolders = work.filter((w) => w.folder.isNew).map((w) => w.folder.dir);
  if (newFolders.length > 0) applied.subscribed = await subscribeNewFolders(tree, newFolders, owner, options, warnings);

  // Flag renames on the target.
  const renames: { dir: string; rename: RenameItem }[] = [];
  for (const { folder } of work) {
    if (deferredFolders.has(folder.dir)) {
      applied.deferred += folder.renames.length;
      continue;
    }
    for (const rename of folder.renames) renames.push({ dir: folder.dir, rename });
  }
  if (renames.length > 0) {
    const pairs = renames.map(({ dir, rename }) => ({ dir, from: messagePath(dir, rename.from), to: messagePath(dir, rename.to) }));
    const done = await renameNoClobber(tree.target, pairs, options);
    for (const pair of done) applied.renamed.set(pair.dir, (applied.renamed.get(pair.dir) ?? 0) + 1);
    if (done.length < pairs.length) warnings.push(`${pairs.length - done.length} flag rename(s) not applied: the target file changed meanwhile (run again)`);
    applied.deferred += pairs.length - done.length;
  }
  return applied;
}

/**
 * What creating the planned folders takes on the target, parents first: `dirs` (a new folder, its cur/ new/ tmp/,
 * and for a cPanel mailbox new on the source (DOMAIN/LOCAL) its domain directory; an existing folder's missing
 * subdirectories) and `files` the new folders take along from the source (maildirfolder, and dovecot-keywords, which
 * the letters in their names need). Pure.
 */
export function planFolderCreation(folders: readonly FolderPlan[]): { dirs: string[]; files: string[] } {
  const dirs: string[] = [];
  const files: string[] = [];
  const createdMailboxParents = new Set<string>();
  const sub = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);
  for (const folder of folders) {
    if (!folder.isNew) {
      for (const name of folder.missingSubdirs) dirs.push(sub(folder.dir, name));
      continue;
    }
    const parts = folder.dir.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!createdMailboxParents.has(parent)) {
        createdMailboxParents.add(parent);
        dirs.push(parent);
      }
    }
    if (folder.dir !== '') dirs.push(folder.dir);
    for (const name of ['cur', 'new', 'tmp']) dirs.push(sub(folder.dir, name));
    files.push(sub(folder.dir, 'maildirfolder'), sub(folder.dir, 'dovecot-keywords'));
  }
  return { dirs, files };
}

/**
 * Splits the copies: `direct` (relative paths whose name stays as it is: one rsync), `translated` (keyword letters
 * change: through tmp/ and a rename), and `deferred`, the count of translated ones in a folder whose keyword table
 * could not be written (they wait for the next run). Pure.
 */
export function partitionCopies(
  work: readonly FolderWork[],
  deferredFolders: ReadonlySet<string>,
): { direct: string[]; translated: { folder: FolderPlan; copy: CopyItem }[]; deferred: number } {
  const direct: string[] = [];
  const translated: { folder: FolderPlan; copy: CopyItem }[] = [];
  let deferred = 0;
  for (const { folder, copies } of work) {
    for (const copy of copies) {
      if (copy.targetName === copy.name) direct.push(messagePath(folder.dir, copy));
      else if (deferredFolders.has(folder.dir)) deferred += 1;
      else translated.push({ folder, copy });
    }
  }
  return { direct, translated, deferred };
}

async function rsyncList(
  from: ResyncSide,
  to: ResyncSide,
  fromPath: string,
  toPath: string,
  relPaths: readonly string[],
  owner: Owner,
  options: ApplyOptions,
  logger: Logger,
  onItem?: (item: ItemizedChange) => void,
): Promise<RsyncRunResult> {
  const argv = buildRsyncArgv({
    source: rsyncEndpointOf(from, fromPath),
    target: rsyncEndpointOf(to, toPath),
    // Only for transfers into the tree root, where 'tmp' names the root mailbox's tmp/.
    ...(options.tempDir && toPath === to.root ? { tempDir: options.tempDir } : {}),
    ...(options.ssh ? { ssh: options.ssh } : {}),
    filesFromStdin: true,
    ignoreMissingArgs: true,
    ignoreExisting: true,
    noImpliedDirs: true,
    numericIds: true,
    ...(owner.canChown ? { chown: { uid: owner.uid, gid: owner.gid } } : {}),
    ...(options.bwlimitKiBps !== undefined ? { bwlimitKiBps: options.bwlimitKiBps } : {}),
    ioTimeoutS: options.ioTimeoutS ?? 120,
  });
  logger.debug(`rsync ${relPaths.length} file(s): ${JSON.stringify(argv)}`);
  return runRsync({
    argv,
    stdin: Buffer.from(relPaths.map((p) => `${p}\u0000`).join(''), 'utf8'),
    retries: options.retries ?? 3,
    retryBaseDelayMs: options.retryBaseDelayMs ?? 2000,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(onItem ? { onItem } : {}),
    onRetry: ({ attempt, delayMs, exit }) => logger.warn(`rsync: ${exit.meaning}; retry ${attempt} in ${Math.round(delayMs / 1000)} s`),
  });
}

/**
 * Messages whose name changes on the way (keyword letters translated): rsync them into a private directory under the
 * target root's tmp/ (same filesystem), then rename each into its folder under its final name.
 */
async function copyThroughTmp(
  tree: ResyncTree,
  items: readonly { folder: FolderPlan; copy: CopyItem }[],
  owner: Owner,
  options: ApplyOptions,
  logger: Logger,
  warnings: string[],
): Promise<{ perFolder: Map<string, number>; bytes: number; rsync: RsyncRunResult }> {
  const stagingRel = `tmp/${buildStagingDirName(process.pid, Date.now())}`;
  const stagingAbs = path.posix.join(tree.target.root, stagingRel);
  await createDirs(tree.target, ['tmp', stagingRel], owner);
  const rels = items.map(({ folder, copy }) => messagePath(folder.dir, copy));
  const result = await rsyncList(tree.source, tree.target, tree.source.root, stagingAbs, rels, owner, options, logger);
  const pairs = items.map(({ folder, copy }) => ({
    dir: folder.dir,
    from: `${stagingRel}/${messagePath(folder.dir, copy)}`,
    to: messagePath(folder.dir, { sub: copy.sub, name: copy.targetName }),
  }));
  const perFolder = new Map<string, number>();
  const done = await renameNoClobber(tree.target, pairs, options);
  for (const pair of done) perFolder.set(pair.dir, (perFolder.get(pair.dir) ?? 0) + 1);
  if (done.length < pairs.length) warnings.push(`${pairs.length - done.length} message(s) with translated keywords not placed (run again)`);
  // Only our own staging directory (its name is ours alone) is removed.
  await removeOwnDir(tree.target, stagingAbs);
  return { perFolder, bytes: result.stats.transferredFileSizeBytes ?? 0, rsync: result };
}
