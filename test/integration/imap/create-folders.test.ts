import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { startFaultyProxy, type FaultyProxy, type ProxyCommand } from './faulty-proxy.js';
import { byMailbox, copyBetweenAccounts, seedAccount } from './fixture.js';

/**
 * Folders the target lacks are created on the way, in the round trip that opens them: CREATE, SUBSCRIBE and EXAMINE
 * go out together, instead of an EXAMINE that fails and then each command in turn (three round trips more per new
 * folder, which over a 40 ms link is over a second for thirty folders). The target is reached through a proxy that
 * delays every byte and logs each command.
 */

let server: ImapServer;
let proxy: FaultyProxy;
const commands: ProxyCommand[] = [];

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['kate', 'liam'] });
  await seedAccount(server, 'kate');
  proxy = await startFaultyProxy(
    server.port,
    (command) => {
      commands.push(command);
      return { kind: 'pass' };
    },
    { delayMs: 5 },
  );
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

describe('folders missing on an IMAP target', () => {
  it('are created, subscribed and opened in one round trip, and get every message', async () => {
    const logger = createLogger({ level: 'info', write: () => {} });
    const report = await copyBetweenAccounts(server, 'kate', 'liam', { logger, toPort: proxy.port, maxConnections: 1 });
    expect(report.totals).toMatchObject({ copied: 14, failedFolders: 0 });
    expect(byMailbox(await server.mail('liam').readMessages())).toEqual(byMailbox(await server.mail('kate').readMessages()));

    const created = commands.filter((command) => command.name === 'CREATE');
    // Work/Projects, Entwürfe and R&D at least were not there (Dovecot's test account has only the special folders).
    expect(created.length).toBeGreaterThanOrEqual(3);
    for (const create of created) {
      const folder = create.line.slice(create.line.indexOf('CREATE ') + 'CREATE '.length);
      const onItsConnection = commands.filter((command) => command.connection === create.connection);
      const at = onItsConnection.indexOf(create);
      // Never an EXAMINE of it that failed first: its first EXAMINE comes after the CREATE and SUBSCRIBE.
      const examines = onItsConnection.filter((command) => command.name === 'EXAMINE' && command.line.endsWith(` ${folder}`));
      expect(onItsConnection.indexOf(examines[0]!)).toBeGreaterThan(at);
      expect(onItsConnection[at + 1]).toMatchObject({ name: 'SUBSCRIBE' });
    }
    // The three went out without waiting for one another (the NOOP that times the link may go with them too).
    expect(proxy.maxInFlightAt['EXAMINE']).toBeGreaterThanOrEqual(3);
  });
});
