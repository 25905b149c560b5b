import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailshiftError } from '../../../src/core/errors.js';
import { createLogger } from '../../../src/core/logger.js';
import { decideCopyExitCode, runStoreCopy } from '../../../src/engine/messages/copy.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { startFaultyProxy, type FaultyProxy, type ProxyAction, type ProxyCommand } from './faulty-proxy.js';
import { seedAccount, seedMessages } from './fixture.js';

/**
 * Temporary trouble at login and at connect, through the fault proxy in front of a real Dovecot: a LOGIN (or
 * AUTHENTICATE) answered NO [THROTTLED] / [UNAVAILABLE] — how Exchange and Microsoft 365 refuse a throttled account —
 * is not a wrong password, and a refused first connection does not end the run: both are retried with the back-off.
 */

let server: ImapServer;
const proxies: FaultyProxy[] = [];

const isLogin = (command: ProxyCommand) => command.name === 'LOGIN' || command.name === 'AUTHENTICATE';

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['alice', 'bob'] });
  await seedAccount(server, 'alice');
});

afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
  await server?.stop();
});

async function proxyWith(decide: (command: ProxyCommand) => ProxyAction, refuseConnection?: (n: number) => boolean): Promise<FaultyProxy> {
  const proxy = await startFaultyProxy(server.port, decide, refuseConnection ? { refuseConnection } : {});
  proxies.push(proxy);
  return proxy;
}

function setup() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });
  const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
  return { lines, logger, password };
}

describe('temporary refusals at login', () => {
  it('retries a LOGIN answered NO [THROTTLED] instead of calling the password wrong (exit 78)', async () => {
    let logins = 0;
    const proxy = await proxyWith((command) => {
      if (isLogin(command) && ++logins <= 2) return { kind: 'no', code: 'THROTTLED', text: 'Too many logins, try later (test proxy)' };
      return { kind: 'pass' };
    });
    const { lines, logger, password } = setup();
    const opened = await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password, retries: 4, retryBaseMs: 10 });
    try {
      expect(logins).toBe(3);
      expect(lines.join('')).toMatch(/login to alice@127.0.0.1:\d+ refused for now: .*connecting again in/);
      expect(await opened.store.openMailbox('INBOX', 'read').then(async (box) => (await box[Symbol.asyncDispose](), box.path))).toBe('INBOX');
    } finally {
      await opened.store[Symbol.asyncDispose]();
    }
  });

  it('gives up on a server that keeps answering NO [UNAVAILABLE] with a temporary failure (75), not a login failure (78)', async () => {
    const proxy = await proxyWith((command) => (isLogin(command) ? { kind: 'no', code: 'UNAVAILABLE', text: 'Server unavailable. 15 (test proxy)' } : { kind: 'pass' }));
    const { logger, password } = setup();
    const failure = await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password, retries: 2, retryBaseMs: 5 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(MailshiftError);
    const error = failure as MailshiftError;
    expect(error.code).not.toBe('MAILSHIFT_IMAP_AUTH');
    expect(error.exitCode).toBe(75);
    expect(error.hint).not.toMatch(/check the user name and the password/);
    expect(proxy.connections).toBe(3);
  });

  it('finishes a copy whose reconnect halfway is answered NO [THROTTLED] at login', async () => {
    let logins = 0;
    let selects = 0;
    const proxy = await proxyWith((command) => {
      if (isLogin(command)) {
        logins += 1;
        // The target's first login (2nd overall) passes; the reconnects after the BYE below are throttled twice.
        if (logins === 3 || logins === 4) return { kind: 'no', code: 'THROTTLED', text: 'slow down (test proxy)' };
      }
      if ((command.name === 'SELECT' || command.name === 'EXAMINE') && ++selects === 2) return { kind: 'bye' };
      return { kind: 'pass' };
    });
    const { lines, logger, password } = setup();
    const from = await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password });
    const to = await openStore(parseStoreSpec(`imap://bob@127.0.0.1:${proxy.port}`), { mode: 'write', logger, password });
    let report;
    try {
      report = await runStoreCopy(from, to, { logger, retryBaseMs: 10, retryMaxMs: 50, retries: 6 });
    } finally {
      await from.store[Symbol.asyncDispose]();
      await to.store[Symbol.asyncDispose]();
    }
    expect(logins).toBeGreaterThanOrEqual(5);
    expect(report.stopped, lines.join('')).toBeUndefined();
    expect(decideCopyExitCode(report), lines.join('')).toBe(0);
    expect(report.totals.copied + report.totals.alreadyPresent).toBe(seedMessages.length);
  });
});

describe('a refused first connection', () => {
  it('is tried again with the back-off instead of ending the run at once', async () => {
    const proxy = await proxyWith(() => ({ kind: 'pass' }), (n) => n <= 2);
    const { lines, logger, password } = setup();
    const opened = await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password, retries: 3, retryBaseMs: 10 });
    try {
      expect(proxy.connections).toBe(3);
      expect(proxy.log.filter((line) => line.endsWith('refused'))).toHaveLength(2);
      expect(lines.join('')).toMatch(/connecting again in .* \(2\/3\)/);
    } finally {
      await opened.store[Symbol.asyncDispose]();
    }
  });
});

describe('imaps:// aimed at a plaintext port', () => {
  it('says the port does not speak TLS (try imap:// or port 993) instead of "wrong version number" and --ca-file', async () => {
    const { logger, password } = setup();
    const failure = await openStore(parseStoreSpec(`imaps://alice@127.0.0.1:${server.port}`), { mode: 'read', logger, password, retries: 0 }).then(
      () => undefined,
      (err: unknown) => err as MailshiftError,
    );
    expect(failure?.code).toBe('MAILSHIFT_IMAP_NOT_TLS');
    expect(failure?.message).toMatch(/port \d+ does not speak TLS/);
    expect(failure?.hint).toMatch(/imap:\/\/alice@127\.0\.0\.1:\d+.*993/);
    expect(`${failure?.message} ${failure?.hint}`).not.toMatch(/wrong version number|--ca-file/);
    expect(failure?.exitCode).toBe(78);
  });
});
