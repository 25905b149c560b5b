import type { RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { MailshiftError, UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';

/**
 * Where the campaign's queue lives: `--queue redis://HOST:PORT[/DB]` (or `rediss://` for TLS). The password, when
 * Redis has one, comes from MAILSHIFT_REDIS_PASSWORD, never from the URL: a URL is on the command line, which every
 * user of the host can read (ps), and in shell histories.
 */
export interface QueueAddress {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly isTls: boolean;
}

export function parseQueueUrl(text: string): QueueAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--queue ${text}: not a URL`, 'give redis://HOST:PORT or redis://HOST:PORT/DB');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new UsageError(`--queue: expected redis:// or rediss://, not ${url.protocol}//`, 'give redis://HOST:PORT or redis://HOST:PORT/DB');
  if (url.password !== '' || url.username !== '') {
    // Not echoed: the part before @ is a secret.
    throw new UsageError('--queue: the URL carries a user or password; the command line is readable by every user of this host', 'give the password in the environment variable MAILSHIFT_REDIS_PASSWORD instead');
  }
  if (url.hostname === '') throw new UsageError(`--queue ${text}: no host`, 'give redis://HOST:PORT');
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,2}$/.test(path)) throw new UsageError(`--queue ${text}: the path must be a database number (0-15)`);
  if (url.search !== '' || url.hash !== '') throw new UsageError(`--queue ${text}: no query or fragment is read here`);
  const port = url.port === '' ? 6379 : Number(url.port);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port, db: path === '' ? 0 : Number(path), isTls: url.protocol === 'rediss:' };
}

/** "redis://HOST:PORT/DB" for messages: the address without anything secret (there is nothing secret in it). */
export function formatQueueAddress(address: QueueAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.isTls ? 'rediss' : 'redis'}://${host}:${address.port}/${address.db}`;
}

/**
 * ioredis options for every connection BullMQ opens. `maxRetriesPerRequest: null` is what BullMQ's workers require
 * and what lets a campaign ride out a Redis restart: commands wait for the reconnection instead of failing; the
 * reconnection itself is retried every 0.2 s at first, then every 2 s, for as long as it takes.
 */
export function buildRedisOptions(address: QueueAddress, env: NodeJS.ProcessEnv): RedisOptions {
  const password = env.MAILSHIFT_REDIS_PASSWORD;
  return {
    host: address.host,
    port: address.port,
    db: address.db,
    ...(password ? { password } : {}),
    ...(address.isTls ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  };
}

/** Redis answers PING within `timeoutMs`, or a typed error: a campaign must not wait forever for a server that is not there. */
export async function checkRedisReachable(address: QueueAddress, options: RedisOptions, timeoutMs = 10_000): Promise<void> {
  const client = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: timeoutMs });
  // ioredis rejects with "Connection is closed."; the socket's own error (ECONNREFUSED, ENOTFOUND...) says more.
  let socketError: Error | undefined;
  client.on('error', (err: Error) => (socketError ??= err));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new MailshiftError('MAILSHIFT_QUEUE_UNREACHABLE', `the queue's Redis at ${formatQueueAddress(address)} does not answer: ${(socketError ?? (err as Error)).message}`, {
      hint: 'start Redis (or check the host, port and MAILSHIFT_REDIS_PASSWORD) and run the same command again',
      exitCode: ExitCode.tempFail,
      cause: err,
    });
  } finally {
    client.disconnect();
  }
}
