import { afterAll, beforeAll } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { describeStoreContract } from '../../stores/contract.js';

/**
 * The store contract against ImapStore and a real Dovecot on 127.0.0.1 (TLS, the server's certificate trusted through
 * caFile, as `--ca-file` does). Every place is an account of its own, so each test starts from an empty INBOX.
 */

let server: ImapServer;
let count = 0;
// Created before the server starts: Dovecot reads its passwd file again only when its mtime moves on, and users added
// within the same second as the last one may not be seen.
const accounts = Array.from({ length: 12 }, (_, i) => `contract${i + 1}`);

beforeAll(async () => {
  server = await startImapServer({ tls: 'implicit', specialUse: false, users: accounts });
});

afterAll(async () => {
  await server?.stop();
});

describeStoreContract('IMAP (Dovecot)', {
  empty: async () => {
    const user = server.users[count++];
    if (!user) throw new Error('imap contract: more places asked for than accounts made');
    const spec = parseStoreSpec(`imaps://${user.user}@127.0.0.1:${server.port}`);
    return {
      open: async () => (await openStore(spec, { mode: 'write', logger: silentLogger, password: async () => user.password, caFile: server.caCertPath! })).store,
    };
  },
});
