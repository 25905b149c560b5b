import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyStoreDir, readFileAccess, type StoreDirEntry } from '../../src/engine/file-access.js';
import { parseStoreSpec } from '../../src/stores/spec.js';

const dir = (p: string): StoreDirEntry => ({ path: p, type: 'dir' });
const file = (p: string): StoreDirEntry => ({ path: p, type: 'file' });
const classify = (...entries: StoreDirEntry[]) => classifyStoreDir(entries, '/srv/x');

describe('classifyStoreDir', () => {
  it('calls a directory with storage/m.N files an mdbox store', () => {
    expect(classify(dir('storage'), dir('mailboxes'), file('storage/m.1'), file('storage/m.27'))).toEqual({
      isReachable: false,
      cause: 'dbox',
      reason: '/srv/x is a Dovecot mdbox store (mail inside storage/m.* files), not maildir files',
    });
  });

  it('recognises mdbox by its map index alone (dovecot.map.index, or only its .log before the first index write)', () => {
    expect(classify(dir('storage'), file('storage/dovecot.map.index')).isReachable).toBe(false);
    expect(classify(dir('storage'), file('storage/dovecot.map.index.log')).isReachable).toBe(false);
  });

  it('takes an empty storage/ on its own for plain files', () => {
    expect(classify(dir('storage'))).toEqual({ isReachable: true, reason: '/srv/x holds no Dovecot dbox store: copied at file level' });
  });

  it('recognises an mdbox that holds no message yet: storage/ next to mailboxes/NAME/dbox-Mails', () => {
    const access = classify(dir('storage'), dir('mailboxes'), dir('mailboxes/INBOX'), dir('mailboxes/INBOX/dbox-Mails'));
    expect(access).toMatchObject({ isReachable: false, cause: 'dbox' });
    expect(access.reason).toMatch(/Dovecot mdbox store/);
  });

  it('recognises sdbox: dbox-Mails directories and no storage/', () => {
    const access = classify(dir('mailboxes'), dir('mailboxes/Work'), dir('mailboxes/Work/Projects'), dir('mailboxes/Work/Projects/dbox-Mails'));
    expect(access).toMatchObject({ isReachable: false, cause: 'dbox' });
    expect(access.reason).toMatch(/Dovecot sdbox store/);
  });

  it('keeps a maildir a maildir when it has a folder named "storage" (LAYOUT=fs) or ".storage" (Maildir++)', () => {
    expect(classify(dir('cur'), dir('new'), dir('tmp'), dir('storage'), dir('storage/cur'), dir('storage/new'))).toEqual({
      isReachable: true,
      reason: '/srv/x is a maildir: copied at file level',
    });
    expect(classify(dir('cur'), dir('new'), dir('tmp'), dir('.storage')).isReachable).toBe(true);
    // Even a folder "storage/m.1" is a directory, never an mdbox map file.
    expect(classify(dir('storage'), dir('storage/m.1'), dir('storage/m.1/cur')).isReachable).toBe(true);
  });

  it('lets cur/ win when a directory holds both a maildir and mdbox leftovers (the maildir is what a file copy takes)', () => {
    expect(classify(dir('cur'), dir('new'), dir('storage'), file('storage/m.1')).isReachable).toBe(true);
  });

  it('is not fooled by look-alike names', () => {
    expect(classify(dir('storage'), file('storage/m.1.bak'), file('storage/m.x'), file('storage/mm.1')).isReachable).toBe(true);
    expect(classify(dir('mailboxes'), file('mailboxes/dbox-Mails'), dir('mailboxes/dbox-Mails-old')).isReachable).toBe(true);
    expect(classify({ path: 'storage/m.1', type: 'symlink' }).isReachable).toBe(true);
  });

  it('takes an empty directory for plain files', () => {
    expect(classify().isReachable).toBe(true);
  });
});

describe('readFileAccess on local directories', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'mailshift-fallback-'));
    // A Dovecot mdbox as Dovecot 2.3 leaves it after saving into INBOX and Work.
    for (const p of ['mdbox/mailboxes/INBOX/dbox-Mails', 'mdbox/mailboxes/Work/dbox-Mails', 'mdbox/storage']) await mkdir(path.join(root, p), { recursive: true });
    await writeFile(path.join(root, 'mdbox/storage/m.1'), 'dbox file');
    await writeFile(path.join(root, 'mdbox/storage/dovecot.map.index.log'), '');
    await writeFile(path.join(root, 'mdbox/dovecot-uidvalidity'), '');
    // A maildir with a LAYOUT=fs folder called "storage" and another called "mailboxes".
    for (const p of ['maildir/cur', 'maildir/new', 'maildir/tmp', 'maildir/storage/cur', 'maildir/storage/new', 'maildir/mailboxes/cur']) await mkdir(path.join(root, p), { recursive: true });
    await writeFile(path.join(root, 'inbox.mbox'), 'From a@b Thu Jan  1 00:00:00 1970\n\nx\n');
    await symlink(path.join(root, 'mdbox'), path.join(root, 'link-to-mdbox'));
    // A cPanel root whose mailbox info@example.com is mdbox.
    await mkdir(path.join(root, 'cp/etc'), { recursive: true });
    await writeFile(path.join(root, 'cp/etc/userdomains'), 'example.com: alice\n');
    await writeFile(path.join(root, 'cp/etc/passwd'), 'alice:x:3001:3001::/home/alice:/bin/bash\n');
    for (const p of ['cp/home/alice/mail/example.com/info/storage', 'cp/home/alice/mail/example.com/info/mailboxes/INBOX/dbox-Mails', 'cp/home/alice/mail/cur']) {
      await mkdir(path.join(root, p), { recursive: true });
    }
    await writeFile(path.join(root, 'cp/home/alice/mail/example.com/info/storage/m.3'), 'dbox file');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const decide = (text: string) => readFileAccess(parseStoreSpec(text, { cwd: root }));

  it('says an mdbox directory cannot be copied at file level', async () => {
    expect(await decide('mdbox')).toEqual({
      isReachable: false,
      cause: 'dbox',
      reason: `${root}/mdbox is a Dovecot mdbox store (mail inside storage/m.* files), not maildir files`,
    });
  });

  it('follows the named directory when it is a link, as rsync does', async () => {
    expect(await decide('link-to-mdbox')).toMatchObject({ isReachable: false, cause: 'dbox' });
  });

  it('passes a maildir with folders called "storage" and "mailboxes"', async () => {
    expect(await decide('maildir')).toEqual({ isReachable: true, reason: `${root}/maildir is a maildir: copied at file level` });
    expect(await decide('maildir:maildir')).toMatchObject({ isReachable: true });
  });

  it('passes an mbox file, and says a missing path is missing', async () => {
    expect(await decide('mbox:inbox.mbox')).toEqual({ isReachable: true, reason: `${root}/inbox.mbox is a file (mbox): read at file level` });
    expect(await decide('no-such-dir')).toEqual({ isReachable: false, cause: 'missing', reason: `${root}/no-such-dir cannot be read (ENOENT)` });
  });

  it('looks inside the one mailbox a cPanel spec names, and only checks the root of a whole account', async () => {
    expect(await decide(`cpanel:${root}/cp#info@example.com`)).toEqual({
      isReachable: false,
      cause: 'dbox',
      reason: `${root}/cp/home/alice/mail/example.com/info is a Dovecot mdbox store (mail inside storage/m.* files), not maildir files`,
    });
    expect(await decide(`cpanel:${root}/cp#alice`)).toEqual({ isReachable: true, reason: `the cPanel root ${root}/cp is readable: copied at file level` });
  });

  it('an IMAP spec needs no file access', async () => {
    expect((await decide('imaps://alice@127.0.0.1')).isReachable).toBe(true);
  });
});
