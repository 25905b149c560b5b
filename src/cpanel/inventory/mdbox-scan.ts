import { decodeMutf7 } from '../../../converters/folders/mutf7.js';
import { validateFolderLevel } from '../../../converters/folders/maildirpp.js';
import { joinRel, type TreeEntry } from '../../fsops/walk.js';
import { isDomainDirName } from '../layout.js';
import { checkFileName } from '../unsafe.js';
import type { MailboxScan } from './mailbox.js';
import { byFolderName, nameFinding, noteRefusal, reportLink, type ScanContext } from './scan-context.js';
import type { FolderInventory } from './types.js';

/** Counting a Dovecot mdbox mailbox: its folders (from mailboxes/) and the bytes of its storage files only. */

/**
 * mdbox keeps messages of all folders together in storage/m.N files, indexed by Dovecot's binary indexes: it is
 * reported (folders, storage bytes), not counted, and not copied at file level (cpanel-layout.md §2.3).
 */
export async function scanMdbox(ctx: ScanContext, rel: string, entries: readonly TreeEntry[], isDefault: boolean): Promise<MailboxScan> {
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
