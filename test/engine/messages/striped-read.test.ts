import { describe, expect, it } from 'vitest';
import type { MessageRef } from '../../../src/core/types.js';
import { readStriped } from '../../../src/engine/messages/striped-read.js';
import type { Mailbox } from '../../../src/stores/store.js';

const ref = (uid: number): MessageRef => ({ id: String(uid), uid, flags: new Set(), keywords: new Set() });
const stripesOf = (count: number, size: number) => Array.from({ length: count }, (_, s) => Array.from({ length: size }, (_, i) => ref(s * size + i + 1)));
const tick = (ms = 1) => new Promise((resolve) => setTimeout(resolve, ms));

/** A mailbox whose readMany yields the asked refs after a delay each, records what it was asked, and can leave some out or fail. */
function fakeBox(options: { delayMs?: number; gone?: Set<number>; failOnUid?: number } = {}) {
  const asked: number[][] = [];
  let active = 0;
  const box = {
    asked,
    get active() {
      return active;
    },
    async *readMany(refs: readonly MessageRef[]) {
      asked.push(refs.map((each) => each.uid!));
      active += 1;
      try {
        for (const each of refs) {
          await tick(options.delayMs ?? 1);
          if (each.uid === options.failOnUid) throw new Error(`connection cut at UID ${each.uid}`);
          if (options.gone?.has(each.uid!)) continue;
          yield { ref: each, content: Buffer.from(`message ${each.uid}`) };
        }
      } finally {
        active -= 1;
      }
    },
  };
  return box as unknown as Mailbox & { asked: number[][]; active: number };
}

async function collectUids(iterable: AsyncIterable<{ ref: MessageRef }>): Promise<number[]> {
  const uids: number[] = [];
  for await (const { ref: each } of iterable) uids.push(each.uid!);
  return uids;
}

describe('readStriped', () => {
  it('reads over every mailbox handle and yields every message once, in UID order', async () => {
    const first = fakeBox({ delayMs: 2 });
    const second = fakeBox({ delayMs: 1 });
    const uids = await collectUids(readStriped({ first, joining: [Promise.resolve(second)], stripes: stripesOf(8, 5), maxStripesAhead: 4 }));
    expect(uids).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(first.asked.length).toBeGreaterThan(0);
    expect(second.asked.length).toBeGreaterThan(0);
    // Each stripe asked for exactly once, by one of them.
    expect([...first.asked, ...second.asked].flat().sort((a, b) => a - b)).toEqual(uids);
  });

  it('lets a connection that logs in late take the stripes left, and ignores one that could not be opened', async () => {
    const first = fakeBox();
    const late = fakeBox();
    let openLate: (box: Mailbox | undefined) => void = () => {};
    const joining = [new Promise<Mailbox | undefined>((resolve) => (openLate = resolve)), Promise.resolve(undefined)];
    const reading = collectUids(readStriped({ first, joining, stripes: stripesOf(10, 4), maxStripesAhead: 3 }));
    await tick(15);
    openLate(late);
    expect(await reading).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(late.asked.length).toBeGreaterThan(0);
    expect(late.asked[0]![0]).toBeGreaterThan(1);
  });

  it('never takes a stripe more than maxStripesAhead past the one being handed on', async () => {
    const boxes = [fakeBox(), fakeBox(), fakeBox()];
    const taken: number[] = [];
    for (const box of boxes) {
      const readMany = box.readMany!.bind(box);
      box.readMany = (refs, signal) => {
        taken.push(Math.ceil(refs[0]!.uid! / 3) - 1);
        return readMany(refs, signal);
      };
    }
    let handedStripe = 0;
    let worstLead = 0;
    for await (const { ref: each } of readStriped({ first: boxes[0]!, joining: boxes.slice(1).map((box) => Promise.resolve(box)), stripes: stripesOf(12, 3), maxStripesAhead: 2 })) {
      handedStripe = Math.ceil(each.uid! / 3) - 1;
      worstLead = Math.max(worstLead, Math.max(...taken) - handedStripe);
      await tick(3);
    }
    expect(worstLead).toBeLessThanOrEqual(2);
  });

  it('leaves out messages a reader did not deliver (expunged meanwhile), as readMany does', async () => {
    const first = fakeBox({ gone: new Set([3, 17]) });
    const second = fakeBox({ gone: new Set([3, 17]) });
    const uids = await collectUids(readStriped({ first, joining: [Promise.resolve(second)], stripes: stripesOf(4, 5), maxStripesAhead: 4 }));
    expect(uids).toEqual(Array.from({ length: 20 }, (_, i) => i + 1).filter((uid) => uid !== 3 && uid !== 17));
  });

  it('ends with a reader\'s failure, and only once the other readers have stopped', async () => {
    const first = fakeBox({ failOnUid: 14 });
    const second = fakeBox({ failOnUid: 14, delayMs: 3 });
    const reading = collectUids(readStriped({ first, joining: [Promise.resolve(second)], stripes: stripesOf(6, 4), maxStripesAhead: 4 }));
    await expect(reading).rejects.toThrow(/connection cut at UID 14/);
    expect(first.active + second.active).toBe(0);
  });

  it('stops every reader when the consumer stops early', async () => {
    const first = fakeBox();
    const second = fakeBox();
    const iterator = readStriped({ first, joining: [Promise.resolve(second)], stripes: stripesOf(10, 5), maxStripesAhead: 4 })[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.next();
    await iterator.return?.();
    expect(first.active + second.active).toBe(0);
  });
});
