import { describe, expect, it } from 'vitest';
import type { MessageDraft } from '../../../src/stores/maildir/draft.js';
import { OrderedPlacement } from '../../../src/stores/maildir/placement.js';

/** A draft whose digest comes when the test says so. */
function fakeDraft(name: string, options: { canSeal?: boolean } = {}) {
  const draft = {
    name,
    isReady: false,
    isClosed: false,
    canSeal: options.canSeal ?? true,
    shouldSeal: () => true,
    seal: () => undefined,
    hashHere: () => undefined,
    isHashReady: () => draft.isReady,
    close: () => {
      draft.isClosed = true;
    },
  };
  return draft;
}
const asDraft = (draft: ReturnType<typeof fakeDraft>) => draft as unknown as MessageDraft;

describe('OrderedPlacement', () => {
  it('places messages in the order they were added, whichever digest comes first', () => {
    const placed: string[] = [];
    const placement = new OrderedPlacement<string>((item) => placed.push(item));
    const first = fakeDraft('first');
    const second = fakeDraft('second');
    placement.add(asDraft(first), new Date(0), 'first');
    placement.add(asDraft(second), new Date(0), 'second');
    second.isReady = true;
    placement.add(asDraft(fakeDraft('third')), new Date(0), 'third');
    expect(placed).toEqual([]); // the oldest has no digest yet: nothing may overtake it
    first.isReady = true;
    placement.placeAll();
    expect(placed).toEqual(['first', 'second', 'third']);
    expect([first.isClosed, second.isClosed]).toEqual([true, true]);
  });

  it('places a draft that cannot go through the writer (a dry run) at once', () => {
    const placed: string[] = [];
    const placement = new OrderedPlacement<string>((item) => placed.push(item));
    const draft = fakeDraft('dry', { canSeal: false });
    placement.add(asDraft(draft), new Date(0), 'dry');
    expect(placed).toEqual(['dry']);
    expect(draft.isClosed).toBe(true);
  });

  it('runs an action once everything added before it is placed', () => {
    const events: string[] = [];
    const placement = new OrderedPlacement<string>((item) => events.push(`placed ${item}`));
    placement.afterPlaced(() => events.push('nothing waited'));
    const draft = fakeDraft('a');
    placement.add(asDraft(draft), new Date(0), 'a');
    placement.afterPlaced(() => events.push('after a'));
    draft.isReady = true;
    placement.placeAll();
    expect(events).toEqual(['nothing waited', 'placed a', 'after a']);
  });

  it('drops what waits when the run stops, closing each draft (its tmp file goes)', () => {
    const placed: string[] = [];
    const placement = new OrderedPlacement<string>((item) => placed.push(item));
    const draft = fakeDraft('a');
    placement.add(asDraft(draft), new Date(0), 'a');
    placement.abort();
    placement.placeAll();
    expect(placed).toEqual([]);
    expect(draft.isClosed).toBe(true);
  });

  it('closes a draft even when placing it fails', () => {
    const placement = new OrderedPlacement<string>(() => {
      throw new Error('disk full');
    });
    const draft = fakeDraft('a', { canSeal: false });
    expect(() => placement.add(asDraft(draft), new Date(0), 'a')).toThrow('disk full');
    expect(draft.isClosed).toBe(true);
  });
});
