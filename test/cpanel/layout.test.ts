import { describe, expect, it } from 'vitest';
import { findMailboxDirs, isDomainDirName, isSafeDomain, mailboxDirOf, reservedMailDirNames } from '../../src/cpanel/layout.js';
import type { TreeEntry } from '../../src/hosts/find.js';

const e = (p: string, type: TreeEntry['type'] = 'dir'): TreeEntry => ({ type, path: p, sizeBytes: 0, uid: 0, gid: 0, mode: 0o755, nlink: 1, mtimeMs: 0, ctimeMs: 0, device: 1, inode: 1 });

describe('cPanel layout', () => {
  it('takes a directory of ~/mail for a domain when its name has a dot and is not a folder or Dovecot file', () => {
    expect(isDomainDirName('example.com')).toBe(true);
    expect(isDomainDirName('sub.example.co.uk')).toBe(true);
    expect(isDomainDirName('.Sent')).toBe(false);
    expect(isDomainDirName('.example.com')).toBe(false);
    expect(isDomainDirName('nodot')).toBe(false);
    expect(isDomainDirName('dovecot.index.cache')).toBe(false);
    expect(isDomainDirName('dovecot-uidlist')).toBe(false);
  });

  it('never takes a reserved name for a domain: the lists copy and discover each had, in one', () => {
    for (const name of ['new', 'cur', 'tmp', 'INBOX', 'dbox-Mails', 'storage', 'mailboxes', 'archive', 'virtual', 'subscriptions', 'maildirfolder', 'maildirsize']) {
      expect(reservedMailDirNames.has(name), name).toBe(true);
      expect(isDomainDirName(name), name).toBe(false);
    }
  });

  it('accepts as safe only plain lower-case host names', () => {
    expect(isSafeDomain('example.com')).toBe(true);
    expect(isSafeDomain('a-b.example')).toBe(true);
    for (const bad of ['Example.com', 'nodot', 'a..b', '-a.example', 'a.example-', '../x.example', 'a/b.example', '*.example']) expect(isSafeDomain(bad), bad).toBe(false);
  });

  it('finds the mailboxes of ~/mail: DOMAIN/LOCAL with a cur/, never a link, a dot entry or cPanel state', () => {
    const entries = [
      e('example.com'),
      e('example.com/info'),
      e('example.com/info/cur'),
      e('example.com/nocur'),
      e('example.com/.hidden'),
      e('example.com/.hidden/cur'),
      e('example.com/@pwcache'),
      e('example.com/@pwcache/cur'),
      e('example.com/boxtrapper'),
      e('example.com/boxtrapper/cur'),
      e('example.com/linked', 'symlink'),
      e('.Sent'),
      e('.Sent/cur'),
      e('storage'),
      e('storage/x'),
      e('storage/x/cur'),
      e('b.example'),
      e('b.example/sales'),
      e('b.example/sales/cur'),
    ];
    expect(findMailboxDirs(entries)).toEqual(['b.example/sales', 'example.com/info']);
  });

  it('puts a mailbox at DOMAIN/LOCAL under ~/mail', () => {
    expect(mailboxDirOf({ localPart: 'info', domain: 'example.com' })).toBe('example.com/info');
  });
});
