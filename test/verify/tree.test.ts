import { describe, expect, it } from 'vitest';
import { decideNestedMailboxDirs } from '../../src/verify/tree.js';

describe('decideNestedMailboxDirs', () => {
  it('lists an account with one find: every other mailbox is DOMAIN/LOCAL under the first', () => {
    expect(decideNestedMailboxDirs('/home/alice/mail', ['/home/alice/mail/example.com/info', '/home/alice/mail/example.org/bob'])).toEqual([
      'example.com/info',
      'example.org/bob',
    ]);
    expect(decideNestedMailboxDirs('/home/alice/mail', [])).toEqual([]);
  });

  it('lists mailbox by mailbox when one sits elsewhere, at another depth, or is the root itself', () => {
    expect(decideNestedMailboxDirs('/home/alice/mail', ['/home/bob/mail/example.com/info'])).toBeUndefined();
    expect(decideNestedMailboxDirs('/home/alice/mail', ['/home/alice/mail/example.com'])).toBeUndefined();
    expect(decideNestedMailboxDirs('/home/alice/mail', ['/home/alice/mail/a/b/c'])).toBeUndefined();
    expect(decideNestedMailboxDirs('/home/alice/mail', ['/home/alice/mail'])).toBeUndefined();
  });
});
