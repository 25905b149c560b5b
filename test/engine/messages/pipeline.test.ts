import { describe, expect, it } from 'vitest';
import { readAhead } from '../../../src/engine/messages/pipeline.js';

describe('readAhead', () => {
  const item = (n: number) => ({ n, content: Buffer.alloc(10) });

  it('yields everything in order', async () => {
    async function* source() {
      for (let n = 0; n < 50; n++) yield item(n);
    }
    const seen: number[] = [];
    for await (const each of readAhead(source(), 4, 1000)) seen.push(each.n);
    expect(seen).toEqual([...Array(50).keys()]);
  });

  it('never holds more than the bound while the consumer is slow', async () => {
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    async function* source() {
      for (let n = 0; n < 30; n++) {
        produced += 1;
        maxAhead = Math.max(maxAhead, produced - consumed);
        yield item(n);
      }
    }
    for await (const _ of readAhead(source(), 3, 1000)) {
      consumed += 1;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(maxAhead).toBeLessThanOrEqual(5);
  });

  it('closes the source when the consumer stops early, and passes source errors on', async () => {
    let closed = false;
    async function* source() {
      try {
        for (let n = 0; ; n++) yield item(n);
      } finally {
        closed = true;
      }
    }
    for await (const each of readAhead(source(), 2, 1000)) if (each.n === 3) break;
    expect(closed).toBe(true);

    async function* failing() {
      yield item(0);
      throw new Error('connection reset');
    }
    await expect(async () => {
      for await (const _ of readAhead(failing(), 2, 1000)) {
        // consume
      }
    }).rejects.toThrow('connection reset');
  });
});
