import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FolderNameError, readMaildirppDirName } from '../../converters/folders/maildirpp.js';
import { Mutf7Error } from '../../converters/folders/mutf7.js';
import { decodeInfo, parseMaildirName, resolveKeywords } from '../../converters/maildir/filename.js';
import { parseDovecotKeywords } from '../../converters/maildir/keywords.js';
import { parseUidlist } from '../../converters/maildir/uidlist.js';
import type { FileSide } from '../hosts/side.js';
import { buildRsyncArgv } from '../transport/rsync/args.js';
import { runRsync } from '../transport/rsync/run.js';
import type { SshOptions } from '../transport/ssh.js';
import { formatFlagSet, type FolderSnapshot, type MessageMeta, type SkippedFolder } from './snapshot.js';
import { readRegularTextFile } from '../fsops/read-regular.js';

/**
 * How verify reads maildirs over ssh (`snapshotsFromRemoteMaildirs`): one `find` over the tree (nothing to install
 * remotely) and one rsync that fetches the folders' dovecot-uidlist and dovecot-keywords. Local maildirs are read
 * through the store interface instead (tree.ts snapshotsFromStore). Both read a message the same way: a regular file
 * in new/ or cur/ whose name does not start with '.', identity = base name, flags from the ':2,' part of names in
 * cur/, keywords through dovecot-keywords, UID through dovecot-uidlist.
 */

interface RawFolder {
  messages: { sub: 'cur' | 'new'; name: string; sizeBytes: number }[];
  hasUidlist: boolean;
  hasKeywords: boolean;
}

/**
 * Lists maildirs under `root` on a side (over ssh). `mailboxDirs` (relative to root, e.g. "example.com/info") are separate
 * mailboxes labelled by `labelOf`; everything else under root belongs to the mailbox labelled `rootLabel`.
 */
export async function snapshotsFromRemoteMaildirs(
  side: FileSide,
  root: string,
  layout: { rootLabel: string; mailboxDirs: readonly string[]; labelOf: (dir: string) => string; onlyMailboxDir?: string },
  options: { ssh?: SshOptions; signal?: AbortSignal } = {},
): Promise<{ folders: FolderSnapshot[]; skipped: SkippedFolder[] }> {
  const boxes = new Map<string, Map<string, RawFolder>>();
  const skipped: SkippedFolder[] = [];
  const mailboxDirs = new Set(layout.mailboxDirs);
  const folderOf = (mailbox: string, dir: string): RawFolder => {
    let folders = boxes.get(mailbox);
    if (!folders) boxes.set(mailbox, (folders = new Map()));
    let folder = folders.get(dir);
    if (!folder) folders.set(dir, (folder = { messages: [], hasUidlist: false, hasKeywords: false }));
    return folder;
  };
  const listed = await side.list(root, (entry) => {
    const parts = entry.path.split('/');
    let mailbox = layout.rootLabel;
    let rest = parts;
    if (parts.length >= 3 && mailboxDirs.has(`${parts[0]}/${parts[1]}`)) {
      mailbox = `${parts[0]}/${parts[1]}`;
      rest = parts.slice(2);
    } else if (layout.onlyMailboxDir !== undefined) {
      return;
    }
    if (layout.onlyMailboxDir !== undefined && mailbox !== layout.onlyMailboxDir) return;
    // rest: [sub, name] (INBOX) or [.Folder, sub, name]; control files: [file] or [.Folder, file].
    let folderDir: string;
    let tail: string[];
    if (rest.length >= 1 && rest[0]!.startsWith('.') && rest.length >= 2) {
      folderDir = rest[0]!;
      tail = rest.slice(1);
    } else {
      folderDir = '';
      tail = rest;
    }
    if (entry.type === 'file' && tail.length === 2 && (tail[0] === 'cur' || tail[0] === 'new') && !tail[1]!.startsWith('.')) {
      folderOf(mailbox, folderDir).messages.push({ sub: tail[0], name: tail[1]!, sizeBytes: entry.sizeBytes });
    } else if (entry.type === 'file' && tail.length === 1 && (tail[0] === 'dovecot-uidlist' || tail[0] === 'dovecot-keywords')) {
      const folder = folderOf(mailbox, folderDir);
      if (tail[0] === 'dovecot-uidlist') folder.hasUidlist = true;
      else folder.hasKeywords = true;
    } else if (entry.type === 'dir' && tail.length === 1 && tail[0] === 'cur') {
      folderOf(mailbox, folderDir);
    }
  }, options.signal ? { signal: options.signal } : {});
  if (!listed.exists) return { folders: [], skipped: [{ mailbox: layout.rootLabel, directory: root, reason: 'does not exist' }] };
  if (listed.errors) skipped.push({ mailbox: layout.rootLabel, directory: root, reason: `listing was incomplete: ${listed.errors.split('\n').slice(0, 3).join('; ')}` });

  // Fetch every control file in one rsync (symlinks stay links and are then ignored).
  const wanted: string[] = [];
  const relDir = (mailbox: string, folderDir: string) => path.posix.join(mailbox === layout.rootLabel ? '' : mailbox, folderDir);
  for (const [mailbox, folders] of boxes) {
    for (const [folderDir, folder] of folders) {
      if (folder.hasUidlist) wanted.push(path.posix.join(relDir(mailbox, folderDir), 'dovecot-uidlist'));
      if (folder.hasKeywords) wanted.push(path.posix.join(relDir(mailbox, folderDir), 'dovecot-keywords'));
    }
  }
  const staging = await mkdtemp(path.join(os.tmpdir(), 'mailshift-verify-'));
  try {
    if (wanted.length > 0) {
      const argv = buildRsyncArgv({
        source: { path: root, ...(side.ssh ? { ssh: side.ssh } : {}) },
        target: { path: staging },
        ...(options.ssh ? { ssh: options.ssh } : {}),
        filesFromStdin: true,
        ignoreMissingArgs: true,
        hardLinks: false,
      });
      await runRsync({ argv, stdin: Buffer.from(wanted.map((p) => `${p}\u0000`).join(''), 'utf8'), retries: 3, ...(options.signal ? { signal: options.signal } : {}) });
    }
    const out: FolderSnapshot[] = [];
    for (const [mailbox, folders] of boxes) {
      const label = mailbox === layout.rootLabel ? layout.rootLabel : layout.labelOf(mailbox);
      for (const [folderDir, folder] of folders) {
        let folderName: string;
        try {
          // Read as the local side's MaildirStore reads it (a literal "&", control characters), so both compare alike.
          folderName = readMaildirppDirName(folderDir).path;
        } catch (err) {
          if (!(err instanceof FolderNameError) && !(err instanceof Mutf7Error)) throw err;
          skipped.push({ mailbox: label, directory: folderDir, reason: err.message });
          continue;
        }
        const dir = path.join(staging, relDir(mailbox, folderDir));
        const keywordTable = parseDovecotKeywords((await readRegularTextFile(path.join(dir, 'dovecot-keywords'))) ?? '');
        const uids = new Map<string, number>();
        let uidValidity: number | undefined;
        const uidlistText = await readRegularTextFile(path.join(dir, 'dovecot-uidlist'));
        if (uidlistText?.trim()) {
          try {
            const list = parseUidlist(uidlistText);
            uidValidity = list.uidValidity;
            for (const record of list.records) uids.set(parseMaildirName(record.fileName).base, record.uid);
          } catch {
            // An unreadable uidlist only costs us UIDs, not messages (as in the maildir store).
          }
        }
        const messages: MessageMeta[] = folder.messages.map((m) => {
          const parsed = parseMaildirName(m.name);
          const info = decodeInfo(m.sub === 'cur' ? parsed.info : undefined);
          const keywords = resolveKeywords(info, keywordTable);
          const uid = uids.get(parsed.base);
          return { key: parsed.base, flags: formatFlagSet(info.flags, keywords), sizeBytes: m.sizeBytes, ...(uid !== undefined ? { uid } : {}) };
        });
        out.push({ mailbox: label, folder: folderName, ...(uidValidity !== undefined ? { uidValidity } : {}), messages });
      }
    }
    return { folders: out, skipped };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

