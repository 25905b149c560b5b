import { InterruptedError } from './errors.js';

/**
 * The small async helpers every layer shares, written once: a bounded pool, a semaphore, sleeps that Ctrl-C ends, and
 * the one back-off of mailshift. Folder retries, re-sent APPENDs, (re)connecting and rsync retries all wait by
 * `decideBackoffMs`, so a server that throttles or refuses connections sees the same pacing whatever was refused.
 *
 * Hand-written rather than p-limit/p-retry: each is a few lines, and the exact semantics matter here (a pool stops
 * starting work after the first failure and waits for what runs before it reports it, because callers clean up
 * directories the running work still writes into).
 */

/**
 * Exponential back-off, never shorter than a delay the server asked for. `jitter: 'equal'` (the default) waits
 * between half the ceiling and the ceiling, so reconnecting clients spread out; `'none'` waits the ceiling exactly
 * (rsync retries, where one process retries alone).
 */
export function decideBackoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  serverAskedMs?: number,
  random: () => number = Math.random,
  jitter: 'equal' | 'none' = 'equal',
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const waited = jitter === 'none' ? ceiling : Math.round(ceiling / 2 + random() * (ceiling / 2));
  return Math.max(waited, serverAskedMs ?? 0);
}

/** A delay the server named on an error (`retryAfterMs`, set by the IMAP store), if any. */
export function retryAfterMs(err: unknown): number | undefined {
  const value = (err as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof value === 'number' ? value : undefined;
}

/** Waits `ms`; Ctrl-C (the signal) ends the wait at once with InterruptedError. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new InterruptedError());
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits `ms`, or less when the signal aborts first; never throws (a watch loop checks the signal itself). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `work` over `items`, at most `concurrency` at a time, in order of start. After the first failure no further
 * item starts; the running ones are waited for, then the first error is thrown (callers remove staging directories
 * next, which running work may still write into).
 */
export async function runPool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    for (;;) {
      const index = next;
      next += 1;
      if (index >= items.length || failed) return;
      await work(items[index]!, index);
    }
  };
  const settled = await Promise.allSettled(
    Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, () =>
      worker().catch((err: unknown) => {
        failed = true;
        throw err;
      }),
    ),
  );
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
}

/** A counting semaphore: bounds the work in flight so a million-file tree never queues a million promises. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly concurrency: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

/** Every item of an async iterable, in order. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
