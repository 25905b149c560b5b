import { ImapFlow, type ImapFlowOptions, type Logger as ImapFlowLogger } from 'imapflow';
import { MailshiftError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { Logger } from '../../core/logger.js';
import { takePreconnected } from '../preconnect.js';
import type { ImapSpec } from '../spec.js';
import { buildAdoptedTransport } from './adopted-transport.js';
import { classifyImapError } from './errors.js';
import { trimSessionSetup } from './session-setup.js';

/**
 * How we talk to an IMAP server: TLS verified unless the user says `--insecure` by name; `imap://` must upgrade with
 * STARTTLS except on the loopback interface (nothing leaves the machine there); imapflow's logger routed into ours
 * at debug level, so it never writes to stdout and every line passes through our redaction.
 */
export interface ImapConnectOptions {
  readonly spec: ImapSpec;
  /** The password, or the OAuth2 access token when the spec says `;AUTH=XOAUTH2` / `;AUTH=OAUTHBEARER`. */
  readonly password: string;
  /** Extra trusted certificates (PEM), from `--ca-file`: added to the system roots, not replacing them. */
  readonly caPem?: string;
  /** `--insecure`: accept any certificate and allow a cleartext login. Never implied. */
  readonly isInsecure?: boolean;
  readonly logger: Logger;
  readonly connectTimeoutMs?: number;
  /** Inactivity limit of an open connection; imapflow's default is 5 minutes. */
  readonly socketTimeoutMs?: number;
  /** Sent in the ID command (Gmail asks clients to identify themselves). */
  readonly clientVersion?: string;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function buildImapFlowOptions(options: ImapConnectOptions): ImapFlowOptions {
  const { spec } = options;
  const isInsecure = options.isInsecure === true;
  const tls = {
    rejectUnauthorized: !isInsecure,
    minVersion: 'TLSv1.2' as const,
    // node:tls only when needed: loading it costs an imap:// run on the loopback interface ~5 ms of start-up.
    ...(options.caPem ? { ca: [...process.getBuiltinModule('node:tls').rootCertificates, options.caPem] } : {}),
  };
  return {
    host: spec.host,
    port: spec.port,
    secure: spec.tls,
    // imap:// off the machine must upgrade: a STARTTLS offer stripped by an attacker must fail the login, not
    // silently send the password in the clear.
    ...(!spec.tls && !isInsecure && !isLoopbackHost(spec.host) ? { doSTARTTLS: true } : {}),
    auth: buildImapAuth(spec, options.password),
    tls,
    logger: buildImapLogger(options.logger, `${spec.user}@${spec.host}`),
    logRaw: false,
    emitLogs: false,
    disableAutoIdle: true,
    // Compression is ours to decide, per link (compression.ts), on the raw session a connection is handed to.
    disableCompression: true,
    // The raw sessions (raw-session.ts) read IMAP4rev1 answers: under IMAP4rev2 a UID SEARCH answers ESEARCH, and the
    // check for bodies the server did not send would find none of them still there.
    disableIMAP4rev2: true,
    clientInfo: { name: 'mailshift', version: options.clientVersion ?? '0' },
    connectionTimeout: options.connectTimeoutMs ?? 30_000,
    greetingTimeout: options.connectTimeoutMs ?? 30_000,
    ...(options.socketTimeoutMs ? { socketTimeout: options.socketTimeoutMs } : {}),
  };
}

/** imapflow's credentials: an access token (it picks OAUTHBEARER, else XOAUTH2) or a password, with a mechanism when the URL named one. */
function buildImapAuth(spec: ImapSpec, secret: string): NonNullable<ImapFlowOptions['auth']> {
  if (spec.auth === 'oauth2') return { user: spec.user, accessToken: secret };
  if (spec.auth === 'plain' || spec.auth === 'login') return { user: spec.user, pass: secret, loginMethod: `AUTH=${spec.auth.toUpperCase()}` };
  return { user: spec.user, pass: secret };
}

/** The SASL payloads that carry the secret, base64 as sent (PLAIN; XOAUTH2 and OAUTHBEARER as imapflow frames them). */
export function buildSaslPayloads(spec: ImapSpec, secret: string): string[] {
  const base64 = (text: string) => Buffer.from(text).toString('base64');
  if (spec.auth !== 'oauth2') return [base64(`\u0000${spec.user}\u0000${secret}`)];
  const saslName = spec.user.replace(/=/g, '=3D').replace(/,/g, '=2C');
  return [
    base64([`user=${spec.user}`, `auth=Bearer ${secret}`, '', ''].join('\u0001')),
    base64([`n,a=${saslName},`, `host=${spec.host}`, `port=${spec.port}`, `auth=Bearer ${secret}`, '', ''].join('\u0001')),
  ];
}

/** imapflow logs objects ({ msg, cid, err, ... }); we keep one line of text at debug level and drop protocol dumps. */
export function buildImapLogger(logger: Logger, label: string): ImapFlowLogger & { isLevelEnabled(level: string): boolean } {
  const emit = (entry: unknown) => {
    if (logger.level !== 'debug') return;
    logger.debug(`imap ${label}: ${formatLogEntry(entry)}`);
  };
  return {
    trace: () => {},
    debug: emit,
    info: emit,
    warn: emit,
    error: emit,
    fatal: emit,
    // imapflow serialises every response for its log unless told nobody listens: that is a second copy of every
    // message body. Protocol traces (FETCH responses) are never wanted; the rest only with --debug.
    isLevelEnabled: (level: string) => level !== 'trace' && logger.level === 'debug',
  };
}

export function formatLogEntry(entry: unknown): string {
  if (typeof entry !== 'object' || entry === null) return String(entry);
  const record = entry as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof record.msg === 'string') parts.push(record.msg);
  if (record.err instanceof Error) parts.push(record.err.message);
  for (const key of ['cid', 'command', 'path', 'code']) {
    const value = record[key];
    if (typeof value === 'string' || typeof value === 'number') parts.push(`${key}=${value}`);
  }
  return parts.join(' ');
}

/**
 * Opens one authenticated connection. Failures become MailshiftErrors that say which account and what to do: a wrong
 * password or an untrusted certificate stops the account; an unreachable server is a temporary failure.
 */
export async function connectImap(options: ImapConnectOptions): Promise<ImapFlow> {
  // The SASL forms of the credentials are base64: redact them too, in case a debug line ever carries one.
  for (const payload of buildSaslPayloads(options.spec, options.password)) options.logger.redact(payload);
  // A connection the command opened while it loaded, when there is one (stores/preconnect.ts): its greeting is here.
  const early = takePreconnected(options.spec);
  const client = new ImapFlow({ ...buildImapFlowOptions(options), ...(early ? { transport: buildAdoptedTransport(early) } : {}) });
  // Fewer round trips before the first folder (session-setup.ts says which and why).
  trimSessionSetup(client);
  // imapflow emits 'error' on socket trouble; unhandled, an EventEmitter error would end the process.
  client.on('error', (err: unknown) => options.logger.debug(`imap ${options.spec.host}: ${err instanceof Error ? err.message : String(err)}`));
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw toConnectError(err, options);
  }
  // imapflow writes an APPEND as several small writes (command, literal, CRLF); with Nagle's algorithm on, each one
  // after the first waits for the server's delayed ACK, about 20-40 ms per message. imapflow does not expose the
  // socket in its types, so we reach it once, here.
  const socket = (client as unknown as { socket?: { setNoDelay?: (noDelay: boolean) => unknown } }).socket;
  socket?.setNoDelay?.(true);
  return client;
}

export function toConnectError(err: unknown, options: Pick<ImapConnectOptions, 'spec' | 'isInsecure'>): MailshiftError {
  const { spec } = options;
  const who = `${spec.user}@${spec.host}:${spec.port}`;
  const failure = classifyImapError(err);
  switch (failure.kind) {
    case 'auth':
      return new MailshiftError('MAILSHIFT_IMAP_AUTH', `login to ${who} failed: ${failure.text}`, {
        scope: 'account',
        exitCode: ExitCode.config,
        hint:
          spec.auth === 'oauth2'
            ? 'the server refused the access token: check the user name and that the token is for IMAP (scope) and not expired (they last about an hour); a copy cut short by an expired token goes on where it stopped when run again with a fresh one'
            : 'check the user name and the password (--password-file or the environment); Microsoft 365 takes only OAuth2 (imaps://user;AUTH=XOAUTH2@host with an access token where the password goes), Gmail an app password or OAuth2',
        cause: err,
      });
    case 'tls':
      // OpenSSL's words when the other end answered TLS with plain text (an IMAP greeting): not a certificate matter.
      if (spec.tls && /wrong version number|packet length too long|unknown protocol|http request/i.test(`${failure.text} ${systemCodeOf(err)}`)) {
        return new MailshiftError('MAILSHIFT_IMAP_NOT_TLS', `${spec.host} port ${spec.port} does not speak TLS: imaps:// needs a port with TLS from the first byte`, {
          scope: 'account',
          exitCode: ExitCode.config,
          hint: `use imap://${spec.user}@${spec.host}:${spec.port} (mailshift upgrades it with STARTTLS), or imaps:// on the server's TLS port (usually 993)`,
          cause: err,
        });
      }
      return new MailshiftError('MAILSHIFT_IMAP_TLS', `TLS with ${who} failed: ${failure.text}`, {
        scope: 'account',
        exitCode: ExitCode.config,
        hint: 'trust the server certificate with --ca-file FILE; --insecure turns verification off (only if you know why)',
        cause: err,
      });
    case 'throttled':
    case 'unavailable':
      // A good password refused for now (Exchange and Microsoft 365 answer a throttled account's LOGIN this way).
      return Object.assign(
        new MailshiftError(`MAILSHIFT_IMAP_${failure.kind.toUpperCase() as Uppercase<typeof failure.kind>}`, `login to ${who} refused for now: ${failure.text}`, {
          scope: 'account',
          retry: 'later',
          hint: 'the server is busy or throttling this account (not a wrong password); mailshift retries with a back-off, and a run that gave up can be run again later to continue',
          cause: err,
        }),
        { retryAfterMs: failure.retryAfterMs },
      );
    default:
      if (/STARTTLS/i.test(failure.text) && !spec.tls) {
        return new MailshiftError('MAILSHIFT_IMAP_TLS', `${who} does not offer STARTTLS: ${failure.text}`, {
          scope: 'account',
          exitCode: ExitCode.config,
          hint: 'use imaps:// (port 993) if the server has it; --insecure allows a cleartext login',
          cause: err,
        });
      }
      return new MailshiftError('MAILSHIFT_IMAP_CONNECT', `cannot connect to ${who}: ${failure.text}`, {
        scope: 'account',
        retry: failure.isTransient ? 'later' : 'no',
        hint: failure.isTransient ? 'the server did not answer or closed the connection; run the same command again later' : undefined,
        cause: err,
      });
  }
}

function systemCodeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}
