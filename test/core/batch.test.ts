import { describe, expect, it } from 'vitest';
import { packInBatches } from '../../src/core/batch.js';

describe('packInBatches', () => {
  it('packs items in order, closing a batch before it would pass the weight or the count', () => {
    expect(packInBatches([3, 3, 3, 1, 1, 1, 1], (n) => n, 6, 3)).toEqual([[3, 3], [3, 1, 1], [1, 1]]);
  });

  it('puts an item heavier than the limit in a batch of its own, and gives nothing for nothing', () => {
    expect(packInBatches([1, 10, 1], (n) => n, 5, 10)).toEqual([[1], [10], [1]]);
    expect(packInBatches([], (n: number) => n, 5, 10)).toEqual([]);
  });
});
