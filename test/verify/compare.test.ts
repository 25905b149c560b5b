import { describe, expect, it } from 'vitest';
import { compareFolder } from '../../src/verify/compare.js';
import { buildVerifyReport } from '../../src/verify/report.js';
import type { FolderSnapshot, MessageMeta } from '../../src/verify/snapshot.js';

const msg = (key: string, flags = '\\Seen', sizeBytes = 100, uid?: number): MessageMeta => ({ key, flags, sizeBytes, ...(uid !== undefined ? { uid } : {}) });
const folder = (messages: MessageMeta[], uidValidity?: number): FolderSnapshot => ({ mailbox: 'info@example.com', folder: 'INBOX', messages, ...(uidValidity !== undefined ? { uidValidity } : {}) });

describe('compareFolder', () => {
  it('finds nothing wrong when every message arrived with its flags and UID', () => {
    const src = folder([msg('a', '\\Seen', 10, 1), msg('b', '', 20, 2)], 1700000000);
    const result = compareFolder(src, folder([msg('b', '', 20, 2), msg('a', '\\Seen', 10, 1)], 1700000000));
    expect(result).toMatchObject({ missing: [], duplicates: [], flagDifferences: [], source: { messages: 2, bytes: 30 }, target: { messages: 2, bytes: 30 } });
    expect(result.uids).toMatchObject({ verdict: 'kept', checked: 2, kept: 2 });
  });

  it('lists messages missing on the target by base name', () => {
    const result = compareFolder(folder([msg('a'), msg('b'), msg('c')]), folder([msg('b')]));
    expect(result.missing).toEqual(['a', 'c']);
  });

  it('treats a flag change as the same message, reported as a flag difference', () => {
    const result = compareFolder(folder([msg('a', '\\Seen')]), folder([msg('a', '\\Answered \\Seen')]));
    expect(result.missing).toEqual([]);
    expect(result.flagDifferences).toEqual([{ key: 'a', source: '\\Seen', target: '\\Answered \\Seen' }]);
  });

  it('reports a base name twice on the target as a duplicate (what a second plain rsync leaves)', () => {
    const result = compareFolder(folder([msg('a')]), folder([msg('a', ''), msg('a', '\\Seen')]));
    expect(result.duplicates).toEqual(['a']);
  });

  it('counts target-only mail without calling it a difference', () => {
    const result = compareFolder(folder([msg('a')]), folder([msg('a'), msg('new-on-target')]));
    expect(result.extraOnTarget).toBe(1);
    expect(buildVerifyReport('s', 't', [result], []).exitCode).toBe(0);
  });

  it('says UIDs changed when UIDVALIDITY differs or a UID moved', () => {
    expect(compareFolder(folder([msg('a', '', 1, 1)], 5), folder([msg('a', '', 1, 1)], 6)).uids.verdict).toBe('changed');
    expect(compareFolder(folder([msg('a', '', 1, 1)], 5), folder([msg('a', '', 1, 7)], 5)).uids).toMatchObject({ verdict: 'changed', changed: 1 });
    expect(compareFolder(folder([msg('a')]), folder([msg('a')])).uids.verdict).toBe('unknown');
  });

  it('handles a folder that exists on one side only', () => {
    expect(compareFolder(folder([msg('a')]), undefined).missing).toEqual(['a']);
    expect(compareFolder(undefined, folder([msg('a')])).extraOnTarget).toBe(1);
  });
});

describe('buildVerifyReport', () => {
  it('exits 4 when a message is missing and 0 otherwise', () => {
    const missing = compareFolder(folder([msg('a')]), folder([]));
    expect(buildVerifyReport('s', 't', [missing], []).exitCode).toBe(4);
    const flags = compareFolder(folder([msg('a', '\\Seen')]), folder([msg('a', '')]));
    expect(buildVerifyReport('s', 't', [flags], []).exitCode).toBe(0);
    expect(buildVerifyReport('s', 't', [flags], [], { strict: true }).exitCode).toBe(4);
  });
});
