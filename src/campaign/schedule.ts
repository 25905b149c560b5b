/**
 * Which account starts next: pure decisions the campaign runner asks for whenever a slot frees up.
 *
 * Order: higher priority first; then smallest first (whales last, so one big mailbox does not hold the fleet back;
 * `--largest-first` turns it round); accounts of unknown size after those of known size; then plan order.
 * Limits: a global number of accounts at once and a number per group (by default the source host), because every
 * hosted migration service caps both to spare the source server.
 */
export interface QueueEntry {
  readonly id: string;
  readonly group: string;
  readonly priority: number;
  readonly sizeBytes?: number;
  /** Position in the plan. */
  readonly index: number;
  /** A retry waits for its back-off: not started before this time (ms since the epoch). */
  readonly notBefore?: number;
}

export interface Limits {
  readonly global: number;
  readonly perGroup: number;
}

export function orderQueue<T extends QueueEntry>(entries: readonly T[], largestFirst: boolean): T[] {
  return [...entries].sort((a, b) => {
    if (a.priority !== b.priority) return b.priority - a.priority;
    const aKnown = a.sizeBytes !== undefined;
    const bKnown = b.sizeBytes !== undefined;
    if (aKnown !== bKnown) return aKnown ? -1 : 1;
    if (aKnown && bKnown && a.sizeBytes !== b.sizeBytes) return largestFirst ? b.sizeBytes! - a.sizeBytes! : a.sizeBytes! - b.sizeBytes!;
    return a.index - b.index;
  });
}

export type NextPick = { readonly start: number } | { readonly wait: 'full' | 'groups-full' | 'back-off' | 'empty'; readonly untilMs?: number };

/**
 * The position in `queue` (already ordered) of the next account to start, or why none can start now. `blockedGroups`
 * are groups whose source is too busy (`--max-load`): their accounts wait.
 */
export function pickNext(queue: readonly QueueEntry[], runningByGroup: ReadonlyMap<string, number>, runningTotal: number, limits: Limits, now: number, blockedGroups: ReadonlySet<string> = new Set()): NextPick {
  if (queue.length === 0) return { wait: 'empty' };
  if (runningTotal >= limits.global) return { wait: 'full' };
  let earliestRetry: number | undefined;
  for (let position = 0; position < queue.length; position++) {
    const entry = queue[position]!;
    if ((runningByGroup.get(entry.group) ?? 0) >= limits.perGroup || blockedGroups.has(entry.group)) continue;
    if (entry.notBefore !== undefined && entry.notBefore > now) {
      earliestRetry = Math.min(earliestRetry ?? Infinity, entry.notBefore);
      continue;
    }
    return { start: position };
  }
  return earliestRetry !== undefined ? { wait: 'back-off', untilMs: earliestRetry } : { wait: 'groups-full' };
}
