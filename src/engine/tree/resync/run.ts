import { constants as fsConstants } from 'node:fs';
import { chmod, lchown, lstat, mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FolderNameError, maildirppToMailboxPath } from '../../../../converters/folders/maildirpp.js';
import { Mutf7Error } from '../../../../converters/folders/mutf7.js';
import { formatDovecotKeywords, parseDovecotKeywords, type KeywordTable } from '../../../../converters/maildir/keywords.js';
import { InterruptedError, MailshiftError, UsageError, systemErrorCode, throwIfAborted } from '../../../core/errors.js';
import { ExitCode, type ExitCodeValue } from '../../../core/exit-codes.js';
import { silentLogger, type Logger } from '../../../core/logger.js';
import { formatSpec, type Location, type StoreSpec } from '../../../stores/spec.js';
import { runExec, type ExecTarget } from '../../../transport/exec.js';
import { buildRsyncArgv, type RsyncEndpoint } from '../../../transport/rsync/args.js';
import type { RsyncOutcome } from '../../../transport/rsync/exit.js';
import type { ItemizedChange } from '../../../transport/rsync/itemize.js';
import { runRsync, type RsyncRunResult } from '../../../transport/rsync/run.js';
import { listArrivedFiles } from '../../../transport/rsync/arrived.js';
import { classifyRemoteMkdirFailure, diagnoseLocalTargetDir, targetWriteError } from '../../../fsops/target-dir.js';
import type { SshEndpoint, SshOptions } from '../../../transport/ssh.js';
import { readRemoteSmallFiles, readSmallRegularFile } from './ends.js';
import { decideChangedFolders, listMaildirTree, readTreeStamps, type TreeLayout, type TreeListingResult } from './list.js';
import { refuseUnsafeAllocations } from './safety.js';
import {
  decideDuplicates,
  decideSubscriptionAdditions,
  diffSourceListings,
  infoOf,
  matchByMessageId,
  messagePath,
  planResync,
  type CopyItem,
  type FlagsMode,
  type FolderPlan,
  type KeywordTables,
  type RenameItem,
  type ResyncPlan,
  type SourceChange,
  type TreeListing,
} from './plan.js';

/**
 * `mailshift resync`: after a copy (and after the MX switch), bring the target up to date with what the source got
 * since, without ever duplicating, deleting or overwriting a message. See resync-plan.ts for the decisions.
 *
 * Order of work, and why:
 * 1. list both sides by name (resync-list.ts), read keyword tables where file names carry keyword letters;
 * 2. plan (pure); drop the candidates that are duplicates of mail delivered to both servers (resync-dedupe.ts);
 * 3. create new folders, write keyword tables that gained a letter (before any file uses the letter);
 * 4. one rsync with --files-from for every message whose name stays as it is (--ignore-existing: never overwrite;
 *    --no-implied-dirs: the target's directories keep their mtimes, which Dovecot watches);
 * 5. messages whose keyword letters change go through the target's tmp/ and are renamed into place (maildir's own
 *    delivery protocol: a client never sees a half-written file or a wrong keyword);
 * 6. flag renames (--flags=source|merge): one rename of the target file each, never a second copy;
 * 7. list the source again: anything new or renamed since step 1 means "run again" (exit 5).
 * The target's dovecot-uidlist is never written: Dovecot gives the new files new UIDs itself.
 */

export interface ResyncSide {
  readonly root: string;
  readonly ssh?: SshEndpoint;
}

export interface ResyncTree {
  readonly source: ResyncSide;
  readonly target: ResyncSide;
  readonly layout: TreeLayout;
  /** For the report. */
  readonly sourceLabel: string;
  readonly targetLabel: string;
}

export interface ResyncOptions {
  readonly flags?: FlagsMode;
  /** Recognise mail delivered to both servers (default true). */
  readonly dedupe?: boolean;
  readonly dryRun?: boolean;
  readonly ssh?: SshOptions;
  readonly retries?: number;
  readonly retryBaseDelayMs?: number;
  readonly ioTimeoutS?: number;
  readonly bwlimitKiBps?: number;
  /** Only these folders (relative dirs, '' = INBOX): watch mode. */
  readonly onlyFolders?: ReadonlySet<string>;
  /** List the source again after copying to tell whether it changed (default true). */
  readonly recheckSource?: boolean;
  /** Called after the target was written, before the source is listed again (progress, logs; tests use it). */
  readonly onApplied?: () => Promise<void> | void;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

export interface FolderReport {
  /** Display name: INBOX, Sent, Work/Projects; for cPanel mailboxes info@example.com:Sent. */
  readonly folder: string;
  /** Directory relative to the tree root. */
  readonly dir: string;
  readonly added: boolean;
  /** A folder added by this run that the source subscribes to was subscribed on the target too. */
  readonly subscribed: boolean;
  readonly copied: number;
  /** Messages the plan meant to copy that did not arrive (rsync failed, a full disk): the next run copies them. */
  readonly notCopied: number;
  readonly alreadyPresent: number;
  readonly duplicatesSkipped: number;
  readonly flagDifferences: number;
  readonly flagsApplied: number;
  readonly targetOnly: number;
  readonly keywordsDropped: readonly string[];
}

export interface ResyncTotals {
  copied: number;
  notCopied: number;
  alreadyPresent: number;
  duplicatesSkipped: number;
  flagDifferences: number;
  flagsApplied: number;
  foldersAdded: number;
  targetOnly: number;
  bytesCopied: number;
}

export interface ResyncReport {
  readonly source: string;
  readonly target: string;
  readonly dryRun: boolean;
  readonly flags: FlagsMode;
  readonly dedupe: boolean;
  readonly totals: ResyncTotals;
  /** Folders where something happened or differs (every folder with --debug-level detail is in the JSON). */
  readonly folders: FolderReport[];
  readonly skippedFolders: { folder: string; reason: string }[];
  readonly sourceChanged: boolean;
  readonly sourceChange?: SourceChange;
  readonly rsync?: { outcome: RsyncOutcome; meaning: string; attempts: number; hint?: string };
  readonly warnings: string[];
  readonly durationMs: number;
  readonly exitCode: ExitCodeValue;
}

// ---------------------------------------------------------------------------------------------------------------
// Resolving specs into trees

function sshOf(location: Location): SshEndpoint | undefined {
  if (location.type !== 'ssh') return undefined;
  return { host: location.host, ...(location.user ? { user: location.user } : {}), ...(location.port ? { port: location.port } : {}) };
}

function execOf(side: ResyncSide, ssh: SshOptions | undefined): ExecTarget {
  return side.ssh ? { ssh: side.ssh, ...(ssh ? { sshOptions: ssh } : {}) } : {};
}

export async function resolveResyncTree(source: StoreSpec, target: StoreSpec, options: Pick<ResyncOptions, 'ssh'> = {}): Promise<ResyncTree> {
  for (const spec of [source, target]) {
    if (spec.kind === 'imap') {
      throw new UsageError(
        'this follows maildir trees (local or over ssh); an IMAP account is not a file tree',
        'give the imaps:// URL to `mailshift resync` or `mailshift watch`: with an IMAP end they copy over IMAP, not through this file-tree resync',
      );
    }
    if (spec.kind === 'mbox') throw new UsageError('resync works on maildir trees', 'convert mbox with mailshift convert first');
  }
  if (source.kind === 'imap' || source.kind === 'mbox' || target.kind === 'imap' || target.kind === 'mbox') throw new Error('unreachable');
  if (source.location.type === 'ssh' && target.location.type === 'ssh') {
    throw new UsageError('both ends are remote; rsync copies between this machine and one remote host', 'run mailshift on the source or the target server');
  }
  const labels = { sourceLabel: formatSpec(source), targetLabel: formatSpec(target) };
  const isAccount = (s: StoreSpec) => s.kind === 'cpanel' && !s.mailbox;
  if (isAccount(source) !== isAccount(target)) {
    throw new UsageError('a whole cPanel account resyncs only with a whole cPanel account', 'name both sides as cpanel:ROOT#USER, or one mailbox on each side');
  }
  const side = async (spec: Exclude<StoreSpec, { kind: 'imap' | 'mbox' }>, which: 'source' | 'target'): Promise<ResyncSide> => {
    const ssh = sshOf(spec.location);
    const base = ssh ? { ssh } : {};
    if (spec.kind !== 'cpanel') return { root: spec.path, ...base };
    const exec: ExecTarget = ssh ? { ssh, ...(options.ssh ? { sshOptions: options.ssh } : {}) } : {};
    // Loaded for cPanel specs only: start-up time counts at 100,000 messages (a resync is ~1 s).
    const { findDomainOwner, readSystemFile, resolveCpanelHome } = await import('../../run-copy.js');
    if (!spec.mailbox) {
      const home = await resolveCpanelHome(exec, spec.root, spec.user);
      return { root: path.posix.join(home.home, 'mail'), ...base };
    }
    const userdomains = (await readSystemFile(exec, path.posix.join(spec.root, 'etc/userdomains'))) ?? '';
    const owner = findDomainOwner(userdomains, spec.mailbox.domain);
    if (!owner) {
      throw new MailshiftError('MAILSHIFT_CPANEL_DOMAIN_UNKNOWN', `${which}: no cPanel account owns ${spec.mailbox.domain} in ${path.posix.join(spec.root, 'etc/userdomains')}`, {
        hint: 'check the domain name and the cPanel root',
        exitCode: ExitCode.config,
      });
    }
    const home = await resolveCpanelHome(exec, spec.root, owner);
    return { root: path.posix.join(home.home, 'mail', spec.mailbox.domain, spec.mailbox.localPart), ...base };
  };
  return {
    source: await side(source, 'source'),
    target: await side(target, 'target'),
    layout: isAccount(source) ? 'cpanel-mail' : 'maildir',
    ...labels,
  };
}

export async function runResync(source: StoreSpec, target: StoreSpec, options: ResyncOptions = {}): Promise<ResyncReport> {
  const tree = await resolveResyncTree(source, target, options);
  return runResyncTree(tree, options);
}

// ---------------------------------------------------------------------------------------------------------------
// One run

export async function runResyncTree(tree: ResyncTree, options: ResyncOptions = {}): Promise<ResyncReport> {
  const started = Date.now();
  const logger = options.logger ?? silentLogger;
  const flags = options.flags ?? 'target';
  const dedupe = options.dedupe ?? true;
  const dryRun = Boolean(options.dryRun);
  const signal = options.signal;
  const srcExec = execOf(tree.source, options.ssh);
  const dstExec = execOf(tree.target, options.ssh);
  const scope = { ...(options.onlyFolders ? { folders: options.onlyFolders } : {}), ...(signal ? { signal } : {}) };
  const warnings: string[] = [];

  const phase = createPhaseTimer(logger);
  const [sourceListing, targetListing] = await Promise.all([
    listMaildirTree(srcExec, tree.source.root, tree.layout, scope),
    listMaildirTree(dstExec, tree.target.root, tree.layout, scope),
  ]);
  phase('listed both sides');
  if (!sourceListing.exists) {
    throw new MailshiftError('MAILSHIFT_RESYNC_NO_SOURCE', `source ${tree.sourceLabel}: ${tree.source.root} does not exist`, { hint: 'check the source path', exitCode: ExitCode.config });
  }
  if (!targetListing.exists) {
    // A path that is there but is a file (or a link) is not "missing": say what it is.
    if (!tree.target.ssh) {
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
      srcExec,
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

    let applied: Applied = { copied: new Map<string, number>(), renamed: new Map<string, number>(), bytes: 0, rsync: undefined, deferred: 0 };
    // rsync writes each file under the target's own tmp/ and renames it into place: a killed transfer leaves nothing
    // half-written in cur/ or new/ (Dovecot ignores tmp/ and cleans it after 36 hours).
    const tempDir = targetListing.folders.get('')?.subdirs.has('tmp') ? 'tmp' : undefined;
    if (!dryRun) applied = await applyPlan(tree, plan, duplicates, keywords, staging, { ...options, ...(tempDir ? { tempDir } : {}) }, logger, warnings);

    phase('applied');
    await options.onApplied?.();
    let sourceChange: SourceChange | undefined;
    // Interrupted after the target was written: report what was done rather than fail; the check is for next time.
    if (!dryRun && (options.recheckSource ?? true) && !signal?.aborted) {
      try {
        // Cheap first: the mtimes of the source's new/ and cur/ directories; only folders whose stamp moved are
        // listed again to say what changed.
        const changed = decideChangedFolders(sourceListing.stamps, await readTreeStamps(srcExec, tree.source.root, tree.layout, scope));
        if (changed.size === 0) {
          sourceChange = { added: 0, renamed: 0, removed: 0 };
        } else {
          const again = await listMaildirTree(srcExec, tree.source.root, tree.layout, { ...scope, folders: changed });
          sourceChange = diffSourceListings(sourceListing, again, changed);
        }
      } catch (err) {
        if (!(err instanceof InterruptedError)) throw err;
      }
    }
    phase('source listed again');
    const vanished = applied.rsync?.exit.outcome === 'vanished';
    const sourceChanged = Boolean(sourceChange && (sourceChange.added > 0 || sourceChange.renamed > 0)) || vanished || applied.deferred > 0;

    const folders: FolderReport[] = plan.folders.map((folder) => {
      const dups = folder.copies.filter((c) => duplicates.has(messagePath(folder.dir, c))).length;
      const copied = dryRun ? folder.copies.length - dups : (applied.copied.get(folder.dir) ?? 0);
      return {
        folder: displayFolder(folder.dir, tree.layout),
        dir: folder.dir,
        added: folder.isNew,
        subscribed: applied.subscribed?.has(folder.dir) ?? false,
        copied,
        notCopied: Math.max(0, folder.copies.length - dups - copied),
        alreadyPresent: folder.alreadyPresent,
        duplicatesSkipped: dups,
        flagDifferences: folder.flagDifferences.length,
        flagsApplied: dryRun ? folder.renames.length : (applied.renamed.get(folder.dir) ?? 0),
        targetOnly: folder.targetOnly.length,
        keywordsDropped: folder.droppedKeywords,
      };
    });
    const totals: ResyncTotals = {
      copied: sum(folders, (f) => f.copied),
      notCopied: sum(folders, (f) => f.notCopied),
      alreadyPresent: sum(folders, (f) => f.alreadyPresent),
      duplicatesSkipped: sum(folders, (f) => f.duplicatesSkipped),
      flagDifferences: sum(folders, (f) => f.flagDifferences),
      flagsApplied: sum(folders, (f) => f.flagsApplied),
      foldersAdded: folders.filter((f) => f.added).length,
      targetOnly: sum(folders, (f) => f.targetOnly),
      bytesCopied: applied.bytes,
    };
    const rsync = applied.rsync;
    const exitCode = decideResyncExit(rsync?.exit.outcome, sourceChanged, plan.skippedFolders.length > 0);
    return {
      source: tree.sourceLabel,
      target: tree.targetLabel,
      dryRun,
      flags,
      dedupe,
      totals,
      folders: folders.sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : 0)),
      skippedFolders: plan.skippedFolders.map((s) => ({ folder: displayFolder(s.dir, tree.layout), reason: s.reason })),
      sourceChanged,
      ...(sourceChange ? { sourceChange } : {}),
      ...(rsync ? { rsync: { outcome: rsync.exit.outcome, meaning: rsync.exit.meaning, attempts: rsync.attempts, ...(rsync.exit.hint ? { hint: rsync.exit.hint } : {}) } } : {}),
      warnings,
      durationMs: Date.now() - started,
      exitCode,
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
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

/** Failures first (they need a person), then "run again", then partial (folders we refused to write into). */
export function decideResyncExit(outcome: RsyncOutcome | undefined, sourceChanged: boolean, hasSkippedFolders: boolean): ExitCodeValue {
  if (outcome === 'config') return ExitCode.config;
  if (outcome === 'fatal') return ExitCode.failed;
  if (outcome === 'network') return ExitCode.tempFail;
  if (outcome === 'partial') return ExitCode.partial;
  if (sourceChanged) return ExitCode.sourceChanged;
  if (hasSkippedFolders) return ExitCode.partial;
  return ExitCode.ok;
}

function sum<T>(items: readonly T[], pick: (item: T) => number): number {
  return items.reduce((total, item) => total + pick(item), 0);
}

/** INBOX, Work/Projects; cPanel mailboxes as info@example.com:Sent. Undecodable names are shown raw. */
export function displayFolder(dir: string, layout: TreeLayout): string {
  let mailbox = '';
  let folderDir = dir;
  if (layout === 'cpanel-mail') {
    const parts = dir.split('/');
    if (parts.length >= 2 && !parts[0]!.startsWith('.')) {
      mailbox = `${parts[1]}@${parts[0]}:`;
      folderDir = parts.slice(2).join('/');
    }
  }
  if (folderDir === '') return `${mailbox}INBOX`;
  try {
    return `${mailbox}${maildirppToMailboxPath(folderDir)}`;
  } catch (err) {
    if (err instanceof FolderNameError || err instanceof Mutf7Error) return `${mailbox}${folderDir}`;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Keyword tables

function hasKeywordLetters(name: string): boolean {
  const info = infoOf(name);
  return info !== undefined && /[a-z]/.test(info.split(',')[0] ?? '');
}

/** Folders whose file names use keyword letters on either side: only their dovecot-keywords are read. */
export function foldersNeedingKeywords(source: TreeListing, target: TreeListing): Set<string> {
  const dirs = new Set<string>();
  for (const listing of [source, target]) {
    for (const [dir, folder] of listing.folders) {
      if (folder.hasKeywordsFile && folder.messages.some((m) => hasKeywordLetters(m.name))) dirs.add(dir);
    }
  }
  return dirs;
}

async function readKeywordTables(tree: ResyncTree, source: TreeListingResult, target: TreeListingResult, options: ResyncOptions): Promise<KeywordTables> {
  const needed = foldersNeedingKeywords(source, target);
  const [sourceTables, targetTables] = await Promise.all([readKeywordFiles(tree.source, source, needed, options), readKeywordFiles(tree.target, target, needed, options)]);
  // A folder new on the target receives the source's dovecot-keywords with its messages: same letters, no renames.
  for (const [dir, table] of sourceTables) if (!target.folders.has(dir)) targetTables.set(dir, table);
  return { source: sourceTables, target: targetTables };
}

async function readKeywordFiles(side: ResyncSide, listing: TreeListing, needed: ReadonlySet<string>, options: ResyncOptions): Promise<Map<string, KeywordTable>> {
  const tables = new Map<string, KeywordTable>();
  const wanted = [...needed].filter((dir) => listing.folders.get(dir)?.hasKeywordsFile);
  if (wanted.length === 0) return tables;
  const rel = (dir: string) => (dir === '' ? 'dovecot-keywords' : `${dir}/dovecot-keywords`);
  if (side.ssh) {
    const texts = await readRemoteSmallFiles(execOf(side, options.ssh), side.root, wanted.map(rel), options.signal);
    for (const dir of wanted) {
      const text = texts.get(rel(dir));
      if (text !== undefined) tables.set(dir, parseDovecotKeywords(text));
    }
    return tables;
  }
  for (const dir of wanted) {
    const text = await readSmallRegularFile(path.join(side.root, rel(dir)));
    if (text !== undefined) tables.set(dir, parseDovecotKeywords(text));
  }
  return tables;
}

// ---------------------------------------------------------------------------------------------------------------
// Dedupe

async function findDuplicates(tree: ResyncTree, plan: ResyncPlan, staging: string, options: ResyncOptions, logger: Logger): Promise<Set<string>> {
  const candidates: string[] = [];
  const targetOnly: string[] = [];
  for (const folder of plan.folders) {
    for (const copy of folder.copies) candidates.push(messagePath(folder.dir, copy));
    for (const file of folder.targetOnly) targetOnly.push(messagePath(folder.dir, file));
  }
  if (candidates.length === 0 || targetOnly.length === 0) return new Set();
  const { readContentKeys, readMessageIds } = await import('./dedupe-read.js');
  const readOptions = { ...(options.ssh ? { ssh: options.ssh } : {}), ...(options.signal ? { signal: options.signal } : {}) };
  const [sourceIds, targetIds] = await Promise.all([
    readMessageIds(execOf(tree.source, options.ssh), tree.source.root, candidates, readOptions),
    readMessageIds(execOf(tree.target, options.ssh), tree.target.root, targetOnly, readOptions),
  ]);
  const candidateRecords = candidates.map((id) => ({ id, ...(sourceIds.get(id) ? { messageId: sourceIds.get(id)! } : {}) }));
  const targetRecords = targetOnly.map((id) => ({ id, ...(targetIds.get(id) ? { messageId: targetIds.get(id)! } : {}) }));
  const matched = matchByMessageId(candidateRecords, targetRecords);
  if (matched.candidates.size === 0) return new Set();
  logger.debug(`dedupe: ${matched.candidates.size} candidate(s) share a Message-ID with mail only on the target; comparing content`);
  const [sourceKeys, targetKeys] = await Promise.all([
    readContentKeys(execOf(tree.source, options.ssh), tree.source.root, [...matched.candidates], path.join(staging, 'dedupe-src'), readOptions),
    readContentKeys(execOf(tree.target, options.ssh), tree.target.root, [...matched.targets], path.join(staging, 'dedupe-dst'), readOptions),
  ]);
  const withKeys = (records: typeof candidateRecords, keys: Map<string, string>) =>
    records.map((r) => (keys.has(r.id) ? { ...r, contentKey: keys.get(r.id)! } : r));
  return decideDuplicates(withKeys(candidateRecords, sourceKeys), withKeys(targetRecords, targetKeys));
}

// ---------------------------------------------------------------------------------------------------------------
// Applying the plan

interface Applied {
  copied: Map<string, number>;
  subscribed?: Set<string>;
  renamed: Map<string, number>;
  bytes: number;
  rsync: RsyncRunResult | undefined;
  /** Items not done this time because something changed under us (a keyword table): run again. */
  deferred: number;
}

type ApplyOptions = ResyncOptions & { readonly tempDir?: string };

async function applyPlan(
  tree: ResyncTree,
  plan: ResyncPlan,
  duplicates: ReadonlySet<string>,
  keywords: KeywordTables,
  staging: string,
  options: ApplyOptions,
  logger: Logger,
  warnings: string[],
): Promise<Applied> {
  const applied: Applied = { copied: new Map(), renamed: new Map(), bytes: 0, rsync: undefined, deferred: 0 };
  const dstExec = execOf(tree.target, options.ssh);
  const work = plan.folders.map((folder) => ({ folder, copies: folder.copies.filter((c) => !duplicates.has(messagePath(folder.dir, c))) }));
  const needsWrite = work.some((w) => w.copies.length > 0 || w.folder.renames.length > 0 || w.folder.isNew || w.folder.missingSubdirs.length > 0);
  if (!needsWrite) return applied;
  const owner = await readTargetOwner(tree.target, dstExec);

  // New folders and missing subdirectories.
  const dirsToCreate: string[] = [];
  const createdMailboxParents = new Set<string>();
  for (const { folder } of work) {
    if (folder.isNew) {
      const parts = folder.dir.split('/');
      // cPanel: a mailbox new on the source (DOMAIN/LOCAL) may need its domain directory too.
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        if (!createdMailboxParents.has(parent)) {
          createdMailboxParents.add(parent);
          dirsToCreate.push(parent);
        }
      }
      if (folder.dir !== '') dirsToCreate.push(folder.dir);
      for (const sub of ['cur', 'new', 'tmp']) dirsToCreate.push(folder.dir === '' ? sub : `${folder.dir}/${sub}`);
    } else {
      for (const sub of folder.missingSubdirs) dirsToCreate.push(folder.dir === '' ? sub : `${folder.dir}/${sub}`);
    }
  }
  if (dirsToCreate.length > 0) await createDirs(tree.target, dstExec, dirsToCreate, owner);
  const newFolderFiles: string[] = [];
  for (const { folder } of work) {
    if (!folder.isNew) continue;
    const sourceFolder = folder.dir;
    const prefix = sourceFolder === '' ? '' : `${sourceFolder}/`;
    // The source's maildirfolder marker and keyword table go with the folder (the letters in its names need it).
    newFolderFiles.push(`${prefix}maildirfolder`, `${prefix}dovecot-keywords`);
  }

  // Keyword tables that gained letters, before any file uses them.
  const deferredFolders = new Set<string>();
  for (const { folder } of work) {
    if (!folder.keywordUpdate || folder.isNew) continue;
    const ok = await writeKeywordTable(tree.target, dstExec, folder.dir, keywords.target.get(folder.dir) ?? new Map(), folder.keywordUpdate, owner, staging, options);
    if (!ok) {
      deferredFolders.add(folder.dir);
      warnings.push(`${displayFolder(folder.dir, tree.layout)}: the target's dovecot-keywords changed or is locked; messages that need new keyword letters wait for the next run`);
    }
  }

  // Direct copies (names unchanged) in one rsync; translated ones through tmp/.
  const direct: string[] = [...newFolderFiles];
  const translated: { folder: FolderPlan; copy: CopyItem }[] = [];
  for (const { folder, copies } of work) {
    for (const copy of copies) {
      if (copy.targetName === copy.name) direct.push(messagePath(folder.dir, copy));
      else if (deferredFolders.has(folder.dir)) applied.deferred += 1;
      else translated.push({ folder, copy });
    }
  }
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
      const arrived = await listArrivedFiles(dstExec, tree.target.root, itemized, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
      for (const relPath of arrived?.paths ?? []) countMessage(relPath);
      applied.bytes += arrived?.bytes ?? 0;
      const cause = result.exit.hint ? '' : result.stderrTail ? `: ${result.stderrTail.trim().split('\n').pop()}` : '';
      logger.error(`rsync: ${result.exit.meaning}${cause}; ${arrived ? `${arrived.paths.length} file(s) arrived` : 'the target could not be listed to count what arrived (counted as none; run again)'}`);
    } else {
      for (const relPath of itemized) countMessage(relPath);
      applied.bytes += result.stats.transferredFileSizeBytes ?? 0;
    }
  }
  if (translated.length > 0 && applied.rsync?.exit.outcome !== 'network' && applied.rsync?.exit.outcome !== 'config') {
    const moved = await copyThroughTmp(tree, translated, owner, options, logger, warnings);
    for (const [dir, n] of moved.perFolder) countCopied(dir, n);
    applied.bytes += moved.bytes;
    if (!applied.rsync || moved.rsync.exit.outcome !== 'ok') applied.rsync = moved.rsync;
  }

  // Folders created by this run: subscribed when the source subscribes to them.
  const newFolders = work.filter((w) => w.folder.isNew).map((w) => w.folder.dir);
  if (newFolders.length > 0) applied.subscribed = await subscribeNewFolders(tree, newFolders, owner, staging, options, warnings);

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
    const done = await renameOnTarget(tree.target, dstExec, pairs, options.signal);
    for (const pair of done) applied.renamed.set(pair.dir, (applied.renamed.get(pair.dir) ?? 0) + 1);
    if (done.length < pairs.length) warnings.push(`${pairs.length - done.length} flag rename(s) not applied: the target file changed meanwhile (run again)`);
    applied.deferred += pairs.length - done.length;
  }
  return applied;
}

interface Owner {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  /** We may set owners (root here, or root on the remote end). */
  readonly canChown: boolean;
}

async function readTargetOwner(side: ResyncSide, exec: ExecTarget): Promise<Owner> {
  if (!side.ssh) {
    const stats = await lstat(side.root);
    return { uid: stats.uid, gid: stats.gid, mode: stats.mode & 0o7777, canChown: process.getuid?.() === 0 };
  }
  const result = await runExec(exec, ['stat', '-c', '%u:%g:%a', '--', side.root]);
  const match = /^(\d+):(\d+):([0-7]+)/.exec(result.stdout.toString('utf8'));
  if (result.exitCode !== 0 || !match) {
    throw new MailshiftError('MAILSHIFT_SSH_FAILED', `cannot read the owner of ${side.root} on ${side.ssh.host}: ${result.stderr.trim().split('\n').pop() ?? ''}`, {
      retry: result.exitCode === 255 ? 'later' : 'no',
    });
  }
  const user = side.ssh.user ?? os.userInfo().username;
  return { uid: Number(match[1]), gid: Number(match[2]), mode: parseInt(match[3]!, 8), canChown: user === 'root' };
}

/**
 * Creates directories in order (parents first), never through a link: locally mkdir one level at a time (EEXIST on
 * a link is an error, not a follow); remotely `mkdir` without -p for the same reason. Owner and mode from the target
 * root, so a folder created by us looks like one the target made.
 */
async function createDirs(side: ResyncSide, exec: ExecTarget, relDirs: readonly string[], owner: Owner): Promise<void> {
  const mode = (owner.mode & 0o777) | 0o700;
  if (!side.ssh) {
    for (const rel of relDirs) {
      const abs = path.join(side.root, rel);
      try {
        await mkdir(abs, { mode });
        await chmod(abs, mode);
        if (owner.canChown) await lchown(abs, owner.uid, owner.gid);
      } catch (err) {
        if (systemErrorCode(err) !== 'EEXIST') throw targetWriteError(side.root, err);
        const stats = await lstat(abs);
        if (!stats.isDirectory()) throw new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${abs} exists and is not a directory; not written through`, { scope: 'mailbox' });
      }
    }
    return;
  }
  const abs = relDirs.map((rel) => path.posix.join(side.root, rel));
  const made = await runExec(exec, ['mkdir', '-m', mode.toString(8), '--', ...abs]);
  if (made.exitCode === 255) throw new MailshiftError('MAILSHIFT_SSH_FAILED', `ssh to ${side.ssh.host} failed while creating folders`, { retry: 'later' });
  const known = made.exitCode !== 0 ? classifyRemoteMkdirFailure(`${side.root} on ${side.ssh.host}`, made.stderr.replace(/^.*File exists.*$/gm, '')) : undefined;
  if (known) throw known;
  if (made.exitCode !== 0 && !/File exists/.test(made.stderr)) {
    throw new MailshiftError('MAILSHIFT_MKDIR_FAILED', `cannot create folders on ${side.ssh.host}: ${made.stderr.trim().split('\n').pop() ?? ''}`);
  }
  // "File exists" may be a link planted where a folder should be: every path must now be a real directory, or
  // rsync would write through it. find -P does not follow a starting point that is a link.
  const check = await runExec(exec, ['find', ...abs, '-maxdepth', '0', '!', '-type', 'd', '-print0']);
  const notDirs = check.stdout.toString('utf8').split('\u0000').filter(Boolean);
  if (check.exitCode === 255) throw new MailshiftError('MAILSHIFT_SSH_FAILED', `ssh to ${side.ssh.host} failed while creating folders`, { retry: 'later' });
  if (notDirs.length > 0) {
    throw new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${notDirs[0]} on ${side.ssh.host} exists and is not a directory; not written through`, { scope: 'mailbox' });
  }
  if (owner.canChown) await runExec(exec, ['chown', '-h', `${owner.uid}:${owner.gid}`, '--', ...abs]);
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
    source: endpoint(from, fromPath),
    target: endpoint(to, toPath),
    // Only for transfers into the tree root, where 'tmp' names the root mailbox's tmp/.
    ...(options.tempDir && toPath === to.root ? { tempDir: options.tempDir } : {}),
    ...(options.ssh ? { ssh: options.ssh } : {}),
    filesFromStdin: true,
    ignoreMissingArgs: true,
    ignoreExisting: true,
    noImpliedDirs: true,
    numericIds: true,
    ...(owner.canChown ? { chownIds: { uid: owner.uid, gid: owner.gid } } : {}),
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

function endpoint(side: ResyncSide, p: string): RsyncEndpoint {
  return side.ssh ? { path: p, ssh: side.ssh } : { path: p };
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
  const dstExec = execOf(tree.target, options.ssh);
  const stagingRel = `tmp/.mailshift-resync-${process.pid}-${Date.now()}`;
  const stagingAbs = path.posix.join(tree.target.root, stagingRel);
  await createDirs(tree.target, dstExec, ['tmp', stagingRel], owner);
  const rels = items.map(({ folder, copy }) => messagePath(folder.dir, copy));
  const result = await rsyncList(tree.source, tree.target, tree.source.root, stagingAbs, rels, owner, options, logger);
  const pairs = items.map(({ folder, copy }) => ({
    dir: folder.dir,
    from: `${stagingRel}/${messagePath(folder.dir, copy)}`,
    to: messagePath(folder.dir, { sub: copy.sub, name: copy.targetName }),
  }));
  const perFolder = new Map<string, number>();
  const done = await renameOnTarget(tree.target, dstExec, pairs, options.signal);
  for (const pair of done) perFolder.set(pair.dir, (perFolder.get(pair.dir) ?? 0) + 1);
  if (done.length < pairs.length) warnings.push(`${pairs.length - done.length} message(s) with translated keywords not placed (run again)`);
  // Only our own staging directory (its name is ours alone) is removed.
  if (!tree.target.ssh) await rm(stagingAbs, { recursive: true, force: true });
  else await runExec(dstExec, ['rm', '-rf', '--', stagingAbs]);
  return { perFolder, bytes: result.stats.transferredFileSizeBytes ?? 0, rsync: result };
}

/**
 * Renames on the target, never replacing a file: locally rename() after checking the new name is free; remotely
 * `mv -n -T -v` (one per pair, through xargs -0, names never seen by a shell). Returns the pairs that were done.
 */
async function renameOnTarget<T extends { from: string; to: string }>(side: ResyncSide, exec: ExecTarget, pairs: readonly T[], signal?: AbortSignal): Promise<T[]> {
  const done: T[] = [];
  if (!side.ssh) {
    for (const pair of pairs) {
      if (signal?.aborted) throw new InterruptedError();
      const from = path.join(side.root, pair.from);
      const to = path.join(side.root, pair.to);
      try {
        await lstat(to);
        continue; // the name is taken: leave both as they are
      } catch (err) {
        if (systemErrorCode(err) !== 'ENOENT') throw err;
      }
      try {
        await rename(from, to);
        done.push(pair);
      } catch (err) {
        // The file moved on since we listed it (a client changed its flags): nothing lost, run again.
        if (systemErrorCode(err) !== 'ENOENT') throw err;
      }
    }
    return done;
  }
  const input = Buffer.from(pairs.map((p) => `${path.posix.join(side.root, p.from)}\u0000${path.posix.join(side.root, p.to)}\u0000`).join(''), 'utf8');
  const result = await runExec(exec, ['xargs', '-0', '-n', '2', 'mv', '-n', '-T', '-v', '--'], { input, ...(signal ? { signal } : {}) });
  if (result.exitCode === 255) throw new MailshiftError('MAILSHIFT_SSH_FAILED', `ssh to ${side.ssh.host} failed while renaming`, { retry: 'later' });
  // mv -v prints "renamed 'A' -> 'B'" for each rename it did (-n skips silently when B exists).
  const renamedTo = new Set<string>();
  let unparsed = 0;
  for (const line of result.stdout.toString('utf8').split('\n')) {
    if (!line.startsWith('renamed ')) continue;
    const match = /^renamed '.*' -> '([^']*)'$/.exec(line);
    if (match) renamedTo.add(match[1]!);
    else unparsed += 1; // a name mv had to quote differently (it contains a quote or a control character)
  }
  for (const pair of pairs) {
    if (renamedTo.has(path.posix.join(side.root, pair.to))) done.push(pair);
    else if (unparsed > 0 && /['\u0000-\u001f]/.test(pair.to)) {
      unparsed -= 1;
      done.push(pair);
    }
  }
  return done;
}

/**
 * Replaces one small file on a remote target: written into a local staging directory, then rsync'ed over (rsync
 * writes a temp file next to it and renames it into place, so Dovecot never reads half a file).
 */
async function pushSmallFile(side: ResyncSide, rel: string, text: string, owner: Owner, staging: string, options: ResyncOptions): Promise<boolean> {
  const local = path.join(staging, rel);
  await mkdir(path.dirname(local), { recursive: true });
  await writeFile(local, text, { mode: 0o600 });
  const argv = buildRsyncArgv({
    source: { path: staging },
    target: endpoint(side, side.root),
    ...(options.ssh ? { ssh: options.ssh } : {}),
    filesFromStdin: true,
    noImpliedDirs: true,
    numericIds: true,
    ...(owner.canChown ? { chownIds: { uid: owner.uid, gid: owner.gid } } : {}),
    ioTimeoutS: options.ioTimeoutS ?? 120,
  });
  const result = await runRsync({ argv, stdin: Buffer.from(`${rel}\u0000`, 'utf8'), retries: options.retries ?? 3, ...(options.signal ? { signal: options.signal } : {}) });
  return result.exit.outcome === 'ok';
}

/**
 * Subscribes, on the target, the folders this run created, when the source subscribes to them (the user made them
 * on the old server after the copy and expects to see them). Nothing else in the target's list changes: a folder
 * the user unsubscribed on the new server stays unsubscribed. Returns the folder dirs now subscribed.
 */
async function subscribeNewFolders(
  tree: ResyncTree,
  newFolders: readonly string[],
  owner: Owner,
  staging: string,
  options: ResyncOptions,
  warnings: string[],
): Promise<Set<string>> {
  const done = new Set<string>();
  // Per mailbox: '' for a plain maildir, DOMAIN/LOCAL for a cPanel mailbox (its subscriptions sit at its root).
  const byMailbox = new Map<string, { dir: string; name: string }[]>();
  for (const dir of newFolders) {
    const slash = dir.lastIndexOf('/');
    const mailbox = slash < 0 ? '' : dir.slice(0, slash);
    const folderDir = slash < 0 ? dir : dir.slice(slash + 1);
    if (!folderDir.startsWith('.')) continue; // a new mailbox root, not a folder
    let name: string;
    try {
      name = maildirppToMailboxPath(folderDir);
    } catch {
      continue;
    }
    const list = byMailbox.get(mailbox) ?? [];
    list.push({ dir, name });
    byMailbox.set(mailbox, list);
  }
  for (const [mailbox, folders] of byMailbox) {
    const rel = mailbox === '' ? 'subscriptions' : `${mailbox}/subscriptions`;
    const read = async (side: ResyncSide) =>
      side.ssh ? (await readRemoteSmallFiles(execOf(side, options.ssh), side.root, [rel], options.signal)).get(rel) : await readSmallRegularFile(path.join(side.root, rel));
    const [sourceText, targetText] = await Promise.all([read(tree.source), read(tree.target)]);
    const decision = decideSubscriptionAdditions(sourceText ?? '', targetText ?? '', folders.map((f) => f.name));
    if (!decision) continue;
    let ok: boolean;
    if (tree.target.ssh) {
      ok = await pushSmallFile(tree.target, rel, decision.text, owner, path.join(staging, 'subs-out'), options);
    } else {
      const abs = path.join(tree.target.root, rel);
      const tmp = path.join(path.dirname(abs), `.subscriptions.mailshift-${process.pid}`);
      await writeFile(tmp, decision.text, { mode: 0o600, flag: 'wx' });
      if (owner.canChown) await lchown(tmp, owner.uid, owner.gid);
      await rename(tmp, abs);
      ok = true;
    }
    if (!ok) {
      warnings.push(`${rel}: could not add ${decision.added.join(', ')}; subscribe them in the mail client`);
      continue;
    }
    for (const f of folders) if (decision.added.includes(f.name)) done.add(f.dir);
  }
  return done;
}

/**
 * Writes a folder's dovecot-keywords on the target. Locally under Dovecot's own lock (dovecot-uidlist.lock, created
 * exclusively) and only if the file still says what we planned with; remotely by rsync (temp file + rename), without
 * the lock (a limit: run resync while Dovecot is quiet on that folder). Returns false when it was not written.
 */
async function writeKeywordTable(
  side: ResyncSide,
  exec: ExecTarget,
  dir: string,
  plannedFrom: KeywordTable,
  table: KeywordTable,
  owner: Owner,
  staging: string,
  options: ResyncOptions,
): Promise<boolean> {
  const rel = dir === '' ? 'dovecot-keywords' : `${dir}/dovecot-keywords`;
  const text = formatDovecotKeywords(table);
  const sameAsPlanned = (current: string | undefined) => formatDovecotKeywords(parseDovecotKeywords(current ?? '')) === formatDovecotKeywords(plannedFrom);
  if (side.ssh) return pushSmallFile(side, rel, text, owner, path.join(staging, 'kw-out'), options);
  const folderAbs = path.join(side.root, dir);
  const lock = path.join(folderAbs, 'dovecot-uidlist.lock');
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const handle = await open(lock, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
      await handle.close();
      break;
    } catch (err) {
      if (systemErrorCode(err) !== 'EEXIST') throw err;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    const current = await readSmallRegularFile(path.join(folderAbs, 'dovecot-keywords'));
    if (!sameAsPlanned(current)) return false;
    const tmp = path.join(folderAbs, `.dovecot-keywords.mailshift-${process.pid}`);
    await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    if (owner.canChown) await lchown(tmp, owner.uid, owner.gid);
    await rename(tmp, path.join(folderAbs, 'dovecot-keywords'));
    return true;
  } finally {
    await rm(lock, { force: true });
  }
}
