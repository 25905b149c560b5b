import { decodeMutf7 } from '../../../converters/folders/mutf7.js';
import { throwIfAborted } from '../../core/errors.js';
import { joinRel, type TreeEntry } from '../../fsops/walk.js';
import { isDomainDirName } from '../layout.js';
import { checkFileName } from '../unsafe.js';
import type { MailboxScan } from './mailbox.js';
import { byFolderName, isModeUnreadable, nameFinding, noteRefusal, reportLink, type ScanContext } from './scan-context.js';
import type { FolderInventory } from './types.js';

/** Counting an mbox mailbox directory: each folder file streamed once, its From_ lines counted. */

/** Names Dovecot/cPanel keep in a maildir root or mbox directory that are not mail folders (cpanel-layout.md §2.6). */
const nonFolderFiles = /^(dovecot[.-].*|maildirsize|subscriptions|mailbox_format\.cpanel|courier.*|maildirfolder|\.?cppop\.cache.*|.*\.lock|\.subscriptions|\.mailboxlist)$/;

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

export async function scanMboxDir(ctx: ScanContext, rel: string, entries: readonly TreeEntry[], isDefault: boolean, prefix = '', depth = 0): Promise<MailboxScan> {
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
