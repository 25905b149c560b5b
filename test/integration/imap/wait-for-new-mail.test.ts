import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import type { ImapStore } from '../../../src/stores/imap/store.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { startFaultyProxy } from './faulty-proxy.js';
import { seedAccount } from './fixture.js';

/**
 * ImapStore.waitForNewMail, what `mailshift watch` waits with between rounds: IMAP IDLE on a real Dovecot, and the
 * gap IDLE cannot see (mail that arrived after the folder was last read but before the wait began).
 */

let server: ImapServer;
let store: ImapStore;
const logger = createLogger({ level: 'warn', write: () => {} });
let delivered = 0;

async function deliver(): Promise<void> {
  delivered += 1;
  await server.doveadm(['save', '-u', 'alice', '-m', 'INBOX'], { input: `From: a@example.org\nSubject: new ${delivered}\nMessage-ID: <wait-${delivered}@example.org>\n\nbody\n` });
}

async function readInbox(): Promise<void> {
  await using box = await store.openMailbox('INBOX', 'read');
  await box.status();
}

beforeAll(async () => {
  server = await startImapServer({ tls: 'none', users: ['alice'] });
  await seedAccount(server, 'alice');
  const password = server.users.find((user) => user.user === 'alice')!.password;
  store = (await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${server.port}`), { mode: 'read', logger, password: async () => password })).store as ImapStore;
});

afterAll(async () => {
  await store?.[Symbol.asyncDispose]();
  await server?.stop();
});

describe('ImapStore.waitForNewMail', () => {
  it('returns as soon as the server announces a message delivered during the wait', async () => {
    await readInbox();
    const started = Date.now();
    const waiting = store.waitForNewMail('INBOX', 20_000, new AbortController().signal);
    setTimeout(() => void deliver(), 300);
    expect(await waiting).toBe('new-mail');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('returns at once for mail that arrived after the folder was last read, before the wait began', async () => {
    await readInbox();
    await deliver();
    const started = Date.now();
    expect(await store.waitForNewMail('INBOX', 20_000, new AbortController().signal)).toBe('new-mail');
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('times out when nothing arrives, and ends at once when aborted', async () => {
    await readInbox();
    expect(await store.waitForNewMail('INBOX', 500, new AbortController().signal)).toBe('timeout');
    const controller = new AbortController();
    const waiting = store.waitForNewMail('INBOX', 60_000, controller.signal);
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    expect(await waiting).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(10_000);
    // The connection it used goes back to the pool in a usable state.
    await readInbox();
  });

  it("keeps its connections from round to round as watch uses them, listing on one and waiting on the other", async () => {
    const proxy = await startFaultyProxy(server.port, () => ({ kind: 'pass' }));
    const password = server.users.find((user) => user.user === 'alice')!.password;
    const watched = (await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password: async () => password, maxConnections: 2 })).store as ImapStore;
    try {
      for (let round = 0; round < 3; round += 1) {
        for await (const _ of watched.listMailboxes()) void _;
        expect(await watched.waitForNewMail('INBOX', 200, new AbortController().signal)).toBe('timeout');
      }
      // One connection lists (handed over from imapflow), one IDLEs (imapflow drives it): no login after the second.
      expect(proxy.connections).toBe(2);
    } finally {
      await watched[Symbol.asyncDispose]();
      await proxy.close();
    }
  });
});
