import { sleep } from '../../core/async.js';
import { MailshiftError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';

/**
 * Pacing for providers' budgets (Gmail: about 500 MB a day uploaded and 2,500 MB downloaded; Microsoft 365: a
 * throttling budget that slows responses, then refuses): `--max-bytes-per-second` spreads the bytes a run moves over
 * time, and `--max-bytes` stops the run once that many have moved, cleanly (everything copied is recorded) with the
 * "run again" exit code, so a campaign can spread an account over several nights.
 *
 * Bytes are counted once per message, as it is handed from the source to the target (the size read), for every
 * folder of the run together.
 */
export class BytePacer {
  private tokens: number;
  private refilledAt: number;
  private reserved = 0;

  constructor(
    private readonly bytesPerSecond: number | undefined,
    private readonly maxBytes: number | undefined,
    // Monotonic milliseconds; process.hrtime rather than performance.now, which loads perf_hooks at every start.
    private readonly now: () => number = () => Number(process.hrtime.bigint()) / 1e6,
  ) {
    // A bucket of one second's worth: a short burst is allowed, the average is the rate.
    this.tokens = bytesPerSecond ?? 0;
    this.refilledAt = now();
  }

  /**
   * Takes `bytes` from the run's budget; false (nothing taken) when they would go over --max-bytes. The first
   * message of a run always passes, however large, so a run always gets somewhere.
   */
  tryReserve(bytes: number): boolean {
    if (this.maxBytes !== undefined && this.reserved > 0 && this.reserved + bytes > this.maxBytes) return false;
    this.reserved += bytes;
    return true;
  }

  /** Bytes taken so far. */
  get reservedBytes(): number {
    return this.reserved;
  }

  /** How long to wait before `bytes` more may go at the rate (a token bucket that may run into debt); 0 without a rate. */
  decideDelayMs(bytes: number): number {
    const rate = this.bytesPerSecond;
    if (!rate) return 0;
    const now = this.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    this.tokens -= bytes;
    return this.tokens < 0 ? (-this.tokens * 1000) / rate : 0;
  }

  /** Waits as decideDelayMs says (ends early on `signal`). */
  async pace(bytes: number, signal?: AbortSignal): Promise<void> {
    const delayMs = this.decideDelayMs(bytes);
    if (delayMs > 0) await sleep(delayMs, signal);
  }
}

/** The run reached --max-bytes: stopped cleanly, everything copied so far recorded; exit 75. */
export class ByteBudgetReachedError extends MailshiftError {
  constructor(maxBytes: number, movedBytes: number) {
    super('MAILSHIFT_BYTE_BUDGET', `reached --max-bytes ${maxBytes}: ${movedBytes} bytes moved this run, the next message would go over it`, {
      scope: 'run',
      retry: 'later',
      exitCode: ExitCode.tempFail,
      hint: 'everything copied so far is recorded; run the same command again (tomorrow, for a daily limit) to continue',
    });
  }
}
