import { maildirBaseName } from '../../../../converters/maildir/filename.js';
import { KeywordAllocator, type KeywordTable } from '../../../../converters/maildir/keywords.js';
import path from 'node:path';
import { checkFileName, checkFolderDirName } from '../../../cpanel/unsafe.js';
import { describeFlags, extrasOf, hasLowercase, infoOf, lettersOf, mergeLetters, translateInfo } from './flag-letters.js';

/**
 * Planning a resync (post-cutover catch-up) between two Maildir++ trees. Pure: listings in, decisions out; the I/O is
 * in run.ts and the modules of its steps. Linear in the number of messages (Maps and Sets by base name, no sorting of
 * messages).
 *
 * Identity is the maildir base name (the part before ':'), so a message whose flags changed on the source since the
 * copy is recognised as already present (maildir-format.md §5: a second plain rsync would copy it again under its new
 * name and Dovecot would show both). Decisions:
 * - copy a source message only when no file with its base name is in the target folder's new/ or cur/;
 * - never delete, never overwrite: a message only on the target is left alone;
 * - flags of a message on both sides: by default the target's flags win (users may have read it there);
 *   'source' and 'merge' rename the target file (one atomic rename, never a second copy);
 * - keyword letters (a-z) mean different keywords in different folders and on different servers
 *   (dovecot-keywords is per folder, §1.5), so they are translated letter -> name (source table) -> letter (target
 *   table, allocating free letters; flag-letters.ts). A name that fits no free letter is dropped from the file name
 *   and reported.
 * The same listings also tell, after the run, whether the source changed meanwhile (diffSourceListings).
 */

export type MaildirSub = 'new' | 'cur';
export type { FlagsMode } from '../../../stores/store.js';
import type { FlagsMode } from '../../../stores/store.js';

export interface MessageFile {
  readonly sub: MaildirSub;
  readonly name: string;
}

export interface FolderListing {
  /** Relative to the tree root, '/'-separated: '' (INBOX), '.Sent', 'example.com/info', 'example.com/info/.Sent'. */
  readonly dir: string;
  /** Which of cur/ new/ tmp/ exist as real directories. */
  readonly subdirs: ReadonlySet<'cur' | 'new' | 'tmp'>;
  readonly messages: readonly MessageFile[];
  readonly hasKeywordsFile: boolean;
  readonly hasMaildirfolderFile: boolean;
}

export interface TreeListing {
  readonly folders: ReadonlyMap<string, FolderListing>;
  /** Folder directories (or their cur/ new/) that are not real directories: never written through. dir -> reason. */
  readonly blocked: ReadonlyMap<string, string>;
  /** Entries in new/ or cur/ that are not regular message files (symlinks, devices, dot files): ignored. */
  readonly ignoredEntries: number;
}

export interface CopyItem {
  readonly sub: MaildirSub;
  /** Name on the source. */
  readonly name: string;
  /** Name on the target: the same unless keyword letters had to be translated. */
  readonly targetName: string;
}

export interface RenameItem {
  readonly from: MessageFile;
  readonly to: MessageFile;
}

export interface FlagDifference {
  readonly base: string;
  readonly sourceName: string;
  readonly targetName: string;
}

export interface FolderPlan {
  readonly dir: string;
  /** The folder does not exist on the target: it is created (cur/ new/ tmp/, maildirfolder). */
  readonly isNew: boolean;
  /** Subdirectories to create in an existing target folder. */
  readonly missingSubdirs: readonly ('cur' | 'new' | 'tmp')[];
  /** Source messages whose base name the target lacks (before dedupe). */
  readonly copies: CopyItem[];
  readonly alreadyPresent: number;
  /** Target messages whose base name the source does not have (mail that arrived on the new server, or moved there). */
  readonly targetOnly: readonly MessageFile[];
  readonly flagDifferences: readonly FlagDifference[];
  /** Renames of target files that apply the source's flags (flags 'source' or 'merge'). */
  readonly renames: readonly RenameItem[];
  /** Keyword table to write on the target before any file that uses a new letter is placed. */
  readonly keywordUpdate?: KeywordTable;
  /** Keyword names that fit no free letter in the target folder (dropped from file names). */
  readonly droppedKeywords: readonly string[];
  /** The source folder holds the same base name twice (a delivery racing a new/->cur/ move); one copy is enough. */
  readonly sourceDuplicateBases: number;
  /** The target folder already holds one base name twice; left as it is. */
  readonly targetDuplicateBases: number;
}

export interface ResyncPlan {
  readonly folders: FolderPlan[];
  /** Source folders that cannot be written on the target (the target has a symlink or file there), with the reason. */
  readonly skippedFolders: { readonly dir: string; readonly reason: string }[];
}

export interface KeywordTables {
  /** dovecot-keywords per folder dir; a missing entry means "no table" (an empty one). */
  readonly source: ReadonlyMap<string, KeywordTable>;
  readonly target: ReadonlyMap<string, KeywordTable>;
}

export interface PlanResyncInput {
  readonly source: TreeListing;
  readonly target: TreeListing;
  readonly flags: FlagsMode;
  readonly keywords?: KeywordTables;
  /** Only plan these folders (watch mode); every source folder otherwise. */
  readonly onlyFolders?: ReadonlySet<string>;
}

const emptyTable: KeywordTable = new Map();

export function planResync(input: PlanResyncInput): ResyncPlan {
  const folders: FolderPlan[] = [];
  const skippedFolders: { dir: string; reason: string }[] = [];
  for (const [dir, listedFolder] of input.source.folders) {
    if (input.onlyFolders && !input.onlyFolders.has(dir)) continue;
    const blocked = input.target.blocked.get(dir) ?? blockedByParent(dir, input.target.blocked);
    if (blocked !== undefined) {
      skippedFolders.push({ dir, reason: blocked });
      continue;
    }
    // What discover reports as unsafe is never carried (cpanel/unsafe.ts): the folder, or the message.
    const base = path.posix.basename(dir);
    const folderCheck = base.startsWith('.') ? checkFolderDirName(base, false) : undefined;
    if (folderCheck && !folderCheck.ok && folderCheck.unsafe) {
      skippedFolders.push({ dir, reason: `folder name is unsafe as a path (${folderCheck.problem}); not copied` });
      continue;
    }
    const unsafeMessages = listedFolder.messages.filter((m) => checkFileName(m.name) !== undefined);
    for (const m of unsafeMessages) skippedFolders.push({ dir, reason: `message ${JSON.stringify(`${m.sub}/${m.name}`)}: ${checkFileName(m.name)}; not copied` });
    const sourceFolder = unsafeMessages.length === 0 ? listedFolder : { ...listedFolder, messages: listedFolder.messages.filter((m) => checkFileName(m.name) === undefined) };
    folders.push(
      planFolder(sourceFolder, input.target.folders.get(dir), input.flags, {
        source: input.keywords?.source.get(dir) ?? emptyTable,
        target: input.keywords?.target.get(dir) ?? emptyTable,
      }),
    );
  }
  // A source folder whose name could not be read (not UTF-8: it lists with U+FFFD) is not resynced: say so. Other
  // blocked source entries (cPanel's symlinked `.user@domain_tld` folders) are not this mailbox's folders.
  for (const [dir, reason] of input.source.blocked) {
    if (dir.includes('\ufffd') && (!input.onlyFolders || input.onlyFolders.has(dir))) skippedFolders.push({ dir, reason });
  }
  return { folders, skippedFolders };
}

/** A folder inside a blocked mailbox directory (cPanel: example.com/info is a symlink) is blocked too. */
function blockedByParent(dir: string, blocked: ReadonlyMap<string, string>): string | undefined {
  for (const [blockedDir, reason] of blocked) {
    if (blockedDir !== '' && dir.startsWith(`${blockedDir}/`)) return reason;
  }
  return undefined;
}

interface IndexedFolder {
  readonly byBase: Map<string, MessageFile>;
  readonly duplicateBases: number;
}

/** Base name -> file. When a base appears twice (new/ and cur/ during a move), the cur/ one is kept: it is newer. */
export function indexByBase(messages: readonly MessageFile[]): IndexedFolder {
  const byBase = new Map<string, MessageFile>();
  let duplicateBases = 0;
  for (const message of messages) {
    const base = maildirBaseName(message.name);
    const seen = byBase.get(base);
    if (seen) {
      duplicateBases += 1;
      if (seen.sub === 'cur') continue;
    }
    byBase.set(base, message);
  }
  return { byBase, duplicateBases };
}

function planFolder(
  source: FolderListing,
  target: FolderListing | undefined,
  flags: FlagsMode,
  tables: { source: KeywordTable; target: KeywordTable },
): FolderPlan {
  const allocator = new KeywordAllocator(tables.target);
  const dropped = new Set<string>();
  const translate = (info: string): string => translateInfo(info, tables.source, tables.target, allocator, dropped);

  // One map, of the target (base -> position); the source is streamed past it. A Uint8Array marks the target
  // messages the source also has, so "target only" needs no second map. At 100,000 messages this is the hot loop.
  const targetMessages = target?.messages ?? [];
  const targetIndex = new Map<string, number>();
  let targetDuplicateBases = 0;
  for (let i = 0; i < targetMessages.length; i++) {
    const base = maildirBaseName(targetMessages[i]!.name);
    const seen = targetIndex.get(base);
    if (seen !== undefined) {
      targetDuplicateBases += 1;
      if (targetMessages[seen]!.sub === 'cur') continue;
    }
    targetIndex.set(base, i);
  }
  const matched = new Uint8Array(targetMessages.length);
  const candidates = new Map<string, MessageFile>();
  let sourceDuplicateBases = 0;
  const flagDifferences: FlagDifference[] = [];
  const renames: RenameItem[] = [];
  let alreadyPresent = 0;
  for (const file of source.messages) {
    const base = maildirBaseName(file.name);
    const i = targetIndex.get(base);
    if (i === undefined) {
      const seen = candidates.get(base);
      if (seen) {
        sourceDuplicateBases += 1;
        if (seen.sub === 'cur') continue;
      }
      candidates.set(base, file);
      continue;
    }
    if (matched[i]) {
      sourceDuplicateBases += 1;
      continue;
    }
    matched[i] = 1;
    alreadyPresent += 1;
    const there = targetMessages[i]!;
    // The common case: the very same name, so the very same flags.
    if (there.name === file.name) continue;
    const sourceInfo = infoOf(file.name);
    const targetInfo = infoOf(there.name);
    if ((sourceInfo ?? '') === (targetInfo ?? '') && !hasLowercase(sourceInfo)) continue;
    if (describeFlags(sourceInfo, tables.source) === describeFlags(targetInfo, tables.target)) continue;
    flagDifferences.push({ base, sourceName: file.name, targetName: there.name });
    if (flags === 'target') continue;
    const wanted = flags === 'source' ? translate(lettersOf(sourceInfo)) : mergeLetters(targetInfo, translate(lettersOf(sourceInfo)));
    const renamed = formatRenamed(base, there, wanted);
    if (renamed.sub !== there.sub || renamed.name !== there.name) renames.push({ from: there, to: renamed });
  }
  const copies: CopyItem[] = [];
  for (const [base, file] of candidates) {
    const info = infoOf(file.name);
    copies.push({ sub: file.sub, name: file.name, targetName: info === undefined ? file.name : `${base}:2,${translate(info)}` });
  }
  const targetOnly: MessageFile[] = [];
  for (let i = 0; i < targetMessages.length; i++) {
    if (matched[i]) continue;
    const file = targetMessages[i]!;
    if (targetIndex.get(maildirBaseName(file.name)) === i) targetOnly.push(file);
  }

  const isNew = target === undefined;
  const missingSubdirs = (['cur', 'new', 'tmp'] as const).filter((sub) => !target?.subdirs.has(sub));
  return {
    dir: source.dir,
    isNew,
    missingSubdirs: isNew ? [] : missingSubdirs,
    copies,
    alreadyPresent,
    targetOnly,
    flagDifferences,
    renames,
    ...(allocator.hasChanged ? { keywordUpdate: allocator.table() } : {}),
    droppedKeywords: [...dropped].sort(),
    sourceDuplicateBases,
    targetDuplicateBases,
  };
}

/**
 * The target file's new place: cur/ with the wanted letters. A message still in new/ moves to cur/ only when it gets
 * flags (a file in new/ carries no info part); the target's own non-standard fields stay.
 */
function formatRenamed(base: string, there: MessageFile, wanted: string): MessageFile {
  const wantedLetters = lettersOf(wanted);
  const extras = extrasOf(infoOf(there.name));
  if (there.sub === 'new' && wantedLetters === '') return there;
  return { sub: 'cur', name: `${base}:2,${wantedLetters}${extras}` };
}

/** Relative path of a message file under the tree root. */
export function messagePath(dir: string, file: MessageFile): string {
  return dir === '' ? `${file.sub}/${file.name}` : `${dir}/${file.sub}/${file.name}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Did the source change while we ran?

export interface SourceChange {
  /** Base names that appeared on the source. */
  readonly added: number;
  /** Base names whose file name changed (flags, or a move from new/ to cur/). */
  readonly renamed: number;
  /** Base names that disappeared (expunged, or moved to another folder). */
  readonly removed: number;
}

/** Compares two listings of the same source folders by base name. Folders only in `after` count as added mail. */
export function diffSourceListings(before: TreeListing, after: TreeListing, onlyFolders?: ReadonlySet<string>): SourceChange {
  let added = 0;
  let renamed = 0;
  let removed = 0;
  const dirs = new Set([...before.folders.keys(), ...after.folders.keys()]);
  for (const dir of dirs) {
    if (onlyFolders && !onlyFolders.has(dir)) continue;
    const beforeMessages = before.folders.get(dir)?.messages ?? [];
    const afterMessages = after.folders.get(dir)?.messages ?? [];
    // An unchanged directory lists the same names in the same order: no maps needed for it.
    if (sameNamesInOrder(beforeMessages, afterMessages)) continue;
    const a = indexByBase(beforeMessages).byBase;
    const b = indexByBase(afterMessages).byBase;
    for (const [base, file] of b) {
      const old = a.get(base);
      if (!old) added += 1;
      else if (old.name !== file.name || old.sub !== file.sub) renamed += 1;
    }
    for (const base of a.keys()) if (!b.has(base)) removed += 1;
  }
  return { added, renamed, removed };
}

function sameNamesInOrder(a: readonly MessageFile[], b: readonly MessageFile[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.name !== b[i]!.name || a[i]!.sub !== b[i]!.sub) return false;
  return true;
}
