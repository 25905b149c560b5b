import TinyQueue from 'tinyqueue';

/**
 * Which account starts next: the queue the campaign runner asks whenever a slot frees up.
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

/** Negative when `a` starts before `b`. A total order: no two entries of one plan have the same index. */
export function compareEntries(a: QueueEntry, b: QueueEntry, largestFirst: boolean): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const aKnown = a.sizeBytes !== undefined;
  const bKnown = b.sizeBytes !== undefined;
  if (aKnown !== bKnown) return aKnown ? -1 : 1;
  if (aKnown && bKnown && a.sizeBytes !== b.sizeBytes) return largestFirst ? b.sizeBytes! - a.sizeBytes! : a.sizeBytes! - b.sizeBytes!;
  return a.index - b.index;
}

export type NextStart<T> = { readonly entry: T } | { readonly wait: 'full' | 'groups-full' | 'back-off' | 'empty'; readonly untilMs?: number };

/**
 * The accounts waiting to start, as one ordered line per group, so that taking the next one costs the same with 25
 * accounts or 25,000. One ordered list scanned for the first account whose group had room made the campaign
 * quadratic: with one source host full, every pick read the whole list (25,000 accounts: 2.4 s of scanning, growing
 * with the square of the fleet), and every retry sorted the whole list again.
 *
 * The lines' best entries sit in a heap, best first; a group that is full (or whose source is too busy) is passed
 * over without reading its line. Retries wait in a heap of their own, soonest first, until their back-off is over.
 */
export class StartQueue<T extends QueueEntry> {
  private readonly compare: (a: T, b: T) => number;
  /** Per group, the entries that may start, best last (taken with pop). */
  private readonly lines = new Map<string, T[]>();
  /**
   * The best entry of every line, best first. An entry that is no longer its line's best (taken, or passed by a
   * retry put before it) is stale and skipped when it comes up: cheaper than finding it in the heap to move it.
   */
  private readonly bests: TinyQueue<T>;
  /** Retries in their back-off, soonest first. */
  private readonly backingOff = new TinyQueue<T>([], (a, b) => a.notBefore! - b.notBefore!);
  /** Entries waiting per group, back-off included: the groups a load check must read. */
  private readonly waitingByGroup = new Map<string, number>();
  private count = 0;

  constructor(entries: readonly T[], largestFirst: boolean) {
    this.compare = (a, b) => compareEntries(a, b, largestFirst);
    this.bests = new TinyQueue<T>([], this.compare);
    const ready: T[] = [];
    for (const entry of entries) {
      if (entry.notBefore !== undefined) this.add(entry);
      else ready.push(entry);
    }
    // Sorted once, worst first, and dealt into the lines in that order: each line comes out sorted, with no inserts.
    ready.sort((a, b) => this.compare(b, a));
    for (const entry of ready) {
      this.countIn(entry);
      const line = this.lines.get(entry.group);
      if (line) line.push(entry);
      else this.lines.set(entry.group, [entry]);
    }
    for (const line of this.lines.values()) this.bests.push(line.at(-1)!);
  }

  /** How many accounts wait, back-off included. */
  get size(): number {
    return this.count;
  }

  /** The groups with an account waiting. */
  groups(): IterableIterator<string> {
    return this.waitingByGroup.keys();
  }

  /** Queues an account: a retry (with its `notBefore`) goes into its place once its back-off is over. */
  add(entry: T): void {
    this.countIn(entry);
    if (entry.notBefore !== undefined) this.backingOff.push(entry);
    else this.putInLine(entry);
  }

  /**
   * Takes the next account to start, or says why none can start now. `blockedGroups` are groups whose source is too
   * busy (`--max-load`): their accounts wait. With nothing startable and a retry backing off, the answer is the
   * soonest retry's time, in whichever group: waking then is at worst one look too many.
   */
  takeNext(runningByGroup: ReadonlyMap<string, number>, runningTotal: number, limits: Limits, now: number, blockedGroups: ReadonlySet<string> = new Set()): NextStart<T> {
    if (this.count === 0) return { wait: 'empty' };
    if (runningTotal >= limits.global) return { wait: 'full' };
    for (let soonest = this.backingOff.peek(); soonest && soonest.notBefore! <= now; soonest = this.backingOff.peek()) this.putInLine(this.backingOff.pop()!);
    const passedOver: T[] = [];
    let taken: T | undefined;
    while (this.bests.length > 0) {
      const best = this.bests.pop()!;
      const line = this.lines.get(best.group);
      if (line?.at(-1) !== best) continue; // stale
      if ((runningByGroup.get(best.group) ?? 0) >= limits.perGroup || blockedGroups.has(best.group)) {
        passedOver.push(best);
        continue;
      }
      line.pop();
      if (line.length > 0) this.bests.push(line.at(-1)!);
      else this.lines.delete(best.group);
      taken = best;
      break;
    }
    for (const best of passedOver) this.bests.push(best);
    if (taken) {
      this.countOut(taken);
      return { entry: taken };
    }
    const soonest = this.backingOff.peek();
    return soonest ? { wait: 'back-off', untilMs: soonest.notBefore! } : { wait: 'groups-full' };
  }

  private putInLine(entry: T): void {
    let line = this.lines.get(entry.group);
    if (!line) {
      line = [];
      this.lines.set(entry.group, line);
    }
    // Binary search for its place in a line sorted worst first.
    let low = 0;
    let high = line.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.compare(line[middle]!, entry) > 0) low = middle + 1;
      else high = middle;
    }
    line.splice(low, 0, entry);
    if (low === line.length - 1) this.bests.push(entry);
  }

  private countIn(entry: T): void {
    this.count += 1;
    this.waitingByGroup.set(entry.group, (this.waitingByGroup.get(entry.group) ?? 0) + 1);
  }

  private countOut(entry: T): void {
    this.count -= 1;
    const left = this.waitingByGroup.get(entry.group)! - 1;
    if (left > 0) this.waitingByGroup.set(entry.group, left);
    else this.waitingByGroup.delete(entry.group);
  }
}
