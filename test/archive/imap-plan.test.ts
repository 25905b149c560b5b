import { describe, expect, it } from 'vitest';
import { parseFolderExclude, parseFolderMapRule } from '../../converters/folders/imap-mapping.js';
import { buildClaimKey, ClaimLedger, decideImapFolder, decideMessageFlags } from '../../src/archive/imap-plan.js';
import { buildIdentity } from '../../src/engine/identity.js';

describe('decideImapFolder', () => {
  const none = new Set<string>();
  const targets = [{ path: 'INBOX' }, { path: 'Sent Items', specialUse: '\\Sent' as const }];

  it('reads the maildir++ name as the maildir store does: INBOX, levels, modified UTF-7 or raw UTF-8', () => {
    expect(decideImapFolder('', none, targets, {})).toMatchObject({ kind: 'row', row: { action: 'copy', target: 'INBOX' } });
    expect(decideImapFolder('.Work.Projects', none, targets, {})).toMatchObject({ row: { action: 'copy', source: 'Work/Projects', target: 'Work/Projects', reason: 'same name' } });
    expect(decideImapFolder('.Entw&APw-rfe', none, targets, {})).toMatchObject({ row: { target: 'Entwürfe' } });
    expect(decideImapFolder('.Entwürfe', none, targets, {})).toMatchObject({ row: { target: 'Entwürfe' } });
  });

  it('takes a name that is not modified UTF-7 as written, and says so', () => {
    expect(decideImapFolder('.Q&A', none, targets, {})).toMatchObject({ kind: 'row', row: { target: 'Q&A' }, note: expect.stringContaining('not modified UTF-7') });
  });

  it("sends a well-known folder to the target's folder of that SPECIAL-USE role, whatever it is called", () => {
    expect(decideImapFolder('.Sent', none, targets, {})).toMatchObject({ entry: { path: 'Sent', specialUse: '\\Sent' }, row: { target: 'Sent Items', reason: 'SPECIAL-USE \\Sent' } });
  });

  it('gives a role to the folder met first; a later folder of the same role keeps its own name, never merged into it', () => {
    expect(decideImapFolder('.Sent Messages', none, targets, {})).toMatchObject({ entry: { specialUse: '\\Sent' }, row: { target: 'Sent Items' } });
    const later = decideImapFolder('.Sent', new Set(['\\Sent']), targets, {});
    expect(later).toMatchObject({ entry: { path: 'Sent' }, row: { target: 'Sent', reason: 'same name' } });
    expect(later.kind === 'row' && later.entry.specialUse).toBeUndefined();
  });

  it('applies --exclude and --map as a messages copy does', () => {
    expect(decideImapFolder('.Junk', none, targets, { excludes: [parseFolderExclude('^Junk$')] })).toMatchObject({ row: { action: 'skip', reason: '--exclude ^Junk$' } });
    expect(decideImapFolder('.Old', none, targets, { maps: [parseFolderMapRule('^Old$=>Archive/Old')] })).toMatchObject({ row: { action: 'copy', target: 'Archive/Old' } });
  });

  it('says why a name is no folder instead of guessing', () => {
    expect(decideImapFolder('.a..b', none, targets, {})).toEqual({ kind: 'unreadable', reason: expect.stringContaining('empty hierarchy level') });
  });
});

describe('decideMessageFlags', () => {
  it('reads system flags from the :2, info and keywords through the folder table', () => {
    const decided = decideMessageFlags('1700000002.M2P1.host,S=80:2,FSa', new Map([[0, '$Important']]));
    expect([...decided.flags].sort()).toEqual(['\\Flagged', '\\Seen']);
    expect([...decided.keywords]).toEqual(['$Important']);
    expect(decided.pendingIndexes).toEqual([]);
  });

  it('keeps keyword letters for later when the dovecot-keywords file has not come yet', () => {
    const decided = decideMessageFlags('1.M1.host:2,Sbc', undefined);
    expect([...decided.flags]).toEqual(['\\Seen']);
    expect(decided.keywords.size).toBe(0);
    expect(decided.pendingIndexes).toEqual([1, 2]);
  });

  it('gives P (passed) as $Forwarded and a message without info no flags', () => {
    expect([...decideMessageFlags('1.M1.host:2,PS', undefined).keywords]).toEqual(['$Forwarded']);
    const bare = decideMessageFlags('1.M1.host', undefined);
    expect(bare.flags.size + bare.keywords.size + bare.pendingIndexes.length).toBe(0);
  });
});

describe('buildClaimKey', () => {
  const strong = buildIdentity(Buffer.from('Message-ID: <a@x>\r\nSubject: s\r\n\r\n'));
  const weak = buildIdentity(Buffer.from('Subject: s\r\n\r\n'));

  it('pairs by identity; a message without Message-ID by its content too', () => {
    expect(buildClaimKey(strong, 'h1')).toBe(buildClaimKey(strong, 'h2'));
    expect(buildClaimKey(strong, undefined)).toBe(buildClaimKey(strong, 'h1'));
    expect(buildClaimKey(weak, 'h1')).not.toBe(buildClaimKey(weak, 'h2'));
    expect(buildClaimKey(weak, 'h1')).not.toBe(buildClaimKey(strong, 'h1'));
    expect(buildClaimKey(strong, undefined)).toHaveLength(20);
  });
});

describe('ClaimLedger', () => {
  it('counts identical messages: n in the backup and m on the target append n - m', () => {
    const ledger = new ClaimLedger([
      { key: 'k', uid: 7 },
      { key: 'k', uid: 9 },
    ]);
    expect(ledger.claim('k')).toEqual({ outcome: 'present', uid: 7 });
    expect(ledger.claim('k')).toEqual({ outcome: 'present', uid: 9 });
    expect(ledger.claim('k')).toEqual({ outcome: 'append' });
    expect(ledger.claim('other')).toEqual({ outcome: 'append' });
  });

  it('never lets one target message stand for two, even after appends of the same key', () => {
    const ledger = new ClaimLedger([{ key: 'k', uid: 1 }]);
    expect(ledger.claim('k').outcome).toBe('present');
    ledger.confirmAppended('k');
    expect(ledger.unclaimed('k')).toBe(0);
  });

  it('settles appends whose answer was lost against a new listing: a copy that landed is not sent again', () => {
    // The target had one "k"; this run claimed it, appended one more with an OK, then sent two "k" and lost the answer.
    const ledger = new ClaimLedger([{ key: 'k', uid: 1 }]);
    ledger.claim('k');
    ledger.confirmAppended('k');
    // The new listing: the two accounted for, and one of the two lost appends.
    ledger.relist([
      { key: 'k', uid: 1 },
      { key: 'k', uid: 2 },
      { key: 'k', uid: 3 },
    ]);
    expect(ledger.settleUnknown('k')).toEqual({ outcome: 'landed', uid: 3 });
    expect(ledger.settleUnknown('k')).toEqual({ outcome: 'resend' });
  });

  it('resends everything when nothing of a lost batch landed', () => {
    const ledger = new ClaimLedger();
    ledger.relist([]);
    expect(ledger.settleUnknown('a')).toEqual({ outcome: 'resend' });
    expect(ledger.settleUnknown('b')).toEqual({ outcome: 'resend' });
  });

  it('finds some UID of a key again (a hard link whose first copy got no APPENDUID)', () => {
    const ledger = new ClaimLedger([{ key: 'k', uid: undefined }, { key: 'k', uid: 4 }]);
    expect(ledger.anyUid('k')).toBe(4);
    expect(ledger.anyUid('nothing')).toBeUndefined();
  });
});
