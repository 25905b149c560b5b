import { InterruptedError } from './errors.js';

/**
 * The one back-off of mailshift: folder retries, re-sent APPENDs and (re)connecting all wait this way, so a server
 * that throttles or refuses connections sees the same pacing whatever was refused.
 */

/** Full-jitter exponential back-off, never shorter than a delay the server asked for. */
export function decideBackoffMs(attempt: number, baseMs: number, maxMs: number, serverAskedMs?: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(ceiling / 2 + random() * (ceiling / 2));
  return Math.max(jittered, serverAskedMs ?? 0);
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
