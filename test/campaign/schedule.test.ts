import { describe, expect, it } from 'vitest';
import { orderQueue, pickNext, type QueueEntry } from '../../src/campaign/schedule.js';

const entry = (id: string, fields: Partial<QueueEntry> = {}, index = 0): QueueEntry => ({ id, group: 'local', priority: 0, index, ...fields });

describe('orderQueue', () => {
  const queue = [entry('whale', { sizeBytes: 9_000 }, 0), entry('unknown', {}, 1), entry('small', { sizeBytes: 10 }, 2), entry('mid', { sizeBytes: 500 }, 3), entry('urgent', { priority: 5, sizeBytes: 99_999 }, 4)];

  it('starts higher priority first, then the smallest, then accounts of unknown size in plan order', () => {
    expect(orderQueue(queue, false).map((e) => e.id)).toEqual(['urgent', 'small', 'mid', 'whale', 'unknown']);
  });

  it('turns the sizes round with --largest-first, priority still first', () => {
    expect(orderQueue(queue, true).map((e) => e.id)).toEqual(['urgent', 'whale', 'mid', 'small', 'unknown']);
  });

  it('keeps plan order between accounts of the same size', () => {
    expect(orderQueue([entry('b', { sizeBytes: 1 }, 1), entry('a', { sizeBytes: 1 }, 0)], false).map((e) => e.id)).toEqual(['a', 'b']);
  });
});

describe('pickNext', () => {
  const limits = { global: 3, perGroup: 2 };

  it('starts the first account whose group has room', () => {
    const queue = [entry('a1', { group: 'a' }), entry('a2', { group: 'a' }), entry('b1', { group: 'b' })];
    expect(pickNext(queue, new Map([['a', 2]]), 2, limits, 0)).toEqual({ start: 2 });
  });

  it('starts nothing when the global limit is reached, or every group is full', () => {
    const queue = [entry('a1', { group: 'a' })];
    expect(pickNext(queue, new Map(), 3, limits, 0)).toEqual({ wait: 'full' });
    expect(pickNext(queue, new Map([['a', 2]]), 2, limits, 0)).toEqual({ wait: 'groups-full' });
  });

  it('lets a retry wait for its back-off, and says until when', () => {
    const queue = [entry('later', { notBefore: 5_000 }), entry('later2', { notBefore: 3_000 })];
    expect(pickNext(queue, new Map(), 0, limits, 1_000)).toEqual({ wait: 'back-off', untilMs: 3_000 });
    expect(pickNext(queue, new Map(), 0, limits, 3_000)).toEqual({ start: 1 });
  });

  it('starts nothing in a group whose source is too busy', () => {
    const queue = [entry('a1', { group: 'a' }), entry('b1', { group: 'b' })];
    expect(pickNext(queue, new Map(), 0, limits, 0, new Set(['a']))).toEqual({ start: 1 });
    expect(pickNext(queue, new Map(), 0, limits, 0, new Set(['a', 'b']))).toEqual({ wait: 'groups-full' });
  });

  it('says when the queue is empty', () => {
    expect(pickNext([], new Map(), 0, limits, 0)).toEqual({ wait: 'empty' });
  });
});
