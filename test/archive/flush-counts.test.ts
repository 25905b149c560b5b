import { describe, expect, it } from 'vitest';
import { correctCounts } from '../../src/archive/flush-counts.js';
import type { MailboxCounts, SkippedEntry } from '../../src/archive/restore.js';

describe('correctCounts', () => {
  it('counts a message whose name was taken by the time it was placed as there already, and lists a link not made', () => {
    const alice: MailboxCounts = { mailbox: 'example.com/alice', written: 3, linked: 2, existing: 0, bytes: 300 };
    const counts = new Map([[alice.mailbox, alice]]);
    const extras = { written: ['.autorespond/a'], keptTarget: [] as string[] };
    const skipped: SkippedEntry[] = [];
    correctCounts(
      {
        taken: [
          { path: '/home/bob/mail/example.com/alice/cur/1:2,S', bytes: 100 },
          { path: '/home/bob/.autorespond/a', bytes: 10 },
        ],
        linksTaken: ['/home/bob/mail/example.com/alice/.Archive/cur/2:2,S'],
        linksNotMade: [{ path: '/home/bob/mail/example.com/alice/.Sent/cur/3:2,S', reason: 'Too many links' }],
      },
      {
        mailRoot: '/home/bob/mail',
        homeRoot: '/home/bob',
        mailboxOfFolder: new Map([
          ['example.com/alice', alice.mailbox],
          ['example.com/alice/.Archive', alice.mailbox],
          ['example.com/alice/.Sent', alice.mailbox],
        ]),
        counts,
        extras,
        skipped,
      },
    );
    expect(alice).toEqual({ mailbox: 'example.com/alice', written: 2, linked: 0, existing: 2, bytes: 200 });
    expect(extras).toEqual({ written: [], keptTarget: ['.autorespond/a'] });
    expect(skipped).toEqual([{ item: 'example.com/alice/.Sent/cur/3:2,S', reason: 'hard link not made: Too many links; not written' }]);
  });
});
