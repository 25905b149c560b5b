import { describe, expect, it } from 'vitest';
import { decideOwnership, planOwnershipEntry } from '../../src/fsops/ownership.js';
import type { TreeEntry } from '../../src/hosts/find.js';

const ids = { uid: 1001, gid: 1001, mailGid: 8 };
const e = (p: string, type: TreeEntry['type'], extra: Partial<TreeEntry> = {}): TreeEntry => ({ type, path: p, sizeBytes: 0, uid: 0, gid: 0, mode: 0o644, nlink: 1, mtimeMs: 0, ctimeMs: 0, device: 1, inode: 1, ...extra });

describe('decideOwnership (cpanel-layout.md §5)', () => {
  it('gives mail directories 0751 and messages 0640, owned by the user', () => {
    expect(decideOwnership(e('.Sent/cur', 'dir'), 'mail', ids)).toEqual({ uid: 1001, gid: 1001, mode: 0o751 });
    expect(decideOwnership(e('cur/1.M1:2,S', 'file'), 'mail', ids)).toEqual({ uid: 1001, gid: 1001, mode: 0o640 });
  });

  it('keeps the mail group where cPanel allows "USER or mail"', () => {
    expect(decideOwnership(e('cur/x', 'file', { gid: 8 }), 'mail', ids)).toEqual({ uid: 1001, gid: 8, mode: 0o640 });
  });

  it('gives maildirsize USER:mail 0600 and leaves Dovecot control file modes alone', () => {
    expect(decideOwnership(e('maildirsize', 'file'), 'mail', ids)).toEqual({ uid: 1001, gid: 8, mode: 0o600 });
    expect(decideOwnership(e('dovecot-uidlist', 'file'), 'mail', ids)).toEqual({ uid: 1001, gid: 1001 });
  });

  it('gives ~/etc and its domain files the mail group', () => {
    expect(decideOwnership(e('', 'dir'), 'etc', ids)).toEqual({ uid: 1001, gid: 8, mode: 0o750 });
    expect(decideOwnership(e('example.com', 'dir'), 'etc', ids)).toEqual({ uid: 1001, gid: 8, mode: 0o750 });
    expect(decideOwnership(e('example.com/passwd', 'file'), 'etc', ids)).toEqual({ uid: 1001, gid: 8, mode: 0o640 });
    expect(decideOwnership(e('example.com/shadow', 'file'), 'etc', ids)).toEqual({ uid: 1001, gid: 1001, mode: 0o640 });
    expect(decideOwnership(e('valiases-file', 'file'), 'system-etc', ids)).toEqual({ uid: 1001, gid: 8, mode: 0o640 });
  });

  it('never plans a mode for a symlink and leaves FIFOs and devices alone', () => {
    expect(decideOwnership(e('.Leak', 'symlink'), 'mail', ids)).toEqual({ uid: 1001, gid: 1001 });
    expect(decideOwnership(e('new/fifo', 'other'), 'mail', ids)).toBeUndefined();
  });
});

describe('planOwnershipEntry', () => {
  it('plans nothing for an entry that is already right', () => {
    expect(planOwnershipEntry(e('cur/x', 'file', { uid: 1001, gid: 1001, mode: 0o640 }), '/m/cur/x', 'mail', ids)).toBeUndefined();
  });

  it('plans the owner and the mode change with what was there before', () => {
    expect(planOwnershipEntry(e('cur/x', 'file', { mode: 0o100644 }), '/m/cur/x', 'mail', ids)).toEqual({
      path: '/m/cur/x', type: 'file', uid: 1001, gid: 1001, mode: 0o640, from: { uid: 0, gid: 0, mode: 0o644 },
    });
  });
});
