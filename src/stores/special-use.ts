import type { MailboxPath, SpecialUse } from '../core/types.js';

const specialUseNames: Record<string, SpecialUse> = {
  sent: '\\Sent',
  'sent items': '\\Sent',
  'sent messages': '\\Sent',
  'sent mail': '\\Sent',
  drafts: '\\Drafts',
  trash: '\\Trash',
  'deleted items': '\\Trash',
  'deleted messages': '\\Trash',
  junk: '\\Junk',
  spam: '\\Junk',
  'junk e-mail': '\\Junk',
  archive: '\\Archive',
  archives: '\\Archive',
};

/**
 * File stores (maildir, mbox) have no SPECIAL-USE attributes on disk; top-level well-known names are what servers mark
 * (cPanel's set).
 */
export function guessSpecialUse(mailbox: MailboxPath): SpecialUse | undefined {
  if (mailbox.includes('/')) return undefined;
  return specialUseNames[mailbox.toLowerCase()];
}
