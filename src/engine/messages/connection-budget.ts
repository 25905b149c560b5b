/**
 * The connections a run may hold on each side at once (the folders copied side by side, `--jobs` bounded by
 * `--max-connections`). Every folder being copied holds one; a large folder borrows the ones nobody holds to read its
 * bodies over several (stripes.ts), and gives them back when its read ends. Folders come first: nothing is lent
 * while folders wait to start, so a split read never delays a folder. A folder's own connection never waits for a
 * borrowed one: a read that finds none spare goes on over its own, and takes one later if one frees up.
 */
export class ConnectionBudget {
  private inUse = 0;
  private foldersWaiting = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly total: number) {}

  /** How many folders of the run have not started yet (nothing is lent while there are any). */
  setFoldersWaiting(count: number): void {
    this.foldersWaiting = count;
    this.wake();
  }

  /** One connection for a folder the run starts (the run's folder pool never starts more than `total`). */
  holdOne(): void {
    this.inUse += 1;
  }

  /** How many may be lent now. */
  get spare(): number {
    return this.foldersWaiting > 0 ? 0 : Math.max(0, this.total - this.inUse);
  }

  /** Up to `wanted` connections nobody holds; returns how many were granted (maybe 0). */
  borrow(wanted: number): number {
    const granted = Math.max(0, Math.min(wanted, this.spare));
    this.inUse += granted;
    return granted;
  }

  /** One connection, once one is spare; false if `isStopped()` became true first (checked whenever the budget changes or `wake` is called). */
  async borrowOneWhenSpare(isStopped: () => boolean): Promise<boolean> {
    for (;;) {
      if (isStopped()) return false;
      if (this.borrow(1) === 1) return true;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  giveBack(count: number): void {
    this.inUse = Math.max(0, this.inUse - count);
    this.wake();
  }

  /** Everyone waiting checks again (a read that ended stops waiting for a connection). */
  wake(): void {
    const woken = this.waiters;
    this.waiters = [];
    for (const resolve of woken) resolve();
  }
}
