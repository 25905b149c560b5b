import { describe, expect, it } from 'vitest';
import { reconcileVerifyWithCopySkips } from '../../src/campaign/reconcile.js';
import type { StageOutcome } from '../../src/campaign/state/types.js';

const verifyFound = (keys: string[]): StageOutcome => ({
  status: 'failed',
  items: 10,
  bytes: 100,
  exitCode: 4,
  durationMs: 1,
  skipped: keys.map((key) => ({ item: `mallory:INBOX ${key}`, reason: 'missing on the target' })),
  warnings: [],
  missing: keys.map((key) => ({ folder: 'mallory: INBOX', key })),
  error: 'verify found differences',
  failureKind: 'permanent',
});

const refusedByCopy = [
  { item: 'mallory (default mailbox): /srv/old/home/mallory/mail/cur/1717000004.M4P1.mail.example.com\nX-Injected: yes,S=3:2,S', reason: 'the name holds a control character; not copied' },
  { item: 'mallory (default mailbox): /srv/old/home/mallory/mail/cur/1717000003.M3P1.mail.example.com:2,S', reason: 'a sparse file; not copied' },
];

describe('reconcileVerifyWithCopySkips', () => {
  it('makes an account whose only missing messages are those the copy refused complete with exceptions, each with the copy reason', () => {
    const outcome = reconcileVerifyWithCopySkips(verifyFound(['1717000004.M4P1.mail.example.com\nX-Injected', '1717000003.M3P1.mail.example.com']), refusedByCopy);
    expect(outcome).toMatchObject({ status: 'done-with-skips', exitCode: 3 });
    expect(outcome.error).toBeUndefined();
    expect(outcome.skipped).toEqual([
      { item: 'mallory: INBOX 1717000004.M4P1.mail.example.com\nX-Injected', reason: 'missing on the target: the copy did not copy it (the name holds a control character; not copied)' },
      { item: 'mallory: INBOX 1717000003.M3P1.mail.example.com', reason: 'missing on the target: the copy did not copy it (a sparse file; not copied)' },
    ]);
  });

  it('keeps the account failed when verify misses a message no copy refused', () => {
    const found = verifyFound(['1717000003.M3P1.mail.example.com', '1717000099.M9P9.lost']);
    expect(reconcileVerifyWithCopySkips(found, refusedByCopy)).toBe(found);
  });

  it('leaves every other outcome as it is', () => {
    const done: StageOutcome = { status: 'done', items: 1, bytes: 1, exitCode: 0, durationMs: 1, skipped: [], warnings: [] };
    expect(reconcileVerifyWithCopySkips(done, refusedByCopy)).toBe(done);
  });

  it('explains a message the messages engine skipped by its source folder and UID (an IMAP copy with --max-size)', () => {
    const found: StageOutcome = {
      ...verifyFound([]),
      skipped: [{ item: 'Sent 7f3a', reason: 'missing on the target' }],
      missing: [{ folder: 'Sent', key: '7f3a', sourceFolder: 'Sent', sourceUid: 12 }],
    };
    const skippedByCopy = [{ item: 'Sent UID 12', reason: 'larger than --max-size (31457280 bytes)' }];
    expect(reconcileVerifyWithCopySkips(found, skippedByCopy)).toMatchObject({
      status: 'done-with-skips',
      skipped: [{ item: 'Sent 7f3a', reason: 'missing on the target: the copy did not copy it (larger than --max-size (31457280 bytes))' }],
    });
  });

  it('does not take a skip in one folder for a message missing from another with the same UID', () => {
    const found: StageOutcome = { ...verifyFound([]), missing: [{ folder: 'INBOX', key: '7f3a', sourceFolder: 'INBOX', sourceUid: 12 }] };
    expect(reconcileVerifyWithCopySkips(found, [{ item: 'Sent UID 12', reason: 'larger than --max-size (31457280 bytes)' }])).toBe(found);
  });
});
