import type { TreeEntry } from '../../fsops/walk.js';
import { scanMaildir } from './maildir-scan.js';
import { scanMboxDir } from './mbox-scan.js';
import { scanMdbox } from './mdbox-scan.js';
import type { ScanContext } from './scan-context.js';
import type { FolderInventory, MailboxFormat, MaildirsizeInfo } from './types.js';

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
