import type { MessageDraft } from './draft.js';
import { digestRingSize } from './write-queue.js';

/**
 * Ordered placement: drafts handed to the writer thread, which writes and hashes them, wait here (in the order they
 * were added, across source files) until their digest has come, and are then placed by the caller's `place`. Hashing
 * on the writer keeps it off the caller's thread, which frames the next messages meanwhile; placing in source order
 * keeps twin ordinals and UIDs exactly as they would be otherwise. Not emptied at the end of each source file: that
 * made the caller wait for the writer, and the writer then wait for the next file.
 *
 * `T` is what the caller needs to place a message (its folder, metadata, date); the digests stay in here.
 */

/**
 * Messages waiting for their digest at most. Well below the writer's digest ring (a digest is read from its slot
 * before `digestRingSize` later messages can claim it again), so a waiting message's digest is never overwritten.
 */
const maxWaitingMessages = digestRingSize / 4;

interface Waiting<T> {
  readonly draft: MessageDraft;
  readonly item: T;
}

export class OrderedPlacement<T> {
  private readonly entries: (Waiting<T> | (() => void))[] = [];
  private waitingMessages = 0;

  /** `place` names and places one message whose digest is ready; its draft is closed after it, whatever happens. */
  constructor(private readonly place: (item: T, draft: MessageDraft) => void) {}

  /**
   * A complete draft: hashed by the writer thread (or here, when it is small enough that waiting would cost more),
   * and placed in turn. A draft that cannot go through the writer (a dry run) is placed at once.
   */
  add(draft: MessageDraft, receivedDate: Date, item: T): void {
    if (!draft.canSeal) {
      this.placeOne({ draft, item });
      return;
    }
    if (draft.shouldSeal()) draft.seal(receivedDate);
    else draft.hashHere();
    this.entries.push({ draft, item });
    this.waitingMessages += 1;
    this.placeReady(maxWaitingMessages);
  }

  /** Runs `action` once every message added before it is placed (at once when none waits). */
  afterPlaced(action: () => void): void {
    if (this.entries.length === 0) action();
    else this.entries.push(action);
  }

  /** Places every waiting message (and runs the actions between them). */
  placeAll(): void {
    this.placeReady(0);
  }

  /** Drops the messages not yet placed (their tmp files are removed) and the actions: the run is stopping. */
  abort(): void {
    for (const entry of this.entries.splice(0)) if (typeof entry !== 'function') entry.draft.close();
    this.waitingMessages = 0;
  }

  /** Places waiting messages whose digest has come, oldest first; waits for the oldest while more than `limit` wait. */
  private placeReady(limit: number): void {
    while (this.entries.length > 0) {
      const oldest = this.entries[0]!;
      if (typeof oldest === 'function') {
        this.entries.shift();
        oldest();
        continue;
      }
      if (this.waitingMessages <= limit && !oldest.draft.isHashReady()) return;
      this.entries.shift();
      this.waitingMessages -= 1;
      this.placeOne(oldest);
    }
  }

  private placeOne({ draft, item }: Waiting<T>): void {
    try {
      this.place(item, draft);
    } finally {
      draft.close();
    }
  }
}
