import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { runStoreCopy } from '../../../src/engine/messages/copy.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { startFaultyProxy, type FaultyProxy, type ProxyAction, type ProxyCommand } from './faulty-proxy.js';
import { byMailbox, seedAccount, seedMessages } from './fixture.js';

/**
 * Throttling and broken connections, through a proxy that answers some commands with NO [UNAVAILABLE], sends BYE,
 * cuts a body download halfway, and — the nasty one — forwards an APPEND, lets the server store the message, and
 * drops the connection before the client sees the OK. The copy must still finish with every message exactly once.
 */

let server: ImapServer;
let proxy: FaultyProxy;
const commands: ProxyCommand[] = [];

function decide(command: ProxyCommand): ProxyAction {
  commands.push(command);
  const count = (name: string, filter: (c: ProxyCommand) => boolean = () => true) => commands.filter((c) => c.name === name && filter(c)).length;
  if (command.name === 'APPEND') {
    const n = count('APPEND');
    if (n === 2 || n === 7) return { kind: 'drop-on-tagged' }; // stored on the server, OK never delivered
    if (n % 3 === 0) return { kind: 'no', text: 'Temporary failure, try again (test proxy)' };
  }
  if (command.name === 'UID FETCH' && /BODY\.PEEK\[\]/i.test(command.line)) {
    const n = count('UID FETCH', (c) => /BODY\.PEEK\[\]/i.test(c.line));
    if (n === 1) return { kind: 'drop-after-bytes', bytes: 300 }; // cut in the middle of a message
    if (n === 3) return { kind: 'no', text: 'Server busy (test proxy)' };
  }
  if (command.name === 'LIST' && count('LIST') === 1) return { kind: 'no', text: 'Try again (test proxy)' };
  if (command.name === 'SELECT' || command.name === 'EXAMINE') {
    const n = count('SELECT') + count('EXAMINE');
    if (n === 4) return { kind: 'bye' };
    if (n === 6) return { kind: 'no', text: '[THROTTLED] slow down (test proxy)' };
  }
  return { kind: 'pass' };
}

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['alice', 'bob', 'carol'] });
  await seedAccount(server, 'alice');
  proxy = await startFaultyProxy(server.port, decide);
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

describe('a copy through a throttling, connection-dropping proxy', () => {
  it.each([
    { lanes: 1, user: 'bob' },
    { lanes: 3, user: 'carol' },
  ])('finishes with every message exactly once ($lanes append connection(s))', async ({ lanes, user }) => {
    commands.length = 0;
    proxy.log.length = 0;
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });
    const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
    const from = await openStore(parseStoreSpec(`imap://alice@127.0.0.1:${proxy.port}`), { mode: 'read', logger, password });
    const to = await openStore(parseStoreSpec(`imap://${user}@127.0.0.1:${proxy.port}`), { mode: 'write', logger, password, maxConnections: lanes });
    let report;
    try {
      report = await runStoreCopy(from, to, { logger, retryBaseMs: 10, retryMaxMs: 50, retries: 6, windowSize: 3, appendLanes: lanes });
    } finally {
      await from.store[Symbol.asyncDispose]();
      await to.store[Symbol.asyncDispose]();
    }
    expect(report.stopped, lines.join('')).toBeUndefined();
    expect(report.totals.failedFolders, lines.join('')).toBe(0);
    expect(report.totals.skipped).toBe(0);

    // The faults really happened: refused commands, a BYE, a body cut halfway, APPENDs stored but never confirmed.
    const log = proxy.log.join('\n');
    expect(log).toMatch(/drop: before the tagged answer to \S+: \S+ OK/);
    expect(log).toMatch(/drop: after 300 response bytes/);
    expect(log).toMatch(/ no \S+ APPEND/);
    expect(log).toMatch(/ bye /);
    expect(report.folders.reduce((sum, folder) => sum + folder.retries, 0)).toBeGreaterThanOrEqual(5);

    // Every message exactly once, bytes, flags, keywords and dates intact.
    const source = await server.mail('alice').readMessages({ hashes: true });
    const target = await server.mail(user).readMessages({ hashes: true });
    expect(target).toHaveLength(seedMessages.length);
    expect(byMailbox(target)).toEqual(byMailbox(source));
    // Each APPEND (a MULTIAPPEND of up to 3 here) whose OK was cut off was stored; the retry found its messages there
    // instead of sending them again. The server's own APPENDUID sets say how many that were.
    const cutOff = proxy.log.map((line) => /drop: before the tagged answer to \S+: \S+ OK \[APPENDUID \d+ ([\d:,]+)\]/.exec(line)?.[1]).filter((set): set is string => set !== undefined);
    expect(cutOff).toHaveLength(2);
    const unconfirmed = cutOff.flatMap((set) => set.split(',')).reduce((sum, range) => {
      const [from, to = from] = range.split(':').map(Number);
      return sum + (to! - from! + 1);
    }, 0);
    expect(report.totals.alreadyPresent).toBe(unconfirmed);
    expect(report.totals.copied + report.totals.alreadyPresent).toBe(seedMessages.length);
  });
});
