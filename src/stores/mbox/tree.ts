import { lstat, open, readdir, realpath } from 'node:fs/promises';
import { constants as fsConstants, type Dirent } from 'node:fs';
import path from 'node:path';
import { formatRawName } from '../../../converters/folders/maildirpp.js';
import { classifyNonMboxName, mboxFileToMailboxPath, type Mutf7Names } from '../../../converters/mbox/folder-path.js';
import { MailshiftError, systemErrorCode } from '../../core/errors.js';
import type { MailboxPath } from '../../core/types.js';

/** One mbox file found in the source, and the folder it becomes. */
export interface MboxSourceFile {
  readonly file: string;
  /** Path relative to the source root ('' when the source is a single file). */
  readonly relativePath: string;
  readonly folder: MailboxPath;
  readonly isGzip: boolean;
  readonly sizeBytes: number;
  /** A Thunderbird index (`NAME.msf`) lies beside it: the file is evidently a mail folder. */
  readonly hasThunderbirdIndex?: true;
}

export interface IgnoredSourceEntry {
  readonly path: string;
  readonly reason: string;
  /** Never mail: a mail client's or server's index, settings or hidden file. Not worth a warning. */
  readonly isBookkeeping?: true;
}

export interface MboxSourceTree {
  readonly root: string;
  readonly isSingleFile: boolean;
  readonly files: MboxSourceFile[];
  readonly ignored: IgnoredSourceEntry[];
  /** Subscription files found (Dovecot mbox `.subscriptions`, UW-IMAP `.mailboxlist`), relative to the root. */
  readonly subscriptionFiles: string[];
  /** How file names were read as modified UTF-7 (see Mutf7Names); subscription lists are read the same way. */
  readonly mutf7Names: Mutf7Names;
  /**
   * Files and directories that may hold mail and cannot be read: a name that is not valid UTF-8 (no folder name can
   * be made of it), a directory that cannot be listed, a file gone or refused. Each is a skipped item, not a note.
   */
  readonly unreadable: IgnoredSourceEntry[];
}

const subscriptionFileNames = new Set(['.subscriptions', '.mailboxlist']);

/**
 * Lists the mbox files under SOURCE. Symlinks are never followed (reported instead), so a link in the tree cannot
 * lead us out of it or make us read a folder twice. Directories are walked depth-first in name order so folder order
 * and reports are stable.
 */
export async function readMboxSourceTree(source: string, options: { singleFileFolder?: MailboxPath } = {}): Promise<MboxSourceTree> {
  let root: string;
  try {
    // The root the user named is trusted (it may itself be a link, like /var/mail -> /var/spool/mail).
    root = await realpath(source);
  } catch (err) {
    throw new MailshiftError('MAILSHIFT_SOURCE_MISSING', `cannot open source ${source}: ${systemErrorCode(err) ?? String(err)}`, {
      hint: 'give an mbox file, a .gz of one, or a directory of mbox files',
      cause: err,
    });
  }
  const rootStat = await lstat(root);
  if (rootStat.isFile()) {
    const isGzip = /\.gz$/i.test(root);
    return {
      root,
      isSingleFile: true,
      files: [{ file: root, relativePath: '', folder: options.singleFileFolder ?? 'INBOX', isGzip, sizeBytes: rootStat.size }],
      ignored: [],
      subscriptionFiles: [],
      mutf7Names: 'non-ascii',
      unreadable: [],
    };
  }
  if (!rootStat.isDirectory()) {
    throw new MailshiftError('MAILSHIFT_SOURCE_NOT_MBOX', `${source} is neither a file nor a directory`, {
      hint: 'give an mbox file, a .gz of one, or a directory of mbox files',
    });
  }
  if (await isMaildir(root)) {
    throw new MailshiftError('MAILSHIFT_SOURCE_IS_MAILDIR', `${source} is a maildir, not mbox`, {
      hint: 'maildirs are copied, not converted: use `mailshift copy SOURCE TARGET`',
    });
  }
  const files: MboxSourceFile[] = [];
  const ignored: IgnoredSourceEntry[] = [];
  const subscriptionFiles: string[] = [];
  const unreadable: IgnoredSourceEntry[] = [];
  let hasImapWriter = false;
  const walk = async (dir: string, relativeDir: string): Promise<void> => {
    let rawEntries;
    try {
      // Names as bytes: a name that is not valid UTF-8 read as a string would be a different name (U+FFFD).
      rawEntries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      unreadable.push({ path: relativeDir || '.', reason: `cannot read the directory (${systemErrorCode(err) ?? String(err)}); nothing in it was converted` });
      return;
    }
    const entries = [];
    for (const entry of rawEntries) {
      const raw = entry.name as unknown as Buffer;
      const name = raw.toString('utf8');
      if (Buffer.from(name, 'utf8').equals(raw)) {
        entries.push(Object.assign(entry, { name }) as unknown as Dirent);
        continue;
      }
      const shown = relativeDir ? `${relativeDir}/${formatRawName(raw)}` : formatRawName(raw);
      unreadable.push({ path: shown, reason: `its name is not valid UTF-8, so no folder name can be made of it; not converted (rename it and run again)` });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const names = new Set(entries.map((entry) => entry.name));
    for (const entry of entries) {
      const relativePath = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        ignored.push({ path: relativePath, reason: 'symbolic link, not followed' });
      } else if (entry.isDirectory()) {
        if (entry.name === '.imap') hasImapWriter = true; // Dovecot's index directory for mbox
        if (entry.name.startsWith('.')) ignored.push({ path: relativePath, reason: 'hidden directory (mail client or server index)', isBookkeeping: true });
        else if (await isMaildir(full)) ignored.push({ path: relativePath, reason: 'a maildir, not an mbox: copy it with `mailshift copy`' });
        else await walk(full, relativePath);
      } else if (entry.isFile()) {
        if (subscriptionFileNames.has(entry.name) && relativeDir === '') {
          subscriptionFiles.push(relativePath);
          hasImapWriter = true;
          continue;
        }
        const reason = classifyNonMboxName(entry.name);
        if (reason) {
          ignored.push({ path: relativePath, reason, isBookkeeping: true });
          continue;
        }
        let stat;
        try {
          stat = await lstat(full);
        } catch (err) {
          unreadable.push({ path: relativePath, reason: `cannot read the file (${systemErrorCode(err) ?? String(err)})` });
          continue;
        }
        files.push({
          file: full,
          relativePath,
          folder: mboxFileToMailboxPath(relativePath),
          isGzip: /\.gz$/i.test(entry.name),
          sizeBytes: stat.size,
          ...(names.has(`${entry.name}.msf`) ? { hasThunderbirdIndex: true as const } : {}),
        });
      } else {
        ignored.push({ path: relativePath, reason: 'not a regular file (device, FIFO or socket), not opened' });
      }
    }
  };
  await walk(root, '');
  // Dovecot and UW-IMAP write file names in modified UTF-7: where the tree shows one of them (a .imap/ index
  // directory, a subscription list, a file that starts with their FOLDER INTERNAL DATA message), every valid name is
  // decoded; elsewhere only names that decode to non-ASCII text.
  if (!hasImapWriter) {
    for (const file of files) {
      if (file.relativePath.includes('&') && (await startsWithImapBookkeeping(file.file))) {
        hasImapWriter = true;
        break;
      }
    }
  }
  const mutf7Names: Mutf7Names = hasImapWriter ? 'all' : 'non-ascii';
  const named = files.map((file) => ({ ...file, folder: mboxFileToMailboxPath(file.relativePath, mutf7Names) }));
  return { root, isSingleFile: false, files: named, ignored, subscriptionFiles, mutf7Names, unreadable };
}

/** Whether a file's first message is UW-IMAP/Dovecot bookkeeping (FOLDER INTERNAL DATA, X-IMAP, X-IMAPbase). */
async function startsWithImapBookkeeping(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const head = buffer.toString('latin1', 0, bytesRead);
    return /^From [^\n]*\n(?:[^\n]+\n)*?X-IMAP(?:base)?:/.test(head) || head.includes('FOLDER INTERNAL DATA');
  } catch {
    return false; // unreadable: reported when it is read
  } finally {
    await handle?.close();
  }
}

async function isMaildir(dir: string): Promise<boolean> {
  try {
    const names = new Set(await readdir(dir));
    return names.has('cur') && names.has('new');
  } catch {
    return false;
  }
}
