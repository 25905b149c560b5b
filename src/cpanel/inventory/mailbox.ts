import { decodeMutf7 } from '../../../converters/folders/mutf7.js';
import { validateFolderLevel } from '../../../converters/folders/maildirpp.js';
import { throwIfAborted } from '../../core/errors.js';
import { joinRel, type Refusal, type TreeEntry } from '../../fsops/walk.js';
import { isDomainDirName } from '../layout.js';
import { deliverySecondsFromName, maildirSizeFromName, parseMaildirsize } from './parse.js';
import { checkFileName, checkFolderDirName, checkMessageAllocation, isOnlyUndecodable, sizeClaimCheckBytes, type FolderNameCheck } from '../unsafe.js';
import { classifyLink, reportLink, isModeUnreadable, noteRefusal, type ScanContext } from './scan-context.js';
import type { Finding, FolderInventory, MailboxFormat, MaildirsizeInfo } from './types.js';

/**
 * Counting one mailbox on disk, in any of cPanel's three formats, without opening a message file (maildir) or
 * following a link. Maildir: names only (",S=" sizes, "<secs>." delivery times), a stat only for names without
 * ",S=". mbox: each folder file is streamed once to count From_ lines. mdbox: folders and storage bytes only.
 */

export interface MailboxScan {
  readonly format: MailboxFormat;
  readonly countMethod: 'maildir-names' | 'mbox-from-lines' | 'none';
  readonly folders: FolderInventory[];
  readonly maildirsize: MaildirsizeInfo | null;
  /** Plain subdirectories of the mailbox root that are not folders (the domain directories of ~/mail). */
  readonly otherDirs: string[];
  /** cPanel `.LOCAL@DOMAIN_TLD` links seen (normal; not followed). */
  readonly mailboxLinks: number;
}

/** Names Dovecot/cPanel keep in a maildir root or mbox directory that are not mail folders (cpanel-layout.md §2.6). */
const nonFolderFiles = /^(dovecot[.-].*|maildirsize|subscriptions|mailbox_format\.cpanel|courier.*|maildirfolder|\.?cppop\.cache.*|.*\.lock|\.subscriptions|\.mailboxlist)$/;

/** Guesses the format of a mailbox root from what is in it (cpanel-layout.md §2.2/§9.1). */
export function detectFormat(entries: readonly TreeEntry[]): MailboxFormat {
  const has = (name: string, kind: TreeEntry['kind']) => entries.some((e) => e.name === name && e.kind === kind);
  if (has('cur', 'dir') || has('new', 'dir')) return 'maildir';
  if (has('storage', 'dir') && has('mailboxes', 'dir')) return 'mdbox';
  if (entries.some((e) => e.kind === 'file' && e.name.toLowerCase() === 'inbox')) return 'mbox';
  if (has('storage', 'dir')) return 'mdbox';
  return 'unknown';
}

export async function scanMailbox(ctx: ScanContext, rel: string, entries: readonly TreeEntry[], fallback: MailboxFormat, isDefault: boolean): Promise<MailboxScan> {
  const detected = detectFormat(entries);
  const format = detected === 'unknown' ? fallback : detected;
  if (format === 'maildir') return scanMaildir(ctx, rel, entries);
  if (format === 'mbox') return scanMboxDir(ctx, rel, entries, isDefault);
  if (format === 'mdbox') return scanMdbox(ctx, rel, entries, isDefault);
  return { format, countMethod: 'none', folders: [], maildirsize: null, otherDirs: [], mailboxLinks: 0 };
}

function decodeFolder(ctx: ScanContext, dirName: string): FolderNameCheck {
  return checkFolderDirName(dirName, ctx.utf8Names);
}

async function scanMaildir(ctx: ScanContext, rel: string, entries: readonly TreeEntry[]): Promise<MailboxScan> {
  const folderJobs: Promise<FolderInventory | undefined>[] = [];
  const otherDirs: string[] = [];
  let mailboxLinks = 0;
  let maildirsize: MaildirsizeInfo | null = null;
  let hasInbox = false;
  for (const entry of entries) {
    const entryRel = joinRel(rel, entry.name);
    const bad = checkFileName(entry.name);
    if (bad) {
      ctx.findings.add(nameFinding(entry.name, entryRel, bad, 'not opened', entry.kind === 'dir' && entry.name.startsWith('.')));
      continue;
    }
    if (entry.kind === 'symlink') {
      const result = await classifyLink(ctx, entryRel);
      if (result === 'mailbox-link') mailboxLinks += 1;
      else ctx.findings.add(result);
      continue;
    }
    if (entry.kind === 'other') {
      ctx.findings.add({ kind: 'special-file', path: entryRel, detail: 'not a regular file or directory; not opened' });
      continue;
    }
    if (entry.kind === 'file') {
      if (entry.name === 'maildirsize') maildirsize = await readMaildirsize(ctx, rel);
      continue;
    }
    if (entry.name === 'cur' || entry.name === 'new' || entry.name === 'tmp') {
      hasInbox = true;
      continue;
    }
    if (!entry.name.startsWith('.')) {
      otherDirs.push(entry.name);
      continue;
    }
    const decoded = decodeFolder(ctx, entry.name);
    if (!decoded.ok) {
      if (decoded.unsafe) {
        ctx.findings.add({ kind: 'unsafe-name', path: entryRel, detail: `folder name is unsafe as a path (${decoded.problem}); not opened` });
        continue;
      }
      ctx.findings.add({ kind: 'undecodable-folder-name', path: entryRel, detail: `${decoded.problem}; counted under its raw name` });
    }
    const name = decoded.ok ? decoded.name : entry.name.slice(1);
    folderJobs.push(scanMaildirFolder(ctx, entryRel, name, entry.name));
  }
  if (hasInbox) folderJobs.unshift(scanMaildirFolderParts(ctx, rel, 'INBOX', '', entries));
  const folders = (await Promise.all(folderJobs)).filter((f): f is FolderInventory => f !== undefined).sort(byFolderName);
  return { format: 'maildir', countMethod: 'maildir-names', folders, maildirsize, otherDirs, mailboxLinks };
}

/** INBOX first, then by name (code-unit order, stable across runs and locales). */
export function byFolderName(a: FolderInventory, b: FolderInventory): number {
  if (a.name === b.name) return 0;
  if (a.name === 'INBOX') return -1;
  if (b.name === 'INBOX') return 1;
  return a.name < b.name ? -1 : 1;
}

async function readMaildirsize(ctx: ScanContext, mailboxRel: string): Promise<MaildirsizeInfo | null> {
  // Maildir++ recalculates the file past 5120 bytes; anything much larger is not a real maildirsize.
  const read = await ctx.reader.readText(mailboxRel, 'maildirsize', 64 * 1024);
  if (!read.ok) {
    await noteRefusal(ctx, read, 'maildirsize');
    return null;
  }
  if (isModeUnreadable(read.mode)) ctx.findings.add({ kind: 'unreadable', path: joinRel(mailboxRel, 'maildirsize'), detail: `mode ${(read.mode & 0o7777).toString(8)} lets nobody read it` });
  return parseMaildirsize(read.text) ?? null;
}

async function scanMaildirFolder(ctx: ScanContext, folderRel: string, name: string, onDisk: string): Promise<FolderInventory | undefined> {
  const listed = await ctx.reader.listKnownDir(folderRel);
  if (!listed.ok) {
    await noteRefusal(ctx, listed, `folder ${name}`);
    return undefined;
  }
  return scanMaildirFolderParts(ctx, folderRel, name, onDisk, listed.entries);
}

/**
 * Counts cur/ and new/ of one maildir folder whose directory listing is `entries`; tmp/ only with --stat (it is
 * a third of all directories and rarely holds anything).
 */
async function scanMaildirFolderParts(ctx: ScanContext, folderRel: string, name: string, onDisk: string, entries: readonly TreeEntry[]): Promise<FolderInventory> {
  const totals: PartTotals = { messages: 0, sizeBytes: 0, newestDeliveryMs: null, tmpFiles: ctx.statEveryMessage ? 0 : null, statted: 0 };
  for (const entry of entries) {
    if (entry.name !== 'cur' && entry.name !== 'new' && entry.name !== 'tmp') continue;
    const partRel = joinRel(folderRel, entry.name);
    if (entry.kind === 'symlink') {
      await reportLink(ctx, partRel);
      continue;
    }
    if (entry.kind !== 'dir') continue;
    if (entry.name === 'tmp' && !ctx.statEveryMessage) continue;
    await countMaildirPart(ctx, partRel, entry.name === 'tmp', totals);
  }
  return { name, onDisk, ...totals };
}

interface PartTotals {
  messages: number;
  sizeBytes: number;
  newestDeliveryMs: number | null;
  tmpFiles: number | null;
  statted: number;
}

/**
 * The hot loop: one synchronous listing, then names only. Links and refusals (rare) are handled after the loop,
 * where awaiting is cheap.
 */
async function countMaildirPart(ctx: ScanContext, partRel: string, isTmp: boolean, totals: PartTotals): Promise<void> {
  throwIfAborted(ctx.signal);
  await ctx.reader.yieldIfDue();
  const listed = ctx.reader.listKnownDirSync(partRel);
  if (!listed.ok) {
    await noteRefusal(ctx, listed, isTmp ? 'tmp/' : 'message directory');
    return;
  }
  const links: string[] = [];
  const refusals: Refusal[] = [];
  for (const entry of listed.entries) {
    const fileName = entry.name;
    // Readers ignore dot files in new/ and cur/ (maildir-format.md §1).
    if (fileName.charCodeAt(0) === 46) continue;
    if (entry.kind !== 'file') {
      if (entry.kind === 'symlink') links.push(fileName);
      else if (entry.kind === 'other') {
        ctx.findings.add({ kind: 'special-file', path: joinRel(partRel, fileName), detail: 'a FIFO, socket or device among messages; not opened' });
      }
      continue;
    }
    const bad = checkFileName(fileName);
    if (bad) {
      ctx.findings.add(nameFinding(fileName, joinRel(partRel, fileName), bad, 'not counted, not opened'));
      continue;
    }
    if (isTmp) {
      totals.tmpFiles = (totals.tmpFiles ?? 0) + 1;
      continue;
    }
    totals.messages += 1;
    const sizeBytes = maildirSizeFromName(fileName);
    const secs = deliverySecondsFromName(fileName);
    if (secs !== undefined) {
      const ms = secs * 1000;
      if (totals.newestDeliveryMs === null || ms > totals.newestDeliveryMs) totals.newestDeliveryMs = ms;
    }
    if (sizeBytes !== undefined && !ctx.statEveryMessage && sizeBytes <= sizeClaimCheckBytes) {
      totals.sizeBytes += sizeBytes;
      if (sizeBytes === 0) ctx.findings.add({ kind: 'empty-message', path: joinRel(partRel, fileName), detail: 'zero-byte message file' });
    } else {
      const refusal = statMessage(ctx, partRel, fileName, secs === undefined, totals);
      if (refusal) refusals.push(refusal);
    }
  }
  for (const fileName of links) await reportLink(ctx, joinRel(partRel, fileName));
  for (const refusal of refusals) await noteRefusal(ctx, refusal, 'message file');
}

/** A message with no ",S=" in its name (or --stat): size, sparseness, readability and, lacking a name time, mtime. */
function statMessage(ctx: ScanContext, partRel: string, fileName: string, useMtime: boolean, totals: PartTotals): Refusal | undefined {
  const fileRel = joinRel(partRel, fileName);
  const result = ctx.reader.lstatSync(fileRel);
  if (!result.ok) return result;
  const { stats } = result;
  totals.statted += 1;
  totals.sizeBytes += stats.size;
  if (useMtime && (totals.newestDeliveryMs === null || stats.mtimeMs > totals.newestDeliveryMs)) totals.newestDeliveryMs = Math.floor(stats.mtimeMs);
  if (stats.size === 0) ctx.findings.add({ kind: 'empty-message', path: fileRel, detail: 'zero-byte message file' });
  // st_blocks counts 512-byte units whatever the file system's block size.
  const allocation = checkMessageAllocation(fileName, stats.size, stats.blocks * 512);
  if (allocation) ctx.findings.add({ kind: allocation.kind, path: fileRel, detail: allocation.detail });
  if (isModeUnreadable(stats.mode)) {
    ctx.findings.add({ kind: 'unreadable', path: fileRel, detail: `mode ${(stats.mode & 0o7777).toString(8)} lets nobody read it (Dovecot cannot serve it)` });
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// mbox

/**
 * Streams an mbox file once and counts From_ lines that start the file or follow an empty line. Body lines
 * starting with "From " are quoted by every mbox writer (">From "), and the blank-line rule keeps an unquoted one
 * inside a paragraph from counting; `mailshift convert` does the exact parse, this is an inventory count.
 */
export function createFromLineCounter(): { push(chunk: Buffer): void; readonly count: number; readonly isMbox: boolean | undefined } {
  const from = [0x46, 0x72, 0x6f, 0x6d, 0x20]; // "From "
  let count = 0;
  let matchPos = 0; // bytes of "From " matched at the start of the current line; -1 = this line cannot match
  let lineLength = 0;
  let lastByte = 0;
  let blankBefore = true; // the file start counts as "after a blank line"
  let onFirstLine = true;
  let isMbox: boolean | undefined;
  let total = 0;
  return {
    push(chunk: Buffer) {
      total += chunk.length;
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]!;
        if (matchPos >= 0) {
          if (byte === from[matchPos]) {
            matchPos += 1;
            if (matchPos === 5) {
              if (blankBefore) count += 1;
              if (onFirstLine) isMbox = true;
              matchPos = -1;
            }
          } else {
            if (onFirstLine) isMbox = false;
            matchPos = -1;
          }
        }
        if (byte === 0x0a) {
          blankBefore = lineLength === 0 || (lineLength === 1 && lastByte === 0x0d);
          lineLength = 0;
          matchPos = 0;
          onFirstLine = false;
        } else lineLength += 1;
        lastByte = byte;
      }
    },
    get count() {
      return count;
    },
    /** undefined until the first line has been seen; an empty file is an empty mbox. */
    get isMbox() {
      return total === 0 ? true : isMbox;
    },
  };
}

async function countMboxFile(ctx: ScanContext, dirRel: string, fileName: string): Promise<{ messages: number; sizeBytes: number; mtimeMs: number } | undefined> {
  const opened = await ctx.reader.openFile(dirRel, fileName);
  if (!opened.ok) {
    await noteRefusal(ctx, opened, 'mbox file');
    return undefined;
  }
  const { handle, stats } = opened;
  const fileRel = joinRel(dirRel, fileName);
  if (isModeUnreadable(stats.mode)) {
    ctx.findings.add({ kind: 'unreadable', path: fileRel, detail: `mode ${(stats.mode & 0o7777).toString(8)} lets nobody read it (Dovecot cannot serve it)` });
  }
  const counter = createFromLineCounter();
  try {
    const buffer = Buffer.alloc(256 * 1024);
    let position = 0;
    for (;;) {
      throwIfAborted(ctx.signal);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      counter.push(buffer.subarray(0, bytesRead));
      position += bytesRead;
      // Not an mbox after all (a stray file in ~/mail): stop reading.
      if (counter.isMbox === false) return undefined;
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EISDIR') {
      ctx.findings.add({ kind: 'unreadable', path: fileRel, detail: `mbox file cannot be read (${String(code)})` });
      return undefined;
    }
    throw err;
  } finally {
    await handle.close();
  }
  return { messages: counter.count, sizeBytes: stats.size, mtimeMs: Math.floor(stats.mtimeMs) };
}

function decodeMboxName(ctx: ScanContext, fileName: string): string {
  if (fileName.toLowerCase() === 'inbox') return 'INBOX';
  if (ctx.utf8Names) return fileName;
  try {
    return decodeMutf7(fileName);
  } catch {
    return fileName;
  }
}

async function scanMboxDir(ctx: ScanContext, rel: string, entries: readonly TreeEntry[], isDefault: boolean, prefix = '', depth = 0): Promise<MailboxScan> {
  const folders: FolderInventory[] = [];
  const otherDirs: string[] = [];
  for (const entry of entries) {
    const entryRel = joinRel(rel, entry.name);
    const bad = checkFileName(entry.name);
    if (bad) {
      ctx.findings.add(nameFinding(entry.name, entryRel, bad, 'not opened'));
      continue;
    }
    if (entry.name.startsWith('.') && entry.kind !== 'symlink') continue; // .imap indexes, .subscriptions
    if (entry.kind === 'symlink') {
      await reportLink(ctx, entryRel);
      continue;
    }
    if (entry.kind === 'other') {
      ctx.findings.add({ kind: 'special-file', path: entryRel, detail: 'not a regular file or directory; not opened' });
      continue;
    }
    if (entry.kind === 'dir') {
      if (depth === 0 && isDefault && isDomainDirName(entry.name)) {
        otherDirs.push(entry.name);
        continue;
      }
      // Dovecot's mbox layout nests folders as directories; a few levels are plenty for 2000s-era trees.
      if (depth >= 8) continue;
      const listed = await ctx.reader.listKnownDir(entryRel);
      if (!listed.ok) {
        await noteRefusal(ctx, listed, 'mbox folder directory');
        continue;
      }
      const nested = await scanMboxDir(ctx, entryRel, listed.entries, false, `${prefix}${decodeMboxName(ctx, entry.name)}/`, depth + 1);
      folders.push(...nested.folders);
      continue;
    }
    if (nonFolderFiles.test(entry.name)) continue;
    const counted = await countMboxFile(ctx, rel, entry.name);
    if (!counted) continue;
    const name = depth === 0 ? decodeMboxName(ctx, entry.name) : `${prefix}${decodeMboxName(ctx, entry.name)}`;
    folders.push({ name, onDisk: joinRel(prefix === '' ? '' : relTail(rel, depth), entry.name), messages: counted.messages, sizeBytes: counted.sizeBytes, newestDeliveryMs: counted.mtimeMs, tmpFiles: null, statted: 0 });
  }
  folders.sort(byFolderName);
  return { format: 'mbox', countMethod: 'mbox-from-lines', folders, maildirsize: null, otherDirs, mailboxLinks: 0 };
}

/** The last `depth` components of a path: the on-disk name of a nested mbox folder relative to the mailbox root. */
function relTail(rel: string, depth: number): string {
  return rel.split('/').slice(-depth).join('/');
}

// ---------------------------------------------------------------------------------------------------------------
// mdbox

/**
 * mdbox keeps messages of all folders together in storage/m.N files, indexed by Dovecot's binary indexes: it is
 * reported (folders, storage bytes), not counted, and not copied at file level (cpanel-layout.md §2.3).
 */
async function scanMdbox(ctx: ScanContext, rel: string, entries: readonly TreeEntry[], isDefault: boolean): Promise<MailboxScan> {
  let storageBytes = 0;
  const storage = entries.find((e) => e.name === 'storage' && e.kind === 'dir');
  if (storage) {
    const storageRel = joinRel(rel, 'storage');
    const listed = await ctx.reader.listKnownDir(storageRel);
    if (listed.ok) {
      for (const e of listed.entries) {
        if (e.kind === 'symlink') {
          await reportLink(ctx, joinRel(storageRel, e.name));
        } else if (e.kind === 'file' && /^m\.\d+$/.test(e.name)) {
          const st = await ctx.reader.lstat(joinRel(storageRel, e.name));
          if (st.ok) storageBytes += st.stats.size;
        }
      }
    } else await noteRefusal(ctx, listed, 'mdbox storage');
  }
  const folders: FolderInventory[] = [];
  const mailboxes = entries.find((e) => e.name === 'mailboxes' && e.kind === 'dir');
  if (mailboxes) await collectMdboxFolders(ctx, joinRel(rel, 'mailboxes'), [], folders);
  folders.sort(byFolderName);
  // The storage is shared by all folders: the bytes are reported on INBOX, the others show 0.
  const inboxIndex = folders.findIndex((f) => f.name === 'INBOX');
  const sized = folders.map((f, i) => (i === (inboxIndex < 0 ? 0 : inboxIndex) ? { ...f, sizeBytes: storageBytes } : f));
  if (sized.length === 0 && storageBytes > 0) sized.push({ name: 'INBOX', onDisk: 'storage', messages: null, sizeBytes: storageBytes, newestDeliveryMs: null, tmpFiles: null, statted: 0 });
  const otherDirs = isDefault ? entries.filter((e) => e.kind === 'dir' && isDomainDirName(e.name)).map((e) => e.name) : [];
  return { format: 'mdbox', countMethod: 'none', folders: sized, maildirsize: null, otherDirs, mailboxLinks: 0 };
}

async function collectMdboxFolders(ctx: ScanContext, dirRel: string, levels: string[], out: FolderInventory[]): Promise<void> {
  if (levels.length > 16) return;
  const listed = await ctx.reader.listKnownDir(dirRel);
  if (!listed.ok) {
    await noteRefusal(ctx, listed, 'mdbox mailboxes directory');
    return;
  }
  if (levels.length > 0 && listed.entries.some((e) => e.name === 'dbox-Mails')) {
    out.push({ name: levels.join('/'), onDisk: joinRel('mailboxes', ...levels), messages: null, sizeBytes: 0, newestDeliveryMs: null, tmpFiles: null, statted: 0 });
  }
  for (const e of listed.entries) {
    if (e.name === 'dbox-Mails') continue;
    const entryRel = joinRel(dirRel, e.name);
    if (e.kind === 'symlink') {
      await reportLink(ctx, entryRel);
      continue;
    }
    if (e.kind !== 'dir') continue;
    const bad = checkFileName(e.name) ?? validateFolderLevel(e.name);
    if (bad) {
      ctx.findings.add(nameFinding(e.name, entryRel, bad, 'not opened'));
      continue;
    }
    let level = e.name;
    if (!ctx.utf8Names) {
      try {
        level = decodeMutf7(e.name);
      } catch {
        ctx.findings.add({ kind: 'undecodable-folder-name', path: entryRel, detail: 'not valid modified UTF-7; counted under its raw name' });
      }
    }
    await collectMdboxFolders(ctx, entryRel, [...levels, level], out);
  }
}

/**
 * The finding for a name discover will not open. Unsafe when the name itself could do harm (control characters, a
 * level that climbs); only odd when its one fault is bytes that are not UTF-8 (a Latin-1 folder), judged by the rule
 * copy uses (cpanel/unsafe.ts): copy carries those byte for byte, and discover cannot open them by a lossily
 * decoded name, so they are not counted here.
 */
function nameFinding(name: string, path: string, problem: string, notDone: string, isFolderDir = false): Finding {
  if (isOnlyUndecodable(name, isFolderDir)) return { kind: 'undecodable-name', path, detail: `name is not valid UTF-8; ${notDone} here (copy carries it byte for byte)` };
  return { kind: 'unsafe-name', path, detail: `${problem}; ${notDone}` };
}
