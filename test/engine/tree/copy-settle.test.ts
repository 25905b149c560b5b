import { describe, expect, it } from 'vitest';
import { describeUnread } from '../../../src/engine/tree/copy-settle.js';

/** What the copy says about a control or account file it could not read on one side (the rest: integration tests). */
describe('describeUnread', () => {
  it('names the side and why: a link on the way, or not a regular file', () => {
    expect(describeUnread('source', 'behind-a-link')).toBe("the source's copy was not read: a directory on the way to it is a symbolic link or not a directory (never followed)");
    expect(describeUnread('target', 'not-a-regular-file')).toBe("the target's copy was not read: it is not a regular file (a symbolic link is never followed)");
  });

  it('has nothing to say of a file that is missing there, or was read', () => {
    expect(describeUnread('source', 'missing')).toBeUndefined();
    expect(describeUnread('source', 'file')).toBeUndefined();
    expect(describeUnread('target', undefined)).toBeUndefined();
  });
});
