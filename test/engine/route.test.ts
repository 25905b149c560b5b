import { describe, expect, it } from 'vitest';
import { decideRoute, isRefusal, type EndFacts } from '../../src/engine/route.js';

const imap: EndFacts = { label: 'imaps://alice@mail.example:993' };
const localMaildir: EndFacts = { label: '/srv/mail/alice', files: { location: 'local', layout: 'maildir' } };
const sshMaildir: EndFacts = { label: 'ssh://new.example/srv/mail/alice', files: { location: 'ssh', layout: 'maildir' } };
const cpanel: EndFacts = { label: 'cpanel:/#alice', files: { location: 'local', layout: 'cpanel' } };
const mbox: EndFacts = { label: '/srv/mbox/alice', files: { location: 'local', layout: 'mbox' } };
const dbox: EndFacts = { label: '/srv/mail/bob', files: { location: 'local', layout: 'dbox', detail: '/srv/mail/bob is a Dovecot mdbox store' } };

describe('decideRoute', () => {
  it('moves files with rsync when both ends are file trees, and says so', () => {
    const route = decideRoute('copy', cpanel, sshMaildir);
    expect(route).toEqual({ use: 'files', reason: expect.stringContaining('both ends are file trees (local cPanel -> maildir over ssh)') });
  });

  it('moves messages through the stores when either end is IMAP, naming that end', () => {
    expect(decideRoute('copy', imap, localMaildir)).toMatchObject({ use: 'messages', reason: expect.stringContaining('the source imaps://alice@mail.example:993 is an IMAP account') });
    expect(decideRoute('resync', localMaildir, imap)).toMatchObject({ use: 'messages', reason: expect.stringContaining('the target') });
    expect(decideRoute('copy', mbox, imap)).toMatchObject({ use: 'messages' });
  });

  it('reads an IMAP account in place of unreadable files when --imap-fallback is used', () => {
    const fallback = { used: true, imap: 'imaps://alice@old.example', reason: 'no ssh access to old.example' };
    expect(decideRoute('copy', sshMaildir, localMaildir, fallback)).toEqual({ use: 'messages', reason: expect.stringContaining('no ssh access'), fallback });
    const unused = { used: false, imap: 'imaps://alice@old.example', reason: 'is a maildir' };
    expect(decideRoute('copy', sshMaildir, localMaildir, unused)).toMatchObject({ use: 'files', fallback: unused });
  });

  it('verifies an mbox source message by message, but never moves it as files', () => {
    expect(decideRoute('verify', mbox, localMaildir)).toMatchObject({ use: 'messages' });
    for (const operation of ['copy', 'resync', 'watch'] as const) {
      const decision = decideRoute(operation, mbox, localMaildir);
      expect(isRefusal(decision) && decision.message).toBe(`/srv/mbox/alice is mbox: ${operation} moves maildir files`);
    }
  });

  it('names a plain file that is not mbox for what it is', () => {
    const notes: EndFacts = { label: '/srv/notes.txt', files: { location: 'local', layout: 'mbox', detail: 'a file' } };
    const decision = decideRoute('copy', notes, localMaildir);
    expect(isRefusal(decision) && decision.message).toBe('/srv/notes.txt is a file, neither a maildir nor an mbox: copy moves maildir directories');
  });

  it('refuses a dbox source with the way out that fits the command', () => {
    const copy = decideRoute('copy', dbox, localMaildir);
    const verify = decideRoute('verify', dbox, localMaildir);
    expect(copy).toMatchObject({ refuse: true, code: 'MAILSHIFT_SOURCE_DBOX', message: '/srv/mail/bob is a Dovecot mdbox store', hint: expect.stringContaining('--imap-fallback') });
    expect(verify).toMatchObject({ refuse: true, hint: expect.stringContaining('verify over IMAP') });
  });
});

describe('decideRoute with a cPanel backup', () => {
  const backup: EndFacts = { label: '/backups/cpmove-bob.tar.gz', files: { location: 'local', layout: 'archive', detail: 'a gzipped tar' } };

  it('restores a backup into a local cPanel root or maildir with the archive engine, and says why', () => {
    expect(decideRoute('copy', backup, cpanel)).toEqual({ use: 'archive', reason: expect.stringContaining('is a cPanel backup: read once from start to end') });
    expect(decideRoute('copy', backup, localMaildir)).toMatchObject({ use: 'archive', reason: expect.stringContaining('into the maildir') });
  });

  it('restores into a maildir or cPanel root over ssh with the archive engine, and says how', () => {
    const sshCpanel: EndFacts = { label: 'cpanel:ssh://new.example/#alice', files: { location: 'ssh', layout: 'cpanel' } };
    expect(decideRoute('copy', backup, sshMaildir)).toEqual({ use: 'archive', reason: expect.stringContaining('into the maildir over ssh (one remote tar per batch') });
    expect(decideRoute('copy', backup, sshCpanel)).toMatchObject({ use: 'archive', reason: expect.stringContaining('into the cPanel account over ssh') });
  });

  it('streams into an IMAP account, appending each message as the one pass reaches it, and says so', () => {
    expect(decideRoute('copy', backup, imap)).toEqual({ use: 'messages', reason: expect.stringContaining('read once from start to end and each message of the mailbox is appended as it passes (no extraction, no staging maildir)') });
  });

  it('resyncs from a backup by restoring it again (only what the target lacks is added), and says so', () => {
    expect(decideRoute('resync', backup, localMaildir)).toMatchObject({ use: 'archive', reason: expect.stringContaining('resync from a backup is the restore again') });
    expect(decideRoute('resync', backup, imap)).toMatchObject({ use: 'messages', reason: expect.stringContaining('resync from a backup is the restore again') });
  });

  it('refuses what the archive engine does not do, with the way round it', () => {
    for (const [operation, target, words] of [
      ['verify', localMaildir, 'mailshift copy --dry-run BACKUP TARGET'],
      ['watch', localMaildir, 'restore it with `mailshift copy BACKUP TARGET`'],
      ['copy', mbox, 'restore into a cPanel root'],
    ] as const) {
      const decision = decideRoute(operation, backup, target);
      expect(isRefusal(decision) && decision.hint).toContain(words);
    }
    const intoBackup = decideRoute('copy', localMaildir, backup);
    expect(isRefusal(intoBackup) && intoBackup.hint).toContain('mailshift export');
  });
});
