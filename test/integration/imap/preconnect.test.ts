import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { openStore } from '../../../src/stores/open.js';
import { closePreconnected, preconnectImap, takePreconnected } from '../../../src/stores/preconnect.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { freePort } from '../../support/ports.js';
import { startFaultyProxy, type FaultyProxy } from './faulty-proxy.js';

/**
 * The CLI connects to the IMAP servers of its command line while it loads (stores/preconnect.ts) and the driver logs in
 * over that connection. A connection that closed or failed before it was wanted is never used, and TLS, STARTTLS and
 * the certificate check happen on an adopted connection as on one the driver opened.
 */

let plain: ImapServer;
let implicitTls: ImapServer;
let startTls: ImapServer;
const logger = createLogger({ level: 'info', write: () => {} });

beforeAll(async () => {
  [plain, implicitTls, startTls] = await Promise.all([
    startImapServer({ tls: 'none', users: ['nora'] }),
    startImapServer({ tls: 'implicit', users: ['nora'] }),
    startImapServer({ tls: 'starttls', users: ['nora'] }),
  ]);
});

afterAll(async () => {
  await Promise.all([plain?.stop(), implicitTls?.stop(), startTls?.stop()]);
});

afterEach(() => closePreconnected());

const passwordOf = (server: ImapServer) => async () => server.users[0]!.password;

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 5000) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Opens the account (connects and logs in), lists its folders, closes it. */
async function openAndList(url: string, server: ImapServer, options: { caFile?: string; retries?: number } = {}): Promise<string[]> {
  const opened = await openStore(parseStoreSpec(url), { mode: 'read', logger, password: passwordOf(server), ...options });
  try {
    const names: string[] = [];
    for await (const mailbox of opened.store.listMailboxes()) names.push(mailbox.path);
    return names;
  } finally {
    await opened.store[Symbol.asyncDispose]();
  }
}

describe('a connection opened while the command loads', () => {
  let proxy: FaultyProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('is the one the login goes over: no second connection', async () => {
    proxy = await startFaultyProxy(plain.port, () => ({ kind: 'pass' }));
    const url = `imap://nora@127.0.0.1:${proxy.port}`;
    preconnectImap(['copy', url, '/tmp/target']);
    await waitFor(() => proxy!.connections === 1, 'the early connection');
    await sleep(50);
    expect(await openAndList(url, plain)).toContain('INBOX');
    expect(proxy.connections).toBe(1);
  });

  it('is not used once the server closed it: the driver opens its own', async () => {
    proxy = await startFaultyProxy(plain.port, () => ({ kind: 'pass' }), { refuseConnection: (connection) => connection === 1 });
    const url = `imap://nora@127.0.0.1:${proxy.port}`;
    preconnectImap(['copy', url]);
    await waitFor(() => proxy!.log.some((line) => line.startsWith('#1 refused')), 'the refusal');
    await sleep(50);
    expect(await openAndList(url, plain)).toContain('INBOX');
    expect(proxy.connections).toBe(2);
  });

  it('that failed changes nothing: the error is the one the driver meets on its own', async () => {
    const port = await freePort();
    const url = `imap://nora@127.0.0.1:${port}`;
    preconnectImap(['copy', url]);
    await sleep(100);
    await expect(openAndList(url, plain, { retries: 0 })).rejects.toMatchObject({ code: 'MAILSHIFT_IMAP_CONNECT' });
  });
});

describe('TLS on an adopted connection', () => {
  it('imaps://: the certificate is checked as on any connection (refused untrusted, accepted with --ca-file)', async () => {
    const url = `imaps://nora@127.0.0.1:${implicitTls.port}`;
    preconnectImap(['copy', url]);
    await sleep(50);
    await expect(openAndList(url, implicitTls)).rejects.toMatchObject({ code: 'MAILSHIFT_IMAP_TLS' });
    expect(takePreconnected({ host: '127.0.0.1', port: implicitTls.port }), 'the early connection was the one refused').toBeUndefined();
    preconnectImap(['copy', url]);
    await sleep(50);
    expect(await openAndList(url, implicitTls, { caFile: implicitTls.caCertPath! })).toContain('INBOX');
    expect(takePreconnected({ host: '127.0.0.1', port: implicitTls.port })).toBeUndefined();
  });

  it('STARTTLS upgrades an adopted cleartext connection, with the same certificate check', async () => {
    const url = `imap://nora@127.0.0.1:${startTls.port}`;
    preconnectImap(['copy', url]);
    await sleep(50);
    await expect(openAndList(url, startTls)).rejects.toMatchObject({ code: 'MAILSHIFT_IMAP_TLS' });
    preconnectImap(['copy', url]);
    await sleep(50);
    expect(await openAndList(url, startTls, { caFile: startTls.caCertPath! })).toContain('INBOX');
    expect(takePreconnected({ host: '127.0.0.1', port: startTls.port })).toBeUndefined();
  });
});
