import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { runStoreCopy } from '../../../src/engine/messages/copy.js';
import { ImapStore } from '../../../src/stores/imap/store.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { createDoveadm, startImapServer, type Doveadm, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { startDelayProxy, type DelayProxy } from './delay-proxy.js';
import { byMailbox, seedAccount, seedMessages } from './fixture.js';

/**
 * The listing and the bodies of a folder are read over the connection imapflow hands over (raw-session.ts). With
 * COMPRESS=DEFLATE negotiated (Dovecot's imap_zlib, as many hosting servers run it) that connection is a pair of zlib
 * streams, not the socket: this copies a whole account through them and reads the result back with Dovecot.
 * Compression is used over a slow link only (stores/imap/compression.ts): the copy goes through a proxy that delays
 * each direction by 10 ms; straight over loopback it is not used.
 */

let server: ImapServer;
let work: TempDir;
let doveadm: Doveadm;
let slowLink: DelayProxy;

beforeAll(async () => {
  server = await startImapServer({
    tls: 'implicit',
    users: ['alice'],
    extraConfig: ['protocol imap {', '  mail_plugins = $mail_plugins imap_zlib', '}'].join('\n'),
  });
  await seedAccount(server, 'alice');
  work = await makeTempDir('imap-compress', { mode: 0o755 });
  doveadm = await createDoveadm({ separator: '/' });
  slowLink = await startDelayProxy(server.port, 10);
});

afterAll(async () => {
  await slowLink?.close();
  await Promise.all([server?.stop(), doveadm?.close()]);
  await work?.cleanup();
});

describe('IMAP to maildir over a compressed connection', () => {
  it('copies every message exactly, with flags, keywords and dates', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
    const password = async () => server.users[0]!.password;
    const source = await openStore(parseStoreSpec(`imaps://alice@127.0.0.1:${slowLink.port}`), { mode: 'read', logger, password, caFile: server.caCertPath! });
    const maildir = path.join(work.path, 'Maildir');
    const target = await openStore(parseStoreSpec(maildir), { mode: 'write', logger });
    try {
      expect((source.store as ImapStore).serverFacts.capabilities).toContain('COMPRESS=DEFLATE');
      const report = await runStoreCopy(source, target, { logger });
      expect(report.totals).toMatchObject({ copied: seedMessages.length, skipped: 0, failedFolders: 0 });
      // The session really was compressed (the link is slow, and the server offers it).
      expect(lines.some((line) => /COMPRESS DEFLATE/.test(line))).toBe(true);
      // Both samples crossed the slow link: the quicker is still at least its 20 ms round trip.
      const decided = lines.map((line) => /COMPRESS=DEFLATE on each connection: the quicker of 2 round trips took ([\d.]+) ms/.exec(line)).find(Boolean);
      expect(Number(decided?.[1])).toBeGreaterThanOrEqual(19);
    } finally {
      await source.store[Symbol.asyncDispose]();
      await target.store[Symbol.asyncDispose]();
    }
    const expected = byMailbox(await server.mail('alice').readMessages({ hashes: true }), (name) => name);
    const got = byMailbox(await (await doveadm.openMaildir(maildir)).readMessages({ hashes: true }));
    expect(got).toEqual(expected);
  });

  it('does not compress over loopback, where deflate costs more than it saves, and says why', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
    const password = async () => server.users[0]!.password;
    const source = await openStore(parseStoreSpec(`imaps://alice@127.0.0.1:${server.port}`), { mode: 'read', logger, password, caFile: server.caCertPath! });
    const maildir = path.join(work.path, 'Maildir-loopback');
    const target = await openStore(parseStoreSpec(maildir), { mode: 'write', logger });
    try {
      const report = await runStoreCopy(source, target, { logger });
      expect(report.totals).toMatchObject({ copied: seedMessages.length, skipped: 0, failedFolders: 0 });
      // Judged by the quicker of two samples (NAMESPACE and the NOOP beside the first EXAMINE).
      expect(lines.some((line) => /COMPRESS=DEFLATE offered but not used: the quicker of 2 round trips took [\d.]+ ms, under 10 ms/.test(line))).toBe(true);
      expect(lines.some((line) => /COMPRESS DEFLATE/.test(line))).toBe(false);
    } finally {
      await source.store[Symbol.asyncDispose]();
      await target.store[Symbol.asyncDispose]();
    }
  });
});
