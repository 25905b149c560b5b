import { describe, expect, it } from 'vitest';
import { compareEntries, StartQueue, type Limits, type QueueEntry } from '../../src/campaign/schedule.js';

const entry = (id: string, fields: Partial<QueueEntry> = {}, index = 0): QueueEntry => ({ id, group: 'local', priority: 0, index, ...fields });
const noLimits: Limits = { global: Infinity, perGroup: Infinity };

/** Every id, in the order the queue hands them out with nothing in the way. */
function drain(queue: StartQueue<QueueEntry>, now = 0): string[] {
  const ids: string[] = [];
  for (let next = queue.takeNext(new Map(), 0, noLimits, now); 'entry' in next; next = queue.takeNext(new Map(), 0, noLimits, now)) ids.push(next.entry.id);
  return ids;
}

describe('StartQueue order', () => {
  const plan = [entry('whale', { sizeBytes: 9_000 }, 0), entry('unknown', {}, 1), entry('small', { sizeBytes: 10 }, 2), entry('mid', { sizeBytes: 500 }, 3), entry('urgent', { priority: 5, sizeBytes: 99_999 }, 4)];

  it('starts higher priority first, then the smallest, then accounts of unknown size in plan order', () => {
    expect(drain(new StartQueue(plan, false))).toEqual(['urgent', 'small', 'mid', 'whale', 'unknown']);
  });

  it('turns the sizes round with --largest-first, priority still first', () => {
    expect(drain(new StartQueue(plan, true))).toEqual(['urgent', 'whale', 'mid', 'small', 'unknown']);
  });

  it('keeps plan order between accounts of the same size', () => {
    expect(drain(new StartQueue([entry('b', { sizeBytes: 1 }, 1), entry('a', { sizeBytes: 1 }, 0)], false))).toEqual(['a', 'b']);
  });

  it('keeps the order across groups', () => {
    const queue = new StartQueue([entry('a3', { group: 'a', sizeBytes: 3 }, 0), entry('b2', { group: 'b', sizeBytes: 2 }, 1), entry('a1', { group: 'a', sizeBytes: 1 }, 2), entry('b4', { group: 'b', sizeBytes: 4 }, 3)], false);
    expect(drain(queue)).toEqual(['a1', 'b2', 'a3', 'b4']);
  });
});

describe('StartQueue.takeNext', () => {
  const limits = { global: 3, perGroup: 2 };

  it('starts the first account whose group has room', () => {
    const queue = new StartQueue([entry('a1', { group: 'a' }, 0), entry('a2', { group: 'a' }, 1), entry('b1', { group: 'b' }, 2)], false);
    expect(queue.takeNext(new Map([['a', 2]]), 2, limits, 0)).toEqual({ entry: expect.objectContaining({ id: 'b1' }) });
    // a's accounts were passed over, not lost: they start once a has room.
    expect(queue.takeNext(new Map([['a', 1]]), 1, limits, 0)).toEqual({ entry: expect.objectContaining({ id: 'a1' }) });
    expect(queue.size).toBe(1);
  });

  it('starts nothing when the global limit is reached, or every group is full', () => {
    const queue = new StartQueue([entry('a1', { group: 'a' })], false);
    expect(queue.takeNext(new Map(), 3, limits, 0)).toEqual({ wait: 'full' });
    expect(queue.takeNext(new Map([['a', 2]]), 2, limits, 0)).toEqual({ wait: 'groups-full' });
    expect(queue.size).toBe(1);
  });

  it('lets a retry wait for its back-off, and says until when', () => {
    const queue = new StartQueue([entry('later', { notBefore: 5_000 }, 0), entry('later2', { notBefore: 3_000 }, 1)], false);
    expect(queue.takeNext(new Map(), 0, limits, 1_000)).toEqual({ wait: 'back-off', untilMs: 3_000 });
    expect(queue.takeNext(new Map(), 0, limits, 3_000)).toEqual({ entry: expect.objectContaining({ id: 'later2' }) });
    expect(queue.takeNext(new Map(), 0, limits, 3_000)).toEqual({ wait: 'back-off', untilMs: 5_000 });
  });

  it('puts a retry whose back-off is over in its place among the accounts waiting', () => {
    const queue = new StartQueue([entry('mid', { sizeBytes: 500 }, 1), entry('big', { sizeBytes: 900 }, 2)], false);
    queue.add(entry('small', { sizeBytes: 10, notBefore: 2_000 }, 0));
    expect(queue.takeNext(new Map(), 0, limits, 1_000)).toEqual({ entry: expect.objectContaining({ id: 'mid' }) });
    expect(queue.takeNext(new Map(), 0, limits, 2_000)).toEqual({ entry: expect.objectContaining({ id: 'small' }) });
    expect(queue.takeNext(new Map(), 0, limits, 2_000)).toEqual({ entry: expect.objectContaining({ id: 'big' }) });
    expect(queue.takeNext(new Map(), 0, limits, 2_000)).toEqual({ wait: 'empty' });
  });

  it('starts nothing in a group whose source is too busy', () => {
    const queue = new StartQueue([entry('a1', { group: 'a' }, 0), entry('b1', { group: 'b' }, 1)], false);
    expect(queue.takeNext(new Map(), 0, limits, 0, new Set(['a', 'b']))).toEqual({ wait: 'groups-full' });
    expect(queue.takeNext(new Map(), 0, limits, 0, new Set(['a']))).toEqual({ entry: expect.objectContaining({ id: 'b1' }) });
  });

  it('says when the queue is empty', () => {
    expect(new StartQueue([], false).takeNext(new Map(), 0, limits, 0)).toEqual({ wait: 'empty' });
  });

  it('names the groups with an account waiting, those backing off included', () => {
    const queue = new StartQueue([entry('a1', { group: 'a' }, 0)], false);
    queue.add(entry('b1', { group: 'b', notBefore: 9_000 }, 1));
    expect([...queue.groups()].sort()).toEqual(['a', 'b']);
    queue.takeNext(new Map(), 0, limits, 0);
    expect([...queue.groups()]).toEqual(['b']);
  });
});

describe('StartQueue against the rule it keeps', () => {
  /** The rule, stated plainly: the first account in order whose group has room, is not blocked and is not backing off. */
  function firstStartable(waiting: readonly QueueEntry[], running: ReadonlyMap<string, number>, limits: Limits, now: number, blocked: ReadonlySet<string>): QueueEntry | undefined {
    return [...waiting]
      .sort((a, b) => compareEntries(a, b, false))
      .find((e) => (running.get(e.group) ?? 0) < limits.perGroup && !blocked.has(e.group) && (e.notBefore === undefined || e.notBefore <= now));
  }

  it('starts the same accounts as the rule through random starts, ends, retries and blocked groups', () => {
    // mulberry32: a small seeded generator, so a failure can be replayed.
    let seed = 7;
    const random = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const limits = { global: 5, perGroup: 2 };
    const groups = ['a', 'b', 'c', 'd'];
    const initial = Array.from({ length: 300 }, (_, i) => entry(`e${i}`, { group: groups[random(4)]!, priority: random(3), ...(random(5) > 0 ? { sizeBytes: random(50) } : {}) }, i));
    const queue = new StartQueue(initial, false);
    let waiting = [...initial];
    const running: QueueEntry[] = [];
    let next = initial.length;
    let rounds = 0;
    for (let now = 0; waiting.length > 0 || running.length > 0; now += 10) {
      rounds += 1;
      expect(rounds).toBeLessThan(10_000);
      // Some accounts end; some of those come back as retries.
      for (let i = running.length - 1; i >= 0; i--) {
        if (random(3) > 0) continue;
        const [ended] = running.splice(i, 1);
        if (random(4) === 0) {
          const retry = { ...ended!, id: `e${next}`, index: next++, notBefore: now + random(60) };
          queue.add(retry);
          waiting.push(retry);
        }
      }
      const blocked = new Set(groups.filter(() => random(6) === 0));
      for (;;) {
        const runningByGroup = new Map<string, number>();
        for (const e of running) runningByGroup.set(e.group, (runningByGroup.get(e.group) ?? 0) + 1);
        const expected = running.length < limits.global ? firstStartable(waiting, runningByGroup, limits, now, blocked) : undefined;
        const pick = queue.takeNext(runningByGroup, running.length, limits, now, blocked);
        expect('entry' in pick ? pick.entry.id : undefined).toBe(expected?.id);
        if (!('entry' in pick)) break;
        running.push(pick.entry);
        waiting = waiting.filter((e) => e !== pick.entry);
      }
      expect(queue.size).toBe(waiting.length);
    }
  });

  it('reads each account a bounded number of times however long the queue (25,000 accounts of one full group)', () => {
    let reads = 0;
    const counted = (i: number): QueueEntry => ({
      id: `e${i}`,
      priority: 0,
      index: i,
      sizeBytes: i,
      get group() {
        reads += 1;
        return 'one-host';
      },
    });
    const accounts = 25_000;
    const queue = new StartQueue(Array.from({ length: accounts }, (_, i) => counted(i)), false);
    reads = 0;
    const limits = { global: 6, perGroup: 2 };
    let started = 0;
    // Two running always; as one ends the next starts, and the runner asks once more and hears the group is full.
    while (queue.size > 0) {
      const pick = queue.takeNext(new Map([['one-host', 1]]), 1, limits, 0);
      expect('entry' in pick).toBe(true);
      started += 1;
      if (queue.size > 0) expect(queue.takeNext(new Map([['one-host', 2]]), 2, limits, 0)).toEqual({ wait: 'groups-full' });
    }
    expect(started).toBe(accounts);
    // One ordered list scanned from the top read every account at every "full" answer: 312 million reads here.
    expect(reads).toBeLessThan(20 * accounts);
  });
});
