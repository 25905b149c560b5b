import { describe, expect, it } from 'vitest';
import { planListedFolders, type ListedFolderEntry } from '../../../src/stores/imap/listed-folders.js';

const entry = (path: string, flags: string[] = [], specialUse?: string): ListedFolderEntry => ({ path, pathAsListed: path, flags, ...(specialUse ? { specialUse } : {}) });
const cpanel = { prefix: 'INBOX.', delimiter: '.' };

describe('planListedFolders', () => {
  it('offers each selectable folder of the namespace under its path, INBOX first, with its special use', () => {
    const planned = planListedFolders([entry('INBOX.Sent', ['\\Sent']), entry('INBOX'), entry('INBOX.Work.Projects'), entry('INBOX.Archive', ['\\Noselect']), entry('Other Users.bob')], cpanel, true);
    expect(planned.found).toEqual([{ path: 'INBOX' }, { path: 'Sent', specialUse: '\\Sent' }, { path: 'Work/Projects' }]);
    expect(planned.skipped).toEqual([]);
  });

  it('takes a folder listed twice for one folder, without a word', () => {
    const planned = planListedFolders([entry('INBOX'), entry('INBOX.Sent'), entry('INBOX.Sent'), entry('inbox')], cpanel, true);
    expect(planned.found.map((each) => each.path)).toEqual(['INBOX', 'Sent']);
    expect(planned.skipped).toEqual([]);
  });

  it("leaves out the folders of other namespaces and names them: outside the personal prefix, or under another user's or a shared one", () => {
    const outsidePrefix = planListedFolders([entry('INBOX'), entry('INBOX.Sent'), entry('#shared.news')], cpanel, true);
    expect(outsidePrefix.found.map((each) => each.path)).toEqual(['INBOX', 'Sent']);
    expect(outsidePrefix.outside).toEqual(['#shared.news']);
    // Dovecot with a public namespace beside an unprefixed personal one: LIST "" "*" lists both.
    const dovecot = { prefix: '', delimiter: '/' };
    const withPublic = planListedFolders([entry('INBOX'), entry('Public'), entry('Public/Announcements'), entry('Publications'), entry('Other Users/bob/Sent')], dovecot, true, undefined, ['Public/', 'Other Users/']);
    expect(withPublic.found.map((each) => each.path)).toEqual(['INBOX', 'Publications']);
    expect(withPublic.outside).toEqual(['Public', 'Public/Announcements', 'Other Users/bob/Sent']);
    expect(withPublic.skipped).toEqual([]);
  });

  it('does not drop a folder whose name reads as another folder\'s: it is listed as skipped with the reason', () => {
    const planned = planListedFolders([entry('INBOX'), entry('INBOX.INBOX'), entry('INBOX.a_b'), entry('INBOX.a/b')], cpanel, true);
    expect(planned.found.map((each) => each.path)).toEqual(['INBOX', 'a_b']);
    expect(planned.skipped).toEqual([
      { directory: 'INBOX.INBOX', reason: 'its name reads as "INBOX", the name of folder "INBOX"; not offered' },
      { directory: 'INBOX.a/b', reason: 'its name reads as "a_b", the name of folder "INBOX.a_b"; not offered' },
    ]);
  });

  it('lists a name no mailbox path can hold as skipped, control characters shown as symbols', () => {
    const planned = planListedFolders([entry('INBOX'), entry('INBOX.')], cpanel, true);
    expect(planned.found.map((each) => each.path)).toEqual(['INBOX']);
    expect(planned.skipped).toHaveLength(1);
    expect(planned.skipped[0]!.directory).toBe('INBOX.');
  });

  it('keeps each offered folder\'s UIDVALIDITY and UIDNEXT from LIST-STATUS, and only when both are there', () => {
    const planned = planListedFolders(
      [
        { ...entry('INBOX'), status: { uidValidity: 1_700_000_000n, uidNext: 42, highestModseq: 7n } },
        { ...entry('INBOX.Sent'), status: { uidValidity: 5n, uidNext: 1 } },
        { ...entry('INBOX.Half'), status: { uidNext: 3 } },
        { ...entry('INBOX.Odd'), status: { uidValidity: 0n, uidNext: 3 } },
        { ...entry('INBOX.Gone', ['\\Noselect']), status: { uidValidity: 9n, uidNext: 2 } },
        entry('INBOX.Plain'),
      ],
      cpanel,
      true,
    );
    expect(planned.found.map((each) => each.path)).toEqual(['INBOX', 'Half', 'Odd', 'Plain', 'Sent']);
    expect(Object.fromEntries(planned.statuses)).toEqual({
      INBOX: { uidValidity: 1_700_000_000, uidNext: 42, highestModseq: 7 },
      Sent: { uidValidity: 5, uidNext: 1 },
    });
  });
});
