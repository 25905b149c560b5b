import { isInbox } from '../folders/maildirpp.js';
import { decodeMutf7, isCanonicalMutf7 } from '../folders/mutf7.js';

/**
 * Which file names are taken as modified UTF-7, as Dovecot and UW-IMAP name mbox folder files ("Entwürfe" is the
 * file `Entw&APw-rfe`): 'non-ascii' decodes a level that is canonical modified UTF-7 and decodes to non-ASCII text
 * (a name a person typed is practically never that); 'all' (the tree shows a Dovecot or UW-IMAP writer) decodes
 * every canonical one, `&-` for '&' included.
 */
export type Mutf7Names = 'non-ascii' | 'all';

/**
 * Maps an mbox file's path inside the source tree to a MailboxPath ('/'-separated, INBOX canonical):
 * - Thunderbird keeps subfolders of "Work" in a directory "Work.sbd": "Work.sbd/Projects" -> "Work/Projects".
 * - Apple Mail and Takeout name files or directories "X.mbox" (Apple: "X.mbox/mbox"): the extension is dropped.
 * - ".gz" is dropped (the file is read through gunzip), and so is a ".txt" before it (Mailman pipermail archives).
 * - A top-level "inbox" (any case) is INBOX; so is "INBOX.mbox" and "Inbox" (Thunderbird).
 * Returns the list of levels; callers validate and encode them.
 */
export function mboxFileToMailboxPath(relativePath: string, mutf7: Mutf7Names = 'non-ascii'): string {
  const parts = relativePath.split('/').filter((part) => part.length > 0);
  const levels: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    let part = parts[i]!;
    const isLast = i === parts.length - 1;
    if (isLast && part === 'mbox' && levels.length > 0 && /\.mbox$/i.test(parts[i - 1] ?? '')) break; // Apple "X.mbox/mbox"
    // Mailman's pipermail keeps each month as "2007-January.txt" and "2007-January.txt.gz" (the same messages).
    if (isLast) part = part.replace(/\.gz$/i, '').replace(/\.txt$/i, '');
    part = part.replace(/\.(sbd|mbox)$/i, '');
    levels.push(decodeMutf7Level(part, mutf7));
  }
  if (levels.length === 0) return 'INBOX';
  if (levels.length === 1 && isInbox(levels[0]!)) return 'INBOX';
  return levels.join('/');
}

function decodeMutf7Level(level: string, mutf7: Mutf7Names): string {
  if (!level.includes('&') || !isCanonicalMutf7(level)) return level;
  const decoded = decodeMutf7(level);
  return mutf7 === 'all' || /[^\x00-\x7f]/.test(decoded) ? decoded : level;
}

/** File names that are never mbox folders: mail client indexes, Dovecot/UW-IMAP bookkeeping, OS litter. */
export function classifyNonMboxName(name: string): string | undefined {
  if (name.startsWith('.')) return 'hidden file';
  if (/\.(msf|dat|json|html?|sqlite|sqlite-journal|db|lock|lck|idx|index|summary|toc|ibex|cmeta|emlxpart)$/i.test(name)) {
    return 'mail client index or settings file';
  }
  // Dovecot's own files by their real names; any other "dovecot-..." name may be a folder someone chose (a spool
  // copied as dovecot-inbox), and is read like any file: one that is not mbox is listed as such, never dropped.
  if (/^dovecot(\.index(\..*)?|\.list\.index(\..*)?|\.mailbox\.log(\..*)?|\.map\.index(\..*)?|-uidlist(\.lock)?|-keywords(\.lock)?|-uidvalidity(\.[0-9a-f]+)?|-acl(-list)?|-quota|\.sieve)$/i.test(name)) {
    return 'Dovecot bookkeeping file';
  }
  return undefined;
}
