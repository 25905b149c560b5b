import type { ErrorCode } from './error-codes.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';

/** How far a failure reaches: a message-level error never kills a mailbox, an account-level one never kills a batch. */
export type ErrorScope = 'message' | 'mailbox' | 'account' | 'run';
/** Whether retrying can help: not at all, right away, or later (the server or network may recover). */
export type RetryAdvice = 'no' | 'now' | 'later';

export interface MailshiftErrorOptions {
  scope?: ErrorScope;
  retry?: RetryAdvice;
  /** What the user can do about it. Shown under the message. */
  hint?: string;
  cause?: unknown;
  /** Overrides the exit code derived from scope and retry. */
  exitCode?: ExitCodeValue;
}

/**
 * The one error type the CLI renders. `code` is stable and documented (a key of the table in error-codes.ts, from which
 * docs/errors.md is generated), `message` says what and where, `hint` says what to do.
 */
export class MailshiftError extends Error {
  override readonly name = 'MailshiftError';
  readonly code: ErrorCode;
  readonly scope: ErrorScope;
  readonly retry: RetryAdvice;
  readonly hint: string | undefined;
  readonly exitCode: ExitCodeValue;

  constructor(code: ErrorCode, message: string, options: MailshiftErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.scope = options.scope ?? 'run';
    this.retry = options.retry ?? 'no';
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? (this.retry === 'later' ? ExitCode.tempFail : ExitCode.failed);
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, scope: this.scope, retry: this.retry, hint: this.hint };
  }
}

export class UsageError extends MailshiftError {
  constructor(message: string, hint?: string) {
    super('MAILSHIFT_USAGE', message, { hint, exitCode: ExitCode.usage });
  }
}

export class InterruptedError extends MailshiftError {
  constructor() {
    super('MAILSHIFT_INTERRUPTED', 'interrupted', {
      hint: 'everything written so far is complete; run the same command again to continue',
      exitCode: ExitCode.interrupted,
    });
  }
}

export function isMailshiftError(err: unknown): err is MailshiftError {
  return err instanceof MailshiftError;
}

/** Narrow an unknown thrown value to a message, for logs and reports. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Node's system error code (ENOENT, EACCES, ...) if there is one. */
export function systemErrorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError();
}
