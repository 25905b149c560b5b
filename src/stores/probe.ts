import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError, systemErrorCode } from '../core/errors.js';

/**
 * The mbox reader, loaded only when a path is neither missing nor plainly a maildir: every copy into a maildir
 * classifies its target, and the mbox driver (~80 KB) would otherwise load with it on every such start.
 */
const loadMbox = () => import('./mbox/index.js');

/**
 * The one format sniffer: what mail a path holds, maildir, mbox, or Dovecot's mdbox and sdbox, with the evidence.
 * Two entry points, because two kinds of caller see two kinds of thing:
 *   - classifyLocalMailPath looks at a local path itself (a plain path spec: maildir or mbox?);
 *   - classifyMailDirEntries is pure and reads a listing already made (here with readdir, or over ssh with find, as
 *     the file-access check does): maildir, mbox, mdbox or sdbox?
 */

export type LocalMailLayout =
  | { readonly kind: 'missing' }
  | { readonly kind: 'maildir'; readonly reason: string }
  | { readonly kind: 'mbox'; readonly reason: string }
  /** A directory with neither: no maildir folder and no file that can be an mbox. */
  | { readonly kind: 'empty' };

/**
 * What a plain local path holds, for specs without a `maildir:` or `mbox:` prefix: a file is an mbox (or a .gz of
 * one); a directory is a maildir when it has cur/ or Maildir++ folders (.Name/cur), and an mbox tree when the walk
 * that convert uses finds mbox files in it. The named path itself may be a link (like /var/mail); nothing below it
 * is followed.
 */
export async function classifyLocalMailPath(target: string): Promise<LocalMailLayout> {
  let info;
  try {
    info = await stat(target);
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return { kind: 'missing' };
    throw new MailshiftError('MAILSHIFT_SOURCE_MISSING', `cannot open ${target}: ${systemErrorCode(err) ?? String(err)}`, { cause: err });
  }
  if (info.isFile()) return { kind: 'mbox', reason: 'a file' };
  if (!info.isDirectory()) return { kind: 'empty' };
  if (await isDirectory(path.join(target, 'cur'))) return { kind: 'maildir', reason: 'has cur/' };
  let entries;
  try {
    entries = await readdir(target, { withFileTypes: true });
  } catch (err) {
    throw new MailshiftError('MAILSHIFT_SOURCE_MISSING', `cannot read ${target}: ${systemErrorCode(err) ?? String(err)}`, { cause: err });
  }
  for (const entry of entries) {
    if (entry.isDirectory() && entry.name.startsWith('.') && entry.name !== '.' && entry.name !== '..' && (await isDirectory(path.join(target, entry.name, 'cur')))) {
      return { kind: 'maildir', reason: `has Maildir++ folder ${entry.name}` };
    }
  }
  const { readMboxSourceTree, sniffMbox } = await loadMbox();
  const tree = await readMboxSourceTree(target);
  // A directory of mailboxes (cPanel's mail/DOMAIN/ holds one maildir per address) is maildir, whatever stray files
  // (subscriptions, maildirsize, notes) lie beside them.
  const maildir = tree.ignored.find((entry) => entry.reason.startsWith('a maildir'));
  if (maildir) return { kind: 'maildir', reason: `holds maildir ${maildir.path}` };
  // Only files that are mbox count: every file is a candidate for convert, which then reports the ones that are not.
  for (const file of tree.files) {
    try {
      if ((await sniffMbox(file.file, { isGzip: file.isGzip, scanForMboxrd: false })).looksLikeMbox) {
        return { kind: 'mbox', reason: `holds mbox file(s) such as ${file.relativePath || path.basename(file.file)}, no maildir` };
      }
    } catch {
      // unreadable or damaged: not evidence of mbox
    }
  }
  return { kind: 'empty' };
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await lstat(dir)).isDirectory();
  } catch {
    return false;
  }
}

/** One entry of a mail directory's listing: its path relative to the directory ('/'-separated), as find or readdir report it. */
export interface MailDirEntry {
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
}

/** What a listing says; `description` completes "X is …" ("a Dovecot sdbox store (…)"). */
export type MailDirFormat =
  | { readonly format: 'maildir'; readonly description: string }
  | { readonly format: 'mdbox' | 'sdbox'; readonly description: string }
  /** An mbox directory as Dovecot and cPanel keep one: an `inbox` file at the top, no cur/ or new/. */
  | { readonly format: 'mbox'; readonly description: string }
  /** Neither maildir nor dbox at the top: plain files. */
  | { readonly format: 'unknown' };

const mdboxStorageFile = /^storage\/(?:m\.\d+|dovecot\.map\.index.*)$/;
const dboxMailDir = /^mailboxes\/(?:.+\/)?dbox-Mails$/;

/**
 * Pure: what the entries of a mail directory (its own entries, those of storage/, and mailboxes/ two levels deep)
 * say about the mail in it.
 *
 * A maildir (cur/ or new/ at the top) is files whatever else sits next to it: a folder named "storage" in a
 * LAYOUT=fs maildir is storage/cur, storage/new, never a storage/m.1 file. mdbox is recognised by its map (the
 * storage/m.N files and storage/dovecot.map.index*, which exist once anything was saved), or, before the first
 * message, by a storage/ directory next to mailboxes/NAME/dbox-Mails; sdbox by dbox-Mails without storage/. An empty
 * storage/ on its own says nothing: plain files. An `inbox` file (any case) at the top with neither is an mbox
 * directory.
 */
export function classifyMailDirEntries(entries: readonly MailDirEntry[]): MailDirFormat {
  const has = (p: string, type: MailDirEntry['type']) => entries.some((e) => e.path === p && e.type === type);
  if (has('cur', 'dir') || has('new', 'dir')) return { format: 'maildir', description: 'a maildir' };
  if (entries.some((e) => e.type === 'file' && mdboxStorageFile.test(e.path))) {
    return { format: 'mdbox', description: 'a Dovecot mdbox store (mail inside storage/m.* files)' };
  }
  if (entries.some((e) => e.type === 'dir' && dboxMailDir.test(e.path))) {
    return has('storage', 'dir')
      ? { format: 'mdbox', description: 'a Dovecot mdbox store (mailboxes/*/dbox-Mails and storage/)' }
      : { format: 'sdbox', description: 'a Dovecot sdbox store (one dbox file per message in mailboxes/*/dbox-Mails)' };
  }
  if (entries.some((e) => e.type === 'file' && e.path.toLowerCase() === 'inbox')) return { format: 'mbox', description: 'an mbox directory (an inbox file)' };
  return { format: 'unknown' };
}

/**
 * A plain file given where a maildir belongs is taken for mbox only when it looks like one (a "From " line, or
 * gzip): a text file or a tarball is named for what it is, not called "mbox". Undefined when it is mbox (or not a
 * plain file).
 */
export async function describeNonMboxFile(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) return undefined;
    size = info.size;
  } catch {
    return undefined;
  }
  const isGzip = /\.gz$/i.test(file);
  const { sniffMbox } = await loadMbox();
  try {
    if ((await sniffMbox(file, { isGzip, scanForMboxrd: false })).looksLikeMbox) return undefined;
  } catch {
    return 'a file that cannot be read';
  }
  return size === 0 ? 'an empty file' : 'a file';
}
