import { describe, expect, it } from 'vitest';
import type { SystemFlag } from '../../../src/core/types.js';
import type { FlagUpdate, ListedMessage } from '../../../src/stores/store.js';
import { planFlagStores } from '../../../src/stores/imap/flag-store.js';

const update = (flags: SystemFlag[], keywords: string[] = []): FlagUpdate => ({ sourceKey: 'k', flags: new Set(flags), keywords: new Set(keywords) });
const listed = (uid: number, flags: SystemFlag[], keywords: string[] = []): ListedMessage => ({ id: String(uid), uid, flags: new Set(flags), keywords: new Set(keywords) });
const sendable = (message: { flags: ReadonlySet<string>; keywords: ReadonlySet<string> }) => [...message.flags, ...message.keywords];

describe('planFlagStores', () => {
  const updates = new Map([
    [1, update(['\\Seen', '\\Flagged'])],
    [2, update(['\\Seen'])],
    [3, update(['\\Seen'], ['$Work'])],
    [4, update([])],
  ]);
  const current = new Map([
    [1, listed(1, ['\\Seen'])],
    [2, listed(2, ['\\Seen'])],
    [3, listed(3, ['\\Seen', '\\Answered'], ['$work'])],
    // 4 is gone from the target: nothing planned for it.
  ]);

  it("'source' replaces differing flags with the source's, grouping messages that need the same set", () => {
    expect(planFlagStores(updates, current, 'source', sendable)).toEqual([
      { item: 'FLAGS.SILENT', flags: ['\\Flagged', '\\Seen'], uids: [1] },
      { item: 'FLAGS.SILENT', flags: ['$Work', '\\Seen'], uids: [3] },
    ]);
  });

  it("'merge' only adds what the target lacks (keywords compared without case), never removes", () => {
    expect(planFlagStores(updates, current, 'merge', sendable)).toEqual([{ item: '+FLAGS.SILENT', flags: ['\\Flagged'], uids: [1] }]);
  });

  it('plans nothing when the flags already agree', () => {
    expect(planFlagStores(new Map([[2, update(['\\Seen'])]]), current, 'source', sendable)).toEqual([]);
  });
});
