import { throwIfAborted } from '../../core/errors.js';
import { joinRel, type Refusal, type TreeEntry } from '../../fsops/walk.js';
import { checkFileName, checkFolderDirName, checkMessageAllocation, sizeClaimCheckBytes, type FolderNameCheck } from '../unsafe.js';
import type { MailboxScan } from './mailbox.js';
import { deliverySecondsFromName, maildirSizeFromName, parseMaildirsize } from './parse.js';
import { byFolderName, classifyLink, isModeUnreadable, nameFinding, noteRefusal, reportLink, type ScanContext } from './scan-context.js';
import type { FolderInventory, MaildirsizeInfo } from './types.js';

/**
 * Counting a maildir mailbox (the root and its Maildir++ folders) by names alone: ",S=" sizes and "<secs>."
 * delivery times; a stat only for names without ",S=" or with a size claim too large to trust. A message file is
 * never opened.
 */

function decodeFolder(ctx: ScanContext, dirName: string): FolderNameCheck {
  return checkFolderDirName(dirName, ctx.utf8Names);
}

export async function scanMaildir(ctx: ScanContext, rel: string, entries: readonly TreeEntry[]): Promise<MailboxScan> {
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
