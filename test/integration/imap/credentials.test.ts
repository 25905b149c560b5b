import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { seedAccount } from './fixture.js';

/**
 * The password (or OAuth2 token) is asked for again for every new connection after the first, so a token refreshed
 * in place is picked up (test/e2e/imap-oauth2.test.ts shows that through the CLI). Here: what happens when asking
 * again fails.
 */

let server: ImapServer;

beforeAll(async () => {
  server = await startImapServer({ tls: 'none', users: ['alice'] });
  await seedAccount(server, 'alice');
});

afterAll(async () => {
  await server?.stop();
});

describe('an IMAP store asking for its password again', () => {
  it('asks once per new connection, and keeps the one it has (with a warning) when asking again fails', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });
    const password = server.users.find((user) => user.user === 'alice')!.password;
    let asked = 0;
    const { store } = await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${server.port}`), {
      mode: 'read',
      logger,
      maxConnections: 2,
      password: async () => {
        asked += 1;
        if (asked > 1) throw new Error('the password file is gone');
        return password;
      },
    });
    try {
      expect(asked).toBe(1);
      // Two folders open at once hold two connections: the second one asks again.
      const inbox = await store.openMailbox('INBOX', 'read');
      const work = await store.openMailbox('Work', 'read');
      expect(asked).toBe(2);
      expect((await work.status()).uidValidity).toBeGreaterThan(0);
      expect(lines.join('')).toMatch(/reading the password again failed \(the password file is gone\); logging in with the one read before/);
      await work[Symbol.asyncDispose]();
      await inbox[Symbol.asyncDispose]();
    } finally {
      await store[Symbol.asyncDispose]();
    }
  });
});
