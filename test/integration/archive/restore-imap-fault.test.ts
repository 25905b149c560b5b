import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runArchiveIntoMailStore } from '../../../src/archive/imap-restore.js';
import { createLogger } from '../../../src/core/logger.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { writeGeneratedBackup, type GeneratedBackup } from '../../support/cpmove-generated.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { startFaultyProxy, type FaultyProxy, type ProxyAction, type ProxyCommand } from '../imap/faulty-proxy.js';

/**
 * A backup streamed into an IMAP account whose connection is cut in the middle of the pipelined appends: after the
 * server stored a MULTIAPPEND whose answer never came, or halfway through sending one. The restore lists the folder
 * again and sends only what is not there: every message exactly once, the identical pair as two.
 */

let server: ImapServer;
let proxy: FaultyProxy;
let work: TempDir;
let generated: GeneratedBackup;
let backup: string;
let decideFor: (command: ProxyCommand) => ProxyAction = () => ({ kind: 'pass' });

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['bob', 'carol'] });
  proxy = await startFaultyProxy(server.port, (command) => decideFor(command), { delayMs: 2 });
  work = await makeTempDir('restore-imap-fault', { mode: 0o755 });
  backup = path.join(work.path, 'cpmove-bob.tar');
  // Messages of about 3 KB: a cut 2,000 bytes into a MULTIAPPEND's literals lands inside its first message.
  generated = await writeGeneratedBackup(backup, { count: 300, workCount: 5, gzip: false, bodyBytes: 3000 });
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await work?.cleanup();
});

describe('a backup into IMAP, the connection cut mid-pipeline', () => {
  it.each([
    { user: 'bob', fault: 'answers lost: the 4th MULTIAPPEND and those behind it stored, never confirmed', action: { kind: 'drop-on-tagged' } as const },
    { user: 'carol', fault: 'the 4th MULTIAPPEND cut halfway through its literals', action: { kind: 'drop-mid-literal', bytes: 2_000 } as const },
  ])('ends with every message exactly once ($user: $fault)', async ({ user, action }) => {
    let appends = 0;
    decideFor = (command) => {
      if (command.name !== 'APPEND') return { kind: 'pass' };
      appends += 1;
      return appends === 4 ? action : { kind: 'pass' };
    };
    proxy.log.length = 0;
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });
    const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
    const restore = async () => {
      const target = await openStore(parseStoreSpec(`imap://${user}@127.0.0.1:${proxy.port}`), { mode: 'write', logger, password });
      try {
        return await runArchiveIntoMailStore({
          source: parseStoreSpec(`cpmove:${backup}#alice@example.com`),
          target,
          dryRun: false,
          messages: { mapping: {}, skipExisting: true, retryBaseMs: 10, batchMessages: 10 },
          signal: new AbortController().signal,
          logger,
        });
      } finally {
        await target.store[Symbol.asyncDispose]();
      }
    };
    const report = await restore();
    expect(report.totals.failedFolders, lines.join('')).toBe(0);
    expect(report.totals.skipped).toBe(0);
    expect(report.totals.copied).toBe(generated.messages);
    // The cut happened with several appends in flight, and the folder was listed again before anything went out.
    expect(proxy.log.join('\n')).toMatch(new RegExp(`${action.kind} \\S+ APPEND`));
    expect(proxy.maxAppendsInFlight).toBeGreaterThan(1);
    expect(report.folders.find((folder) => folder.source === 'INBOX')?.retries).toBeGreaterThanOrEqual(1);
    expect(lines.join('')).toContain('listing the folder again');

    const counts = new Map<string, number>();
    for (const m of await server.mail(user).readMessages()) {
      const id = /^<([^@]+)@/.exec(m.messageId)![1]!;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect([...new Set([...counts.keys(), ...generated.counts.keys()])].filter((id) => counts.get(id) !== generated.counts.get(id)).map((id) => `${id}: ${counts.get(id) ?? 0} served, ${generated.counts.get(id) ?? 0} in the backup`), lines.join('')).toEqual([]);
    expect(counts.get('twin')).toBe(2);
    // And a run after it has nothing to do.
    decideFor = () => ({ kind: 'pass' });
    expect((await restore()).totals).toMatchObject({ copied: 0, alreadyPresent: generated.messages });
  });
});
