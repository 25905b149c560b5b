import { describe, expect, it } from 'vitest';
import { classifyNonMboxName, mboxFileToMailboxPath } from '../../../converters/mbox/folder-path.js';

describe('mboxFileToMailboxPath', () => {
  it('recognises INBOX whatever its case', () => {
    for (const name of ['inbox', 'INBOX', 'Inbox', 'Inbox.mbox', '']) expect(mboxFileToMailboxPath(name)).toBe('INBOX');
  });
  it('turns Thunderbird .sbd directories into hierarchy', () => {
    expect(mboxFileToMailboxPath('Work.sbd/Projects')).toBe('Work/Projects');
  });
  it('drops .mbox and .gz, including Apple Mail "X.mbox/mbox"', () => {
    expect(mboxFileToMailboxPath('Archive.mbox')).toBe('Archive');
    expect(mboxFileToMailboxPath('old/2019.gz')).toBe('old/2019');
    expect(mboxFileToMailboxPath('Receipts.mbox/mbox')).toBe('Receipts');
  });
  it('names a Mailman pipermail month after the month, whether .txt or .txt.gz', () => {
    expect(mboxFileToMailboxPath('2007-January.txt')).toBe('2007-January');
    expect(mboxFileToMailboxPath('list/2007-January.txt.gz')).toBe('list/2007-January');
  });
  it('keeps a literal dot in a folder name as part of the name', () => {
    expect(mboxFileToMailboxPath('Work/v1.2 release')).toBe('Work/v1.2 release');
  });
});

describe('classifyNonMboxName', () => {
  it('knows mail client indexes and hidden files are not mailboxes', () => {
    expect(classifyNonMboxName('Inbox.msf')).toBeDefined();
    expect(classifyNonMboxName('.subscriptions')).toBeDefined();
    expect(classifyNonMboxName('sent-mail')).toBeUndefined();
  });
  it("knows Dovecot's bookkeeping files by their names, and reads any other dovecot-... file like a mailbox", () => {
    for (const name of ['dovecot.index', 'dovecot.index.log', 'dovecot.index.cache', 'dovecot-uidlist', 'dovecot-keywords', 'dovecot-uidvalidity', 'dovecot-uidvalidity.5f3a2b1c', 'dovecot.list.index.log', 'dovecot.mailbox.log']) {
      expect(classifyNonMboxName(name), name).toBeDefined();
    }
    expect(classifyNonMboxName('dovecot-inbox')).toBeUndefined();
  });
});
