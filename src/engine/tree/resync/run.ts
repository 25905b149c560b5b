import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InterruptedError, MailshiftError, UsageError, throwIfAborted } from '../../../core/errors.js';
import { ExitCode } from '../../../core/exit-codes.js';
import { silentLogger, type Logger } from '../../../core/logger.js';
import { diagnoseLocalTargetDir } from '../../../fsops/target-dir.js';
import type { FileSide } from '../../../hosts/side.js';
import { formatSpec, type StoreSpec } from '../../../stores/spec.js';
import { applyPlan, emptyApplied, type Applied } from './apply.js';
import { findDuplicates } from './dedupe.js';
import { resolveResyncSide } from './ends.js';
import { readKeywordTables } from './keywords.js';
import { decideChangedFolders, listMaildirTree, readTreeStamps, type ListScope, type TreeListingResult } from './list.js';
import type { ResyncOptions, ResyncTree } from './options.js';
import { diffSourceListings, planResync, type SourceChange } from './plan.js';
import { buildFolderReports, decideResyncExit, displayFolder, sumResyncTotals, type ResyncReport } from './report.js';
import { refuseUnsafeAllocations } from './safety.js';

/**
 * `mailshift resync`: after a copy (and after the MX switch), bring the target up to date with what the source got
 * since, without ever duplicating, deleting or overwriting a message. See plan.ts for the decisions.
 *
 * Order of work, and why:
 * 1. list both sides by name (list.ts), read keyword tables where file names carry keyword letters (keywords.ts);
 * 2. plan (plan.ts, pure), leave out what safety.ts refuses; drop the candidates that are duplicates of mail
 *    delivered to both servers (dedupe.ts);
 * 3-6. write the target (apply.ts): folders and keyword tables first, then the files, then flag renames;
 * 7. list the source again: anything new or renamed since step 1 means "run again" (exit 5).
 * The target's dovecot-uidlist is never written: Dovecot gives the new files new UIDs itself.
 * Where the ends are and every file operation on them beyond rsync and listings: ends.ts (on the ends' FileSides).
 */

export async function resolveResyncTree(source: StoreSpec, target: StoreSpec, options: Pick<ResyncOptions, 'ssh'> = {}): Promise<ResyncTree> {
  for (const spec of [source, target]) {
    if (spec.kind === 'imap') {
      throw new UsageError(
        'this follows maildir trees (local or over ssh); an IMAP account is not a file tree',
        'give the imaps:// URL to `mailshift resync` or `mailshift watch`: with an IMAP end they copy over IMAP, not through this file-tree resync',
      );
    }
    if (spec.kind === 'mbox') throw new UsageError('resync works on maildir trees', 'convert mbox with mailshift convert first');
    if (spec.kind === 'archive') throw new UsageError('resync works on maildir trees; a cPanel backup is restored with mailshift copy', 'run mailshift copy BACKUP TARGET (a re-run adds only what is missing)');
  }
  if (source.kind === 'imap' || source.kind === 'mbox' || source.kind === 'archive' || target.kind === 'imap' || target.kind === 'mbox' || target.kind === 'archive') throw new Error('unreachable');
  if (source.location.type === 'ssh' && target.location.type === 'ssh') {
    throw new UsageError('both ends are remote; rsync copies between this machine and one remote host', 'run mailshift on the source or the target server');
  }
  const labels = { sourceLabel: formatSpec(source), targetLabel: formatSpec(target) };
  const isAccount = (s: StoreSpec) => s.kind === 'cpanel' && !s.mailbox;
  if (isAccount(source) !== isAccount(target)) {
    throw new UsageError('a whole cPanel account resyncs only with a whole cPanel account', 'name both sides as cpanel:ROOT#USER, or one mailbox on each side');
  }
  return {
    source: await resolveResyncSide(source, 'source', options),
    target: await resolveResyncSide(target, 'target', options),
    layout: isAccount(source) ? 'cpanel-mail' : 'maildir',
    ...labels,
  };
}

export async function runResync(source: StoreSpec, target: StoreSpec, options: ResyncOptions = {}): Promise<ResyncReport> {
  const tree = await resolveResyncTree(source, target, options);
  return runResyncTree(tree, options);
}

export async function runResyncTree(tree: ResyncTree, options: ResyncOptions = {}): Promise<ResyncReport> {
  const started = Date.now();
  const logger = options.logger ?? silentLogger;
  const flags = options.flags ?? 'target';
  const dedupe = options.dedupe ?? true;
  const dryRun = Boolean(options.dryRun);
  const signal = options.signal;
  const scope = { ...(options.onlyFolders ? { folders: options.onlyFolders } : {}), ...(signal ? { signal } : {}) };
  const warnings: string[] = [];

  const phase = createPhaseTimer(logger);
  const [sourceListing, targetListing] = await Promise.all([
    listMaildirTree(tree.source.host, tree.source.root, tree.layout, scope),
    listMaildirTree(tree.target.host, tree.target.root, tree.layout, scope),
  ]);
  phase('listed both sides');
  if (!sourceListing.exists) {
    throw new MailshiftError('MAILSHIFT_RESYNC_NO_SOURCE', `source ${tree.sourceLabel}: ${tree.source.root} does not exist`, { hint: 'check the source path', exitCode: ExitCode.config });
  }
  if (!targetListing.exists) {
    // A path that is there but is a file (or a link) is not "missing": say what it is.
    if (!tree.target.host.ssh) {
      const notDir = await diagnoseLocalTargetDir(tree.target.root);
      if (notDir && notDir.code === 'MAILSHIFT_TARGET_NOT_DIR') throw notDir;
    }
    throw new MailshiftError('MAILSHIFT_RESYNC_NO_TARGET', `target ${tree.targetLabel}: ${tree.target.root} does not exist`, {
      hint: 'resync catches up after a copy; run mailshift copy first',
      exitCode: ExitCode.config,
    });
  }
  for (const listing of [sourceListing, targetListing]) for (const error of listing.errors) warnings.push(`listing incomplete: ${error}`);
  if (sourceListing.ignoredEntries > 0) warnings.push(`${sourceListing.ignoredEntries} entries in the source's new/ or cur/ are not message files (links, dot files) and were ignored`);

  const staging = await mkdtemp(path.join(os.tmpdir(), 'mailshift-resync-'));
  try {
    throwIfAborted(signal);
    const keywords = await readKeywordTables(tree, sourceListing, targetListing, options);
    const plan = await refuseUnsafeAllocations(
      tree.source.host,
      tree.source.root,
      planResync({ source: sourceListing, target: targetListing, flags, keywords, ...(options.onlyFolders ? { onlyFolders: options.onlyFolders } : {}) }),
      signal,
    );
    phase('planned');
    const duplicates = dedupe ? await findDuplicates(tree, plan, staging, options, logger) : new Set<string>();
    phase('dedupe');
    for (const folder of plan.folders) {
      if (folder.droppedKeywords.length > 0) warnings.push(`${displayFolder(folder.dir, tree.layout)}: no free keyword letter on the target for ${folder.droppedKeywords.join(', ')}; left out of the file names`);
      if (folder.sourceDuplicateBases > 0) warnings.push(`${displayFolder(folder.dir, tree.layout)}: ${folder.sourceDuplicateBases} base name(s) twice on the source (new/ and cur/); copied once`);
    }

    let applied: Applied = emptyApplied();
    // rsync writes each file under the target's own tmp/ and renames it into place: a killed transfer leaves nothing
    // half-written in cur/ or new/ (Dovecot ignores tmp/ and cleans it after 36 hours).
    const tempDir = targetListing.folders.get('')?.subdirs.has('tmp') ? 'tmp' : undefined;
    if (!dryRun) applied = await applyPlan(tree, plan, duplicates, keywords, { ...options, ...(tempDir ? { tempDir } : {}) }, logger, warnings);

    phase('applied');
    await options.onApplied?.();
    let sourceChange: SourceChange | undefined;
    // Interrupted after the target was written: report what was done rather than fail; the check is for next time.
    if (!dryRun && (options.recheckSource ?? true) && !signal?.aborted) {
      try {
        sourceChange = await readSourceChange(tree.source.host, tree, sourceListing, scope);
      } catch (err) {
        if (!(err instanceof InterruptedError)) throw err;
      }
    }
    phase('source listed again');
    const vanished = applied.rsync?.exit.outcome === 'vanished';
    const sourceChanged = Boolean(sourceChange && (sourceChange.added > 0 || sourceChange.renamed > 0)) || vanished || applied.deferred > 0;

    const folders = buildFolderReports(plan, duplicates, applied, { dryRun, layout: tree.layout });
    const rsync = applied.rsync;
    return {
      source: tree.sourceLabel,
      target: tree.targetLabel,
      dryRun,
      flags,
      dedupe,
      totals: sumResyncTotals(folders, applied.bytes),
      folders,
      skippedFolders: plan.skippedFolders.map((s) => ({ folder: displayFolder(s.dir, tree.layout), reason: s.reason })),
      sourceChanged,
      ...(sourceChange ? { sourceChange } : {}),
      ...(rsync ? { rsync: { outcome: rsync.exit.outcome, meaning: rsync.exit.meaning, attempts: rsync.attempts, ...(rsync.exit.hint ? { hint: rsync.exit.hint } : {}) } } : {}),
      warnings,
      durationMs: Date.now() - started,
      exitCode: decideResyncExit(rsync?.exit.outcome, sourceChanged, plan.skippedFolders.length > 0),
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Step 7. Cheap first: the mtimes of the source's new/ and cur/ directories; only folders whose stamp moved are
 * listed again to say what changed.
 */
async function readSourceChange(source: FileSide, tree: ResyncTree, before: TreeListingResult, scope: ListScope): Promise<SourceChange> {
  const changed = decideChangedFolders(before.stamps, await readTreeStamps(source, tree.source.root, tree.layout, scope));
  if (changed.size === 0) return { added: 0, renamed: 0, removed: 0 };
  const again = await listMaildirTree(source, tree.source.root, tree.layout, { ...scope, folders: changed });
  return diffSourceListings(before, again, changed);
}

/** Logs (at debug level) how long each step took since the previous one. */
function createPhaseTimer(logger: Logger): (what: string) => void {
  let last = performance.now();
  return (what) => {
    const now = performance.now();
    logger.debug(`resync: ${what} in ${Math.round(now - last)} ms`);
    last = now;
  };
}
