import { describe, expect, it } from 'vitest';
import { classifyMailPath, classifyMember, parseBackupFileName, parseEntryName, topDirOf } from '../../src/archive/names.js';

describe('parseBackupFileName', () => {
  it('finds the user in every name cPanel accepts for a backup', () => {
    expect(parseBackupFileName('/b/cpmove-bob.tar.gz')).toBe('bob');
    expect(parseBackupFileName('cpmove-bob')).toBe('bob');
    expect(parseBackupFileName('bob.tar')).toBe('bob');
    expect(parseBackupFileName('backup-12.7.2026_04-30-00_bob.tar.gz')).toBe('bob');
    expect(parseBackupFileName('not a user.tar')).toBeUndefined();
  });
});

describe('parseEntryName', () => {
  it('drops the cpmove-USER level, "." and empty segments', () => {
    expect(parseEntryName('cpmove-bob/homedir/./mail//cur/x')).toEqual({ ok: true, parts: ['homedir', 'mail', 'cur', 'x'] });
    expect(parseEntryName('./homedir/mail/cur/x')).toEqual({ ok: true, parts: ['homedir', 'mail', 'cur', 'x'] });
    expect(topDirOf('./cpmove-bob/cp/bob')).toBe('cpmove-bob');
  });

  it('puts the names of a nested homedir.tar under homedir/', () => {
    expect(parseEntryName('mail/cur/x', { nested: true })).toEqual({ ok: true, parts: ['homedir', 'mail', 'cur', 'x'] });
  });

  it('refuses absolute names, ".." anywhere, NUL bytes and control characters', () => {
    expect(parseEntryName('/etc/passwd')).toMatchObject({ ok: false, refusal: 'absolute-path' });
    expect(parseEntryName('cpmove-bob/homedir/mail/../../../x')).toMatchObject({ ok: false, refusal: 'parent-segment' });
    expect(parseEntryName('cpmove-bob/a\u0000b')).toMatchObject({ ok: false, refusal: 'nul-byte' });
    expect(parseEntryName('cpmove-bob/homedir/mail/cur/a\nb')).toMatchObject({ ok: false, refusal: 'unsafe-name' });
    expect(parseEntryName('./')).toMatchObject({ ok: false, refusal: 'empty-name' });
  });

  it('accepts UTF-8 names as they are', () => {
    expect(parseEntryName('cpmove-bob/homedir/mail/example.com/a/.Entw\u00fcrfe/cur/x')).toMatchObject({ ok: true });
  });
});

describe('classifyMember', () => {
  it('tells mail, the nested home, the account files and the rest apart', () => {
    expect(classifyMember(['homedir', 'mail', 'cur', 'x'])).toEqual({ kind: 'mail', rest: ['cur', 'x'] });
    expect(classifyMember(['homedir.tar'])).toEqual({ kind: 'nested-home' });
    expect(classifyMember(['homedir', 'etc', 'example.com', 'passwd'])).toEqual({ kind: 'home', rest: ['etc', 'example.com', 'passwd'] });
    expect(classifyMember(['cp', 'bob'])).toEqual({ kind: 'cpuser', user: 'bob' });
    expect(classifyMember(['va', 'example.com'])).toEqual({ kind: 'routing', table: 'valiases', domain: 'example.com' });
    expect(classifyMember(['vf', 'example.com'])).toEqual({ kind: 'routing', table: 'vfilters', domain: 'example.com' });
    expect(classifyMember(['mysql', 'db.sql'])).toEqual({ kind: 'other' });
  });
});

describe('classifyMailPath', () => {
  it('finds the mailbox, the folder and the message', () => {
    expect(classifyMailPath(['example.com', 'alice', 'cur', 'm:2,S'])).toEqual({ kind: 'message', mailbox: 'example.com/alice', folder: '', sub: 'cur', name: 'm:2,S' });
    expect(classifyMailPath(['example.com', 'alice', '.Sent', 'new', 'm'])).toEqual({ kind: 'message', mailbox: 'example.com/alice', folder: '.Sent', sub: 'new', name: 'm' });
    expect(classifyMailPath(['cur', 'm:2,S'])).toMatchObject({ kind: 'message', mailbox: '', folder: '' });
    expect(classifyMailPath(['.Sent', 'cur', 'm'])).toMatchObject({ kind: 'message', mailbox: '', folder: '.Sent' });
  });

  it('keeps the control files, leaves out indexes and tmp/, and recognises mdbox', () => {
    expect(classifyMailPath(['example.com', 'alice', 'dovecot-uidlist'])).toMatchObject({ kind: 'control', name: 'dovecot-uidlist' });
    expect(classifyMailPath(['example.com', 'alice', '.Sent', 'dovecot-keywords'])).toMatchObject({ kind: 'control', folder: '.Sent' });
    expect(classifyMailPath(['example.com', 'alice', 'dovecot.index.cache'])).toMatchObject({ kind: 'index' });
    expect(classifyMailPath(['example.com', 'alice', 'maildirsize'])).toMatchObject({ kind: 'index' });
    expect(classifyMailPath(['example.com', 'alice', 'tmp', 'half'])).toMatchObject({ kind: 'tmp-file' });
    expect(classifyMailPath(['example.com', 'carol', 'storage', 'm.1'])).toEqual({ kind: 'mdbox', mailbox: 'example.com/carol' });
  });

  it('refuses a folder name with an empty level', () => {
    expect(classifyMailPath(['example.com', 'alice', '.a..b', 'cur', 'm'])).toMatchObject({ kind: 'other', problem: expect.stringContaining('.a..b') });
  });
});
