import { describe, expect, it } from 'vitest';
import { FolderNameError, mailboxPathToMaildirpp, maildirppToMailboxPath } from '../../../converters/folders/maildirpp.js';

describe('Maildir++ folder names', () => {
  it('stores INBOX at the root and other folders as dot-joined siblings', () => {
    expect(mailboxPathToMaildirpp('INBOX')).toBe('');
    expect(mailboxPathToMaildirpp('Work/Projects')).toBe('.Work.Projects');
    expect(mailboxPathToMaildirpp('INBOX/Sent')).toBe('.Sent');
  });
  it('stores non-ASCII names in modified UTF-7', () => {
    expect(mailboxPathToMaildirpp('Entwürfe')).toBe('.Entw&APw-rfe');
    expect(maildirppToMailboxPath('.Entw&APw-rfe')).toBe('Entwürfe');
  });
  it('never merges "v1.2" with "v1" > "2": a literal dot is stored as U+2024, not as a separator', () => {
    const dotted = mailboxPathToMaildirpp('Work/v1.2 release');
    expect(dotted).toBe('.Work.v1&ICQ-2 release');
    expect(dotted).not.toBe(mailboxPathToMaildirpp('Work/v1/2 release'));
    expect(maildirppToMailboxPath(dotted)).toBe('Work/v1\u20242 release');
  });
  it('refuses names that would escape the target or hide control characters', () => {
    for (const bad of ['..', 'a/../b', 'a/./b', 'bad\nname', 'tab\there', '', 'a//b']) {
      expect(() => mailboxPathToMaildirpp(bad), JSON.stringify(bad)).toThrow(FolderNameError);
    }
  });
  it('never yields a path separator on disk', () => {
    for (const name of ['a/b/c', 'x.y/z', 'Tom & Jerry', 'Sent Items']) expect(mailboxPathToMaildirpp(name)).not.toContain('/');
  });
  it('refuses names longer than a directory name may be', () => {
    expect(() => mailboxPathToMaildirpp('x'.repeat(300))).toThrow(/longer than/);
  });
  it('refuses directories that are not Maildir++ folders', () => {
    expect(() => maildirppToMailboxPath('cur')).toThrow(FolderNameError);
    expect(() => maildirppToMailboxPath('.a..b')).toThrow(FolderNameError);
  });
});
