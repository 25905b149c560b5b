import { describe, expect, it } from 'vitest';
import { decideSubscriptionAdditions } from '../../../../src/engine/tree/resync/subscriptions.js';

describe('decideSubscriptionAdditions', () => {
  it('adds only the new folders the source subscribes to, keeping the target list', () => {
    const source = 'V\t2\n\nSent\nArchive\nWork\tProjects\nOld\n';
    const target = 'Sent\nDrafts\n';
    expect(decideSubscriptionAdditions(source, target, ['Archive', 'Unsubscribed'])).toEqual({ text: 'V\t2\n\nArchive\nDrafts\nSent\n', added: ['Archive'] });
  });

  it('changes nothing when the target already subscribes, or the source does not', () => {
    expect(decideSubscriptionAdditions('Archive\n', 'Archive\n', ['Archive'])).toBeUndefined();
    expect(decideSubscriptionAdditions('', 'Sent\n', ['Archive'])).toBeUndefined();
  });
});
