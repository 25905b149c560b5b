import { MailshiftError } from '../../core/errors.js';

/**
 * What an IMAP failure means for the copy, decided from imapflow's error fields (code, serverResponseCode,
 * responseStatus, responseText) and Node's socket error codes. Pure, so every branch is unit-tested.
 *
 * The classes follow RFC 5530's response codes and what big providers send (see reference/imap-migration.md §7-9):
 * a transient failure is retried after a back-off on a fresh connection; an account failure (login, TLS, quota) stops
 * the account; a message failure skips that one message and is reported.
 */
export type ImapFailureKind =
  | 'auth' // wrong credentials, expired, not authorised: stop the account
  | 'tls' // certificate not trusted or TLS impossible: stop the account
  | 'connection' // refused, reset, closed, timed out, BYE: reconnect after a back-off
  | 'throttled' // [THROTTLED], Exchange "Request is throttled", Gmail bandwidth: back off longer
  | 'unavailable' // [UNAVAILABLE], [INUSE], [LIMIT]: retry after a back-off
  | 'trycreate' // [TRYCREATE]: create the mailbox, retry once
  | 'nonexistent' // [NONEXISTENT]: the mailbox is gone
  | 'overquota' // [OVERQUOTA]: stop writing to this account
  | 'too-big' // over APPENDLIMIT or the server's size limit: skip the message
  | 'message' // [SERVERBUG], [CORRUPTION], [CANNOT], parse errors of one message: skip it
  | 'other';

export interface ImapFailure {
  readonly kind: ImapFailureKind;
  readonly isTransient: boolean;
  /**
   * The server answered the command with a tagged NO or BAD: it certainly did not take effect, and the connection is
   * fine. False when the outcome is unknown (the connection broke before an answer).
   */
  readonly isRefused: boolean;
  /** The server's own words (or the socket error), for logs and reports. */
  readonly text: string;
  /** A delay the server asked for (Exchange's "Suggested Backoff Time"). */
  readonly retryAfterMs?: number;
}

const connectionCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN', 'EAI_AGAIN',
  'NoConnection', 'EConnectionClosed', 'StateLogout', 'ClosedAfterConnectText', 'ClosedAfterConnectTLS',
  'CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT', 'ETIMEOUT', 'ERR_STREAM_DESTROYED', 'ERR_SOCKET_CLOSED',
]);

const tlsCodes = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH|STARTTLS_INJECTION)/;

export function classifyImapError(err: unknown): ImapFailure {
  const fields = readFields(err);
  const text = fields.responseText || fields.message || String(err);
  const code = fields.code ?? '';
  const responseCode = (fields.serverResponseCode ?? bracketCode(text) ?? '').toUpperCase();
  const isRefused = fields.responseStatus === 'NO' || fields.responseStatus === 'BAD';

  const isCredentialCode = ['AUTHENTICATIONFAILED', 'AUTHORIZATIONFAILED', 'EXPIRED', 'PRIVACYREQUIRED'].includes(responseCode);
  // Before the login check: imapflow marks every NO to LOGIN or AUTHENTICATE as an authentication failure, but a
  // throttled or busy server (Exchange, Microsoft 365) refuses a good password with [THROTTLED] or [UNAVAILABLE].
  if (!isCredentialCode && (code === 'ETHROTTLE' || responseCode === 'THROTTLED' || /request is throttled|too many (simultaneous )?(connections|requests)/i.test(text))) {
    const hinted = fields.throttleReset ?? suggestedBackoffMs(text);
    return { kind: 'throttled', isTransient: true, isRefused, text, ...(hinted !== undefined ? { retryAfterMs: hinted } : {}) };
  }
  if (['UNAVAILABLE', 'INUSE', 'LIMIT'].includes(responseCode)) return { kind: 'unavailable', isTransient: true, isRefused, text };
  // Exchange accepts the LOGIN and then answers every command so when the account cannot be reached; imapflow read it
  // from its NAMESPACE as a failed login. No connection sends NAMESPACE on its own now, so it is read wherever it comes.
  if (fields.authenticationFailed || isCredentialCode || /User is authenticated but not connected/i.test(text)) return { kind: 'auth', isTransient: false, isRefused, text };
  if (fields.tlsFailed || tlsCodes.test(code)) return { kind: 'tls', isTransient: false, isRefused, text };
  if (responseCode === 'OVERQUOTA') {
    // Gmail also says OVERQUOTA for its daily bandwidth budget, in a BYE: that passes, a full mailbox does not.
    return /bandwidth|command/i.test(text) ? { kind: 'throttled', isTransient: true, isRefused, text } : { kind: 'overquota', isTransient: false, isRefused, text };
  }
  if (responseCode === 'TRYCREATE') return { kind: 'trycreate', isTransient: false, isRefused, text };
  if (responseCode === 'NONEXISTENT') return { kind: 'nonexistent', isTransient: false, isRefused, text };
  if (responseCode === 'APPENDLIMIT' || responseCode === 'TOOBIG' || /maximum size|too (big|large)|exceeds? .*size/i.test(text)) {
    return { kind: 'too-big', isTransient: false, isRefused, text };
  }
  if (['SERVERBUG', 'CORRUPTION', 'CANNOT', 'PARSE'].includes(responseCode) || code === 'InvalidMessageContent') {
    return { kind: 'message', isTransient: false, isRefused, text };
  }
  if (connectionCodes.has(code) || /^\* BYE|connection (closed|reset|lost)|socket (hang up|closed)|server unavailable/i.test(text)) {
    return { kind: 'connection', isTransient: true, isRefused, text };
  }
  return { kind: 'other', isTransient: false, isRefused, text };
}

interface ErrorFields {
  message?: string;
  code?: string;
  serverResponseCode?: string;
  responseStatus?: string;
  responseText?: string;
  authenticationFailed?: boolean;
  tlsFailed?: boolean;
  throttleReset?: number;
}

function readFields(err: unknown): ErrorFields {
  if (typeof err !== 'object' || err === null) return {};
  const record = err as Record<string, unknown>;
  const str = (key: string) => (typeof record[key] === 'string' ? (record[key] as string) : undefined);
  return {
    message: str('message'),
    code: str('code'),
    serverResponseCode: str('serverResponseCode') ?? responseCodeOf(record.response),
    responseStatus: str('responseStatus'),
    responseText: str('responseText'),
    authenticationFailed: record.authenticationFailed === true,
    tlsFailed: record.tlsFailed === true,
    throttleReset: typeof record.throttleReset === 'number' ? record.throttleReset : undefined,
  };
}

/**
 * Not every imapflow command copies the response code onto the error (a failed FETCH does not): read it from the
 * parsed response ({ attributes: [{ section: [{ value: 'UNAVAILABLE' }] }, ...] }) or its text form.
 */
function responseCodeOf(response: unknown): string | undefined {
  if (typeof response === 'string') return bracketCode(response);
  if (typeof response !== 'object' || response === null) return undefined;
  const attributes = (response as { attributes?: unknown }).attributes;
  if (!Array.isArray(attributes)) return undefined;
  const section = (attributes[0] as { section?: unknown } | undefined)?.section;
  if (!Array.isArray(section)) return undefined;
  const value = (section[0] as { value?: unknown } | undefined)?.value;
  return typeof value === 'string' ? value : undefined;
}

function bracketCode(text: string): string | undefined {
  return /\[([A-Za-z-]+)[\] ]/.exec(text)?.[1];
}

function suggestedBackoffMs(text: string): number | undefined {
  const match = /backoff time[:=\s]+(\d+)/i.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** A MailshiftError from an IMAP failure, carrying what classifyImapError decided (the engine reads retryAfterMs and isRefused). */
export class ImapError extends MailshiftError {
  readonly failure: ImapFailure;
  readonly retryAfterMs: number | undefined;
  /** The server refused the command (tagged NO/BAD): it had no effect, and sending it again later is safe. */
  readonly isRefused: boolean;
  constructor(code: ConstructorParameters<typeof MailshiftError>[0], message: string, failure: ImapFailure, options: ConstructorParameters<typeof MailshiftError>[2]) {
    super(code, message, options);
    this.failure = failure;
    this.retryAfterMs = failure.retryAfterMs;
    this.isRefused = failure.isRefused;
  }
}
