import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { classifyLocalMailPath, classifyMailDirEntries, type MailDirEntry } from '../../src/stores/probe.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { writeTree } from '../support/tree.js';

const fixtures = path.resolve(import.meta.dirname, '../../fixtures/mbox');
let work: TempDir;
beforeEach(async () => {
  work = await makeTempDir('mbox-tree');
});
afterEach(async () => {
  await work.cleanup();
});

describe('classifyLocalMailPath', () => {
  it('tells an mbox file, an mbox tree, a maildir and Maildir++ folders apart', async () => {
    const inbox = await readFile(path.join(fixtures, 'sample-account/inbox'));
    await writeTree(work.path, {
      'maildir/cur': { type: 'dir' },
      'maildir/new': { type: 'dir' },
      // A Maildir++ root whose INBOX was never created still is a maildir, even with a stray mbox file beside it.
      'folders-only/.Sent/cur': { type: 'dir' },
      'folders-only/old-inbox': inbox,
      'mbox-tree/inbox': inbox,
      'mbox-tree/Work/Projects': inbox,
      'nested-only/Work/Projects': inbox,
      'empty/.imap/INBOX/dovecot.index': 'x',
      'single.mbox': inbox,
    });
    const kind = async (name: string) => (await classifyLocalMailPath(path.join(work.path, name))).kind;
    expect(await kind('maildir')).toBe('maildir');
    expect(await kind('folders-only')).toBe('maildir');
    expect(await kind('mbox-tree')).toBe('mbox');
    expect(await kind('nested-only')).toBe('mbox');
    expect(await kind('single.mbox')).toBe('mbox');
    expect(await kind('empty')).toBe('empty');
    expect(await kind('missing')).toBe('missing');
    expect((await classifyLocalMailPath(path.join(fixtures, 'thunderbird'))).kind).toBe('mbox');
  });

  it("calls a directory of mailboxes (cPanel's mail/DOMAIN/) maildir, and stray files that are not mbox no evidence of mbox", async () => {
    const inbox = await readFile(path.join(fixtures, 'sample-account/inbox'));
    await writeTree(work.path, {
      'domain/info/cur/1.host:2,S': 'Subject: x\n\nbody\n',
      'domain/info/new': { type: 'dir' },
      'domain/sales/cur': { type: 'dir' },
      'domain/sales/new': { type: 'dir' },
      'domain/subscriptions': 'INBOX\n',
      'domain/maildirsize': '0S\n',
      'stray/notes.txt': 'not mail\n',
      'stray/maildirsize': '0S\n',
      'mixed/notes.txt': 'not mail\n',
      'mixed/inbox': inbox,
    });
    const kind = async (name: string) => (await classifyLocalMailPath(path.join(work.path, name))).kind;
    expect(await kind('domain')).toBe('maildir');
    expect(await kind('stray')).toBe('empty');
    expect(await kind('mixed')).toBe('mbox');
  });
});

describe('classifyMailDirEntries', () => {
  const dir = (p: string): MailDirEntry => ({ path: p, type: 'dir' });
  const file = (p: string): MailDirEntry => ({ path: p, type: 'file' });
  const format = (...entries: MailDirEntry[]) => classifyMailDirEntries(entries).format;

  it('calls a directory with cur/ or new/ a maildir, whatever lies beside it', () => {
    expect(format(dir('cur'), dir('new'), dir('tmp'))).toBe('maildir');
    expect(format(dir('new'), dir('storage'), file('storage/m.1'))).toBe('maildir');
  });

  it('tells mdbox (its map, or storage/ beside dbox-Mails) from sdbox (dbox-Mails alone)', () => {
    expect(format(dir('storage'), file('storage/m.1'))).toBe('mdbox');
    expect(format(dir('storage'), file('storage/dovecot.map.index'))).toBe('mdbox');
    expect(format(dir('storage'), dir('mailboxes'), dir('mailboxes/INBOX/dbox-Mails'))).toBe('mdbox');
    expect(format(dir('mailboxes'), dir('mailboxes/Work/Projects/dbox-Mails'))).toBe('sdbox');
  });

  it('calls a directory with an inbox file and no cur/ or new/ an mbox directory', () => {
    expect(format(file('inbox'), file('Sent'))).toBe('mbox');
    expect(format(file('INBOX'))).toBe('mbox');
    expect(format(dir('cur'), file('inbox'))).toBe('maildir');
  });

  it('says nothing about plain files or an empty storage/ directory', () => {
    expect(format(file('notes.txt'), dir('storage'))).toBe('unknown');
    expect(format()).toBe('unknown');
  });
});
