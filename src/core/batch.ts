/**
 * Items in order, packed greedily into batches of at most `maxWeight` (summed by `weightOf`) and `maxCount` items; an
 * item heavier than `maxWeight` goes alone. Pure. Used for UID sets that must fit a command line and for the ranges a
 * large folder is read in.
 */
export function packInBatches<T>(items: Iterable<T>, weightOf: (item: T) => number, maxWeight: number, maxCount: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let weight = 0;
  for (const item of items) {
    const itemWeight = weightOf(item);
    if (current.length > 0 && (weight + itemWeight > maxWeight || current.length >= maxCount)) {
      batches.push(current);
      current = [];
      weight = 0;
    }
    current.push(item);
    weight += itemWeight;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
