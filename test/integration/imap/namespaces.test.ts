import { chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { ExitCode } from '../../../src/core/exit-codes.js';
import { runStoreCopy } from '../../../src/engine/messages/copy.js';
import { decideCopyExitCode } from '../../../src/engine/messages/report.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';
import { startFaultyProxy, type ProxyCommand } from './faulty-proxy.js';
import { byMailbox, copyBetweenAccounts, message, seedAccount } from './fixture.js';

/**
 * A server with a public namespace beside the account's own, unprefixed one (Dovecot's `type = public`, as hosting
 * servers offer shared folders; Cyrus's "Other Users/" lists the same way): LIST "" "*" lists both, and the public
 * folders are not the account's mail. They are left out, and said so; the account's own folders are all copied.
 */

let server: ImapServer;
let work: TempDir;

beforeAll(async () => {
  work = await makeTempDir('imap-namespaces', { mode: 0o755 });
  const publicRoot = path.join(work.path, 'public');
  server = await startImapServer({
    separator: '/',
    tls: 'none',
    users: ['nina', 'omar'],
    extraConfig: ['namespace public {', '  type = public', '  separator = /', '  prefix = Public/', `  location = maildir:${publicRoot}`, '  list = yes', '  subscriptions = no', '}'].join('\n'),
  });
  await seedAccount(server, 'nina');
  for (const dir of ['cur', 'new', 'tmp', '.Announcements/cur', '.Announcements/new', '.Announcements/tmp']) await mkdir(path.join(publicRoot, dir), { recursive: true });
  await writeFile(path.join(publicRoot, '.Announcements/cur/1600000000.M1P1.public:2,S'), message('public-1', 'For everyone', 'A note in a public folder.'));
  const owner = server.users[0]!;
  for (const dir of ['', 'cur', 'new', 'tmp', '.Announcements', '.Announcements/cur', '.Announcements/new', '.Announcements/tmp', '.Announcements/cur/1600000000.M1P1.public:2,S']) {
    await chown(path.join(publicRoot, dir), owner.uid, owner.gid);
  }
});

afterAll(async () => {
  await server?.stop();
  await work?.cleanup();
});

describe('folders of other namespaces', () => {
  it('are left out of a copy and named in the log; every folder of the account is copied', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });
    const report = await copyBetweenAccounts(server, 'nina', 'omar', { logger });
    expect(report.totals).toMatchObject({ copied: 14, failedFolders: 0 });
    expect(report.folders.map((folder) => folder.source)).not.toContain('Public/Announcements');
    // Named in the report (and so in --json) too, without making the copy partial.
    expect(report.otherNamespaceFolders).toEqual(['Public', 'Public/Announcements']);
    expect(report.skippedFolders).toEqual([]);
    // The target's own listing leaves the public namespace out the same way, so only the accounts are compared.
    expect(byMailbox(await server.mail('omar').readMessages())).toEqual(byMailbox(await server.mail('nina').readMessages()));
    expect(lines.join('\n')).toMatch(/folder\(s\) of other namespaces left out \("Public", "Public\/Announcements"\): other users' or shared mail, not this account's/);
  });

  it("refuses to write a folder into the target's public namespace, by name, and copies the rest (exit 3, partial)", async () => {
    // A maildir whose owner had a folder of their own called "Public/Stuff": on this server that name is the public
    // namespace's, where every user would read it.
    const source = path.join(work.path, 'maildir');
    await writeTree(source, {
      'cur/1600000000.M1P1.a:2,S': message('own-1', 'In the inbox', 'Mine.'),
      '.Public.Stuff/cur/1600000000.M2P1.b:2,S': message('own-2', 'Private stuff', 'Also mine, not public.'),
    });
    const logger = createLogger({ level: 'info', write: () => {} });
    const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
    const from = await openStore(parseStoreSpec(source), { mode: 'read', logger, password });
    const to = await openStore(parseStoreSpec(`imap://omar@127.0.0.1:${server.port}`), { mode: 'write', logger, password });
    let report;
    try {
      report = await runStoreCopy(from, to, { logger });
    } finally {
      await from.store[Symbol.asyncDispose]();
      await to.store[Symbol.asyncDispose]();
    }
    const refused = report.folders.find((folder) => folder.source === 'Public/Stuff');
    expect(refused?.error).toMatchObject({ code: 'MAILSHIFT_IMAP_FOLDER_NAME', message: expect.stringMatching(/namespace of other users' or shared folders/) });
    expect(decideCopyExitCode(report)).toBe(ExitCode.partial);
    const publicMail = await server.mail('omar').readMessages();
    expect(publicMail.map((each) => each.mailbox)).not.toContain('Public/Stuff');
    expect(publicMail.filter((each) => each.mailbox === 'INBOX').length).toBeGreaterThan(0);
  });
});

describe('a server without NAMESPACE', () => {
  it('is asked for its root with LIST "" "" and then for the folders, and everything is copied', async () => {
    // Dovecot told to offer neither NAMESPACE nor LIST-STATUS nor SPECIAL-USE after login, as older servers do.
    const plain = await startImapServer({
      separator: '/',
      tls: 'none',
      users: ['pia', 'quin'],
      extraConfig: 'imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ UIDPLUS',
    });
    const commands: ProxyCommand[] = [];
    const proxy = await startFaultyProxy(plain.port, (command) => {
      commands.push(command);
      return { kind: 'pass' };
    });
    try {
      await seedAccount(plain, 'pia');
      const lines: string[] = [];
      const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
      const report = await copyBetweenAccounts(plain, 'pia', 'quin', { logger, fromPort: proxy.port, toPort: proxy.port });
      expect(report.totals).toMatchObject({ copied: 14, failedFolders: 0 });
      expect(byMailbox(await plain.mail('quin').readMessages())).toEqual(byMailbox(await plain.mail('pia').readMessages()));
      const sent = commands.map((command) => command.line.replace(/^\S+ /, ''));
      expect(sent).toContain('LIST "" ""');
      expect(sent).toContain('LIST "" "*"');
      expect(sent.some((line) => line.startsWith('NAMESPACE'))).toBe(false);
      expect(lines.join('\n')).toMatch(/personal namespace prefix "", delimiter "\/"/);
    } finally {
      await proxy.close();
      await plain.stop();
    }
  });
});
