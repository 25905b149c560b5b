import { describe, expect, it } from 'vitest';
import {
  decodeListedName,
  FolderMappingError,
  imapNameToMailboxPath,
  mailboxPathToImapName,
  parseFolderExclude,
  parseFolderMapRule,
  planFolderMapping,
  type FolderEntry,
} from '../../../converters/folders/imap-mapping.js';

const cpanel = { prefix: 'INBOX.', delimiter: '.' };
const slash = { prefix: '', delimiter: '/' };

describe('imapNameToMailboxPath', () => {
  it('strips the namespace prefix and translates the delimiter', () => {
    expect(imapNameToMailboxPath('INBOX.Sent', cpanel)).toBe('Sent');
    expect(imapNameToMailboxPath('INBOX.Work.Projects', cpanel)).toBe('Work/Projects');
    expect(imapNameToMailboxPath('Work/Projects', slash)).toBe('Work/Projects');
    expect(imapNameToMailboxPath('[Gmail]/Sent Mail', slash)).toBe('[Gmail]/Sent Mail');
  });
  it('keeps INBOX canonical whatever its case', () => {
    expect(imapNameToMailboxPath('inbox', cpanel)).toBe('INBOX');
    expect(imapNameToMailboxPath('Inbox', slash)).toBe('INBOX');
  });
  it('accepts the prefix in another case (INBOX is case-insensitive)', () => {
    expect(imapNameToMailboxPath('inbox.Sent', cpanel)).toBe('Sent');
  });
  it('keeps a slash inside a level from becoming a hierarchy level', () => {
    expect(imapNameToMailboxPath('INBOX.a/b', cpanel)).toBe('a_b');
  });
  it('refuses names that would escape a tree or are empty', () => {
    expect(() => imapNameToMailboxPath('INBOX...', cpanel)).toThrow(FolderMappingError);
    expect(() => imapNameToMailboxPath('a/../b', slash)).toThrow(FolderMappingError);
    expect(() => imapNameToMailboxPath('a/\u0007', slash)).toThrow(FolderMappingError);
    expect(() => imapNameToMailboxPath('INBOX.', cpanel)).toThrow(FolderMappingError);
  });
  it('treats a flat namespace as one level', () => {
    expect(imapNameToMailboxPath('a.b/c', { prefix: '', delimiter: null })).toBe('a.b_c');
  });
});

describe('mailboxPathToImapName', () => {
  it('adds the prefix and joins with the delimiter', () => {
    expect(mailboxPathToImapName('Work/Projects', cpanel)).toBe('INBOX.Work.Projects');
    expect(mailboxPathToImapName('Work/Projects', slash)).toBe('Work/Projects');
    expect(mailboxPathToImapName('INBOX', cpanel)).toBe('INBOX');
  });
  it('never lets a delimiter inside a level create a new level', () => {
    expect(mailboxPathToImapName('v1.2/notes', cpanel)).toBe('INBOX.v1_2.notes');
  });
  it('maps INBOX/Sub to the prefixed folder, not INBOX.INBOX.Sub', () => {
    expect(mailboxPathToImapName('INBOX/Sub', cpanel)).toBe('INBOX.Sub');
    expect(mailboxPathToImapName('INBOX/Sub', slash)).toBe('INBOX/Sub');
  });
  it('round-trips with imapNameToMailboxPath, non-ASCII included', () => {
    for (const path of ['Entwürfe', 'Work/Projects/2019', 'Envoyés/R&D', '日本語/フォルダ']) {
      for (const ns of [cpanel, slash]) expect(imapNameToMailboxPath(mailboxPathToImapName(path, ns), ns)).toBe(path);
    }
  });
});

describe('decodeListedName', () => {
  it('decodes modified UTF-7 unless the session speaks UTF-8', () => {
    expect(decodeListedName('INBOX.Entw&APw-rfe', false)).toBe('INBOX.Entwürfe');
    expect(decodeListedName('R&-D', false)).toBe('R&D');
    expect(decodeListedName('R&-D', true)).toBe('R&-D');
  });
});

describe('planFolderMapping', () => {
  const gmail: FolderEntry[] = [
    { path: 'INBOX' },
    { path: '[Gmail]/All Mail', specialUse: '\\All' },
    { path: '[Gmail]/Drafts', specialUse: '\\Drafts' },
    { path: '[Gmail]/Important', specialUse: '\\Important' },
    { path: '[Gmail]/Sent Mail', specialUse: '\\Sent' },
    { path: '[Gmail]/Spam', specialUse: '\\Junk' },
    { path: '[Gmail]/Starred', specialUse: '\\Flagged' },
    { path: '[Gmail]/Trash', specialUse: '\\Trash' },
    { path: 'Receipts' },
    { path: 'Work/Clients' },
  ];
  const cpanelTarget: FolderEntry[] = [
    { path: 'INBOX' },
    { path: 'Drafts', specialUse: '\\Drafts' },
    { path: 'Sent', specialUse: '\\Sent' },
    { path: 'spam', specialUse: '\\Junk' },
    { path: 'Trash', specialUse: '\\Trash' },
  ];

  it('maps Gmail system folders by role, skips its virtual folders and carries labels as folders', () => {
    const rows = planFolderMapping(gmail, cpanelTarget);
    const table = Object.fromEntries(rows.map((row) => [row.source, row.action === 'copy' ? row.target : 'SKIP']));
    expect(table).toEqual({
      INBOX: 'INBOX',
      '[Gmail]/All Mail': 'SKIP',
      '[Gmail]/Drafts': 'Drafts',
      '[Gmail]/Important': 'SKIP',
      '[Gmail]/Sent Mail': 'Sent',
      '[Gmail]/Spam': 'spam',
      '[Gmail]/Starred': 'SKIP',
      '[Gmail]/Trash': 'Trash',
      Receipts: 'Receipts',
      'Work/Clients': 'Work/Clients',
    });
  });

  it('skips Gmail virtual folders by name when the server marks nothing', () => {
    const rows = planFolderMapping([{ path: '[Google Mail]/All Mail' }, { path: '[Gmail]/Starred' }], []);
    expect(rows.every((row) => row.action === 'skip')).toBe(true);
  });

  it('uses a well-known name on the target when nothing there is marked', () => {
    const rows = planFolderMapping([{ path: 'Sent Items', specialUse: '\\Sent' }], [{ path: 'Sent Messages' }]);
    expect(rows[0]).toMatchObject({ action: 'copy', target: 'Sent Messages' });
    const none = planFolderMapping([{ path: 'Sent Items', specialUse: '\\Sent' }], []);
    expect(none[0]).toMatchObject({ action: 'copy', target: 'Sent' });
  });

  it('does not merge two source folders that share a role', () => {
    const rows = planFolderMapping(
      [
        { path: 'Sent Messages', specialUse: '\\Sent' },
        { path: 'Sent', specialUse: '\\Sent' },
      ],
      [{ path: 'Gesendet', specialUse: '\\Sent' }],
    );
    expect(rows).toEqual([
      { action: 'copy', source: 'Sent Messages', target: 'Sent Messages', reason: 'same name' },
      { action: 'copy', source: 'Sent', target: 'Gesendet', reason: 'SPECIAL-USE \\Sent' },
    ]);
  });

  it('applies --map with groups before roles, and --exclude before everything', () => {
    const rows = planFolderMapping(gmail, cpanelTarget, {
      maps: [parseFolderMapRule('^Work/(.*)$=>Archive/$1'), parseFolderMapRule('^\\[Gmail\\]/All Mail$=>All')],
      excludes: [parseFolderExclude('^Receipts$'), parseFolderExclude('Spam')],
    });
    const bySource = new Map(rows.map((row) => [row.source, row]));
    expect(bySource.get('Work/Clients')).toMatchObject({ action: 'copy', target: 'Archive/Clients' });
    expect(bySource.get('[Gmail]/All Mail')).toMatchObject({ action: 'copy', target: 'All' });
    expect(bySource.get('Receipts')).toMatchObject({ action: 'skip', reason: '--exclude ^Receipts$' });
    expect(bySource.get('[Gmail]/Spam')).toMatchObject({ action: 'skip' });
  });

  it('refuses a --map result that would escape the tree', () => {
    const rows = planFolderMapping([{ path: 'a' }], [], { maps: [parseFolderMapRule('^a$=>../etc')] });
    expect(rows[0]).toMatchObject({ action: 'skip' });
  });

  it('rejects malformed rules with a clear error', () => {
    expect(() => parseFolderMapRule('Sent')).toThrow(/REGEX=>NAME/);
    expect(() => parseFolderMapRule('(=>x')).toThrow(/not a valid regular expression/);
    expect(() => parseFolderMapRule('a=> ')).toThrow(/no target/);
  });
});
