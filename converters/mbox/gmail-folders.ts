/**
 * Gmail Takeout labels -> folders (maildir-format.md §6.5). Each folder label becomes a folder; system labels that
 * are states, not places (Opened, Unread, Starred, Important, Archived, categories) are not folders. A message with
 * no folder label was archived: it goes to "Archive".
 *
 * 'folders' (the default) stores one copy per folder label, as Gmail's IMAP shows it; 'single' stores one copy in the
 * first folder by priority (Inbox, Sent, Drafts, Junk, Trash, then user labels in order) and keeps the other labels as
 * keywords where they are valid IMAP atoms.
 */
export type GmailLabelMode = 'folders' | 'single';

const systemFolders: Record<string, string> = {
  inbox: 'INBOX',
  sent: 'Sent',
  'sent mail': 'Sent',
  drafts: 'Drafts',
  draft: 'Drafts',
  spam: 'Junk',
  trash: 'Trash',
  chat: 'Chats',
};
const stateLabels = new Set(['opened', 'unread', 'starred', 'important', 'archived']);
const priority = ['INBOX', 'Sent', 'Drafts', 'Junk', 'Trash'];

export interface GmailPlacement {
  readonly folders: string[];
  readonly keywords: string[];
}

export function decideGmailPlacement(labels: readonly string[], mode: GmailLabelMode): GmailPlacement {
  const folders: string[] = [];
  for (const label of labels) {
    const lower = label.toLowerCase();
    if (stateLabels.has(lower) || lower.startsWith('category ') || lower.startsWith('imap_')) continue;
    const folder = systemFolders[lower] ?? label.replace(/^\/+|\/+$/g, '');
    if (folder !== '' && !folders.includes(folder)) folders.push(folder);
  }
  if (folders.length === 0) folders.push('Archive');
  if (mode === 'folders') return { folders, keywords: [] };
  const ordered = [...folders].sort((a, b) => rank(a) - rank(b));
  const [chosen, ...others] = ordered;
  return { folders: [chosen!], keywords: others.map((name) => name.replace(/\s+/g, '_')) };
}

function rank(folder: string): number {
  const index = priority.indexOf(folder);
  return index < 0 ? priority.length : index;
}
