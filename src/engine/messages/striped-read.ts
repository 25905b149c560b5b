import { throwIfAborted } from '../../core/errors.js';
import type { MessageRef } from '../../core/types.js';
import type { Mailbox } from '../../stores/store.js';

/**
 * The bodies of a folder's stripes (stripes.ts), read over several mailbox handles of the same folder (one
 * connection each) and yielded in stripe order, so in UID order, as one `readMany` over one connection would.
 *
 * - Each reader takes the next stripe nobody has taken; a reader whose connection is still logging in (`joining`)
 *   starts when it is ready, and a slow one simply takes fewer stripes.
 * - Bounded: no stripe is taken more than `maxStripesAhead` past the one being handed on, so at most about that many
 *   stripes' bodies wait in memory.
 * - Messages a reader does not deliver (expunged meanwhile) are simply not yielded, as with `readMany`.
 * - A reader's failure ends the read with that error; the other readers stop, and this generator returns only once
 *   every reader has, so no fetch outlives the folder.
 *
 * The caller owns the handles: it opens them and disposes them (also those that joined too late to take a stripe).
 */
export interface StripedReadInput {
  /** The folder's own handle, reading at once. */
  readonly first: Mailbox;
  /** Handles on further connections, as they finish opening; undefined when one could not be opened. */
  readonly joining: readonly Promise<Mailbox | undefined>[];
  readonly stripes: readonly (readonly MessageRef[])[];
  readonly maxStripesAhead: number;
  readonly signal?: AbortSignal;
}

export async function* readStriped(input: StripedReadInput): AsyncIterable<{ readonly ref: MessageRef; readonly content: Buffer }> {
  const { stripes, signal } = input;
  const queues = stripes.map(() => [] as { ref: MessageRef; content: Buffer }[]);
  const isDone = stripes.map(() => false);
  let nextStripe = 0;
  let handingOn = 0;
  let isStopped = false;
  let failure: { error: unknown } | undefined;
  let waiters: (() => void)[] = [];
  /** Wakes everyone waiting (the consumer for a message, readers for room): each checks its own condition again. */
  const wakeAll = () => {
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };
  const changed = () => new Promise<void>((resolve) => waiters.push(resolve));

  const runReader = async (box: Mailbox): Promise<void> => {
    try {
      for (;;) {
        if (isStopped || failure) return;
        if (nextStripe >= stripes.length) return;
        if (nextStripe - handingOn >= input.maxStripesAhead) {
          await changed();
          continue;
        }
        const at = nextStripe++;
        const read = box.readMany ? box.readMany(stripes[at]!, signal) : undefined;
        if (!read) throw new Error('readStriped needs mailboxes with readMany');
        for await (const item of read) {
          queues[at]!.push(item);
          wakeAll();
          if (isStopped) break;
        }
        isDone[at] = true;
        wakeAll();
      }
    } catch (error) {
      failure ??= { error };
      wakeAll();
    }
  };

  // Only readers that started are waited for at the end: one still waiting for a connection is the caller's to stop.
  const readers: Promise<void>[] = [runReader(input.first)];
  for (const joining of input.joining) {
    void joining.then(
      (box) => {
        if (box && !isStopped && nextStripe < stripes.length) readers.push(runReader(box));
      },
      () => undefined,
    );
  }
  const onAbort = () => wakeAll();
  signal?.addEventListener('abort', onAbort);
  try {
    for (handingOn = 0; handingOn < stripes.length; handingOn += 1) {
      wakeAll();
      const queue = queues[handingOn]!;
      for (;;) {
        const item = queue.shift();
        if (item) {
          yield item;
          continue;
        }
        if (failure) throw failure.error;
        if (isDone[handingOn]) break;
        if (signal) throwIfAborted(signal);
        await changed();
      }
      queues[handingOn] = [];
    }
  } finally {
    isStopped = true;
    wakeAll();
    signal?.removeEventListener('abort', onAbort);
    // isStopped keeps any reader from starting now; the loop is for one that started in the same turn.
    let waited = 0;
    while (waited < readers.length) {
      const started = readers.slice(waited);
      waited = readers.length;
      await Promise.all(started);
    }
  }
}
