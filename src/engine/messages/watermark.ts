import type { MessageRef } from '../../core/types.js';
import type { Mailbox } from '../../stores/store.js';
import type { SyncStateFile } from '../state.js';

/** Tracks the highest UID below which every candidate is done (copied, present, or gone). */
export class Watermark {
  private readonly pending: number[];
  private readonly done = new Set<number>();
  private readonly highestListed: number;

  /** `uids`: those of the messages listed above `floor` (messages without a UID never hold it back). */
  constructor(
    private readonly floor: number,
    uids: Iterable<number | undefined>,
  ) {
    this.pending = [...uids].filter((uid): uid is number => uid !== undefined).sort((a, b) => a - b);
    this.highestListed = this.pending.at(-1) ?? floor;
  }

  markDone(ref: MessageRef): void {
    if (ref.uid !== undefined) this.done.add(ref.uid);
  }

  value(): number {
    let mark = this.floor;
    for (const uid of this.pending) {
      if (!this.done.has(uid)) return mark;
      mark = uid;
    }
    return Math.max(mark, this.highestListed);
  }
}

/**
 * Records the watermark only once every message below it is in place on the target: a maildir target writes files
 * (and its UIDs into dovecot-uidlist) behind the appends, and a watermark saved ahead of them would make a run killed
 * right after the save skip, for good, what never reached the disk. The watermark is taken before the target catches
 * up, so it covers only messages appended before that.
 */
export async function saveCheckpoint(state: SyncStateFile | undefined, key: string, uidValidity: number | undefined, watermark: Watermark, targetBox: Mailbox): Promise<void> {
  if (!state || uidValidity === undefined) return;
  const highestUid = watermark.value();
  await targetBox.checkpoint?.();
  state.set(key, { uidValidity, highestUid });
}

export function saveWatermark(state: SyncStateFile | undefined, key: string, uidValidity: number | undefined, watermark: Watermark): void {
  if (!state || uidValidity === undefined) return;
  state.set(key, { uidValidity, highestUid: watermark.value() });
}
