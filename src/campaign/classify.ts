import { describeError, isMailshiftError, systemErrorCode } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { maskUrlSecrets } from '../core/secrets.js';
import type { AccountStatus, FailureKind } from './state/types.js';

/**
 * What an account's stage ended with, in the campaign's words: pure mappings from what the engine calls return
 * (exit codes) or throw (errors) to a status, and whether another try could help. A temporary failure (a dropped
 * connection, throttling, a busy server) is retried with back-off; a permanent one (a refused login, a missing
 * source, a bad spec) is not, because retrying cannot cure it and would only hammer the server.
 */
export interface StageVerdict {
  readonly status: Exclude<AccountStatus, 'running' | 'planned'>;
  readonly failureKind?: FailureKind;
  readonly error?: string;
}

/** An engine call returned: its exit code says how it went. */
export function decideStageVerdict(exitCode: number, what: string): StageVerdict {
  switch (exitCode) {
    case ExitCode.ok:
      return { status: 'done' };
    case ExitCode.partial:
      return { status: 'done-with-skips' };
    case ExitCode.differences:
      return { status: 'failed', failureKind: 'permanent', error: `${what} found differences: messages of the source are missing on the target (listed in the report)` };
    case ExitCode.sourceChanged:
      return { status: 'failed', failureKind: 'temporary', error: `the source changed while ${what} ran` };
    case ExitCode.tempFail:
      return { status: 'failed', failureKind: 'temporary', error: `${what} stopped on a temporary failure (network or server); run again to continue` };
    default:
      return { status: 'failed', failureKind: 'permanent', error: `${what} ended with exit code ${exitCode}` };
  }
}

const temporarySystemCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED']);

/** An engine call threw: a typed error says whether retrying can help; a system error is judged by its code. */
export function classifyFailure(err: unknown): { readonly kind: FailureKind; readonly message: string } {
  const message = maskUrlSecrets(describeError(err));
  if (isMailshiftError(err)) {
    const temporary = err.retry !== 'no' || err.exitCode === ExitCode.tempFail;
    return { kind: temporary ? 'temporary' : 'permanent', message: `${err.code}: ${message}` };
  }
  const code = systemErrorCode(err);
  return { kind: code && temporarySystemCodes.has(code) ? 'temporary' : 'permanent', message };
}
