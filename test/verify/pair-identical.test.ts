import { describe, expect, it } from 'vitest';
import { compareFolder } from '../../src/verify/compare.js';
import { numberIdenticalMessages } from '../../src/verify/pair-identical.js';
import type { FolderSnapshot, MessageMeta } from '../../src/verify/snapshot.js';

const msg = (key: string, flags: string, uid?: number): MessageMeta => ({ key, flags, sizeBytes: 100, ...(uid !== undefined ? { uid } : {}) });
const folder = (messages: MessageMeta[], uidValidity?: number): FolderSnapshot => ({ mailbox: '', folder: 'INBOX', messages, ...(uidValidity !== undefined ? { uidValidity } : {}) });
const compare = (source: FolderSnapshot, target: FolderSnapshot) => {
  const numbered = numberIdenticalMessages(source, target);
  return compareFolder(numbered.source, numbered.target);
};

describe('numberIdenticalMessages', () => {
  const source = folder([msg('same', '\\Seen', 1), msg('other', '', 2), msg('same', '', 3), msg('same', '\\Flagged', 4)], 1700000000);

  it('pairs identical messages by UID, so a copy that kept UIDs and flags verifies clean whatever the listing order', () => {
    // A maildir lists new/ then cur/, by file name: not in UID order.
    const target = folder([msg('same', '\\Flagged', 4), msg('same', '\\Seen', 1), msg('other', '', 2), msg('same', '', 3)], 1700000000);
    const result = compare(source, target);
    expect(result).toMatchObject({ missing: [], duplicates: [], flagDifferences: [], extraOnTarget: 0 });
    expect(result.uids).toMatchObject({ verdict: 'kept', checked: 4, kept: 4, changed: 0 });
  });

  it('pairs them by flags where the UIDs say nothing (an IMAP target gives new UIDs)', () => {
    const target = folder([msg('same', '\\Flagged', 7), msg('other', '', 8), msg('same', '', 9), msg('same', '\\Seen', 10)], 99);
    const result = compare(source, target);
    expect(result).toMatchObject({ missing: [], duplicates: [], flagDifferences: [] });
    expect(result.uids).toMatchObject({ verdict: 'changed', checked: 4, changed: 4 });
  });

  it('still reports a copy missing, a copy too many, and a flag that differs', () => {
    const fewer = compare(source, folder([msg('same', '\\Flagged', 4), msg('other', '', 2), msg('same', '\\Seen', 1)], 1700000000));
    expect(fewer.missing).toEqual(['same#2']);
    expect(fewer.flagDifferences).toEqual([]);
    const more = compare(source, folder([...source.messages, msg('same', '\\Seen', 5)], 1700000000));
    expect(more).toMatchObject({ missing: [], duplicates: [], extraOnTarget: 1, flagDifferences: [] });
    const changed = compare(source, folder([msg('same', '\\Seen', 1), msg('other', '', 2), msg('same', '\\Answered', 3), msg('same', '\\Flagged', 4)], 1700000000));
    expect(changed.flagDifferences).toEqual([{ key: 'same#2', source: '', target: '\\Answered' }]);
  });
});
