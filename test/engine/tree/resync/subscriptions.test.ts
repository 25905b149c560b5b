import { describe, expect, it } from 'vitest';
import { decideSubscriptionAdditions, groupNewFoldersByMailbox } from '../../../../src/engine/tree/resync/subscriptions.js';

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

describe('groupNewFoldersByMailbox', () => {
  it('groups new folders by the mailbox whose subscriptions list them, with their mailbox paths', () => {
    const groups = groupNewFoldersByMailbox(['.Archive', '.Work.Projects', 'example.com/info/.Sent']);
    expect([...groups]).toEqual([
      ['', [{ dir: '.Archive', name: 'Archive' }, { dir: '.Work.Projects', name: 'Work/Projects' }]],
      ['example.com/info', [{ dir: 'example.com/info/.Sent', name: 'Sent' }]],
    ]);
  });

  it('leaves out a new mailbox root and a name that does not decode', () => {
    expect(groupNewFoldersByMailbox(['example.com/info', '.&Jjo']).size).toBe(0);
  });
});
