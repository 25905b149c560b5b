import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../../src/core/logger.js';
import { runStoreCopy, type StoreCopyOptions, type StoreDescription } from '../../../src/engine/messages/copy.js';
import { stateFileFor } from '../../../src/engine/state.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { createDoveadm, startImapServer, type Doveadm, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';
import { buildSeedManifest, byMailbox, seedAccount, seedMessages } from './fixture.js';

/**
 * IMAP to maildir and IMAP to IMAP against real Dovecot servers on 127.0.0.1: a cPanel-like source (prefix "INBOX.",
 * delimiter ".", implicit TLS) and a Gmail/Dovecot-like target (no prefix, delimiter "/", STARTTLS). Both verify
 * the self-signed certificate through --ca-file. What arrived is read back by Dovecot itself (doveadm), bytes
 * compared by SHA-256.
 */

let source: ImapServer;
let target: ImapServer;
let work: TempDir;
let doveadm: Doveadm;
const logLines: string[] = [];
let logger: Logger;

beforeAll(async () => {
  [source, target] = await Promise.all([
    startImapServer({ separator: '.', prefix: 'INBOX.', tls: 'implicit', users: ['alice'] }),
    startImapServer({ separator: '/', tls: 'starttls', users: ['bob', 'carol'] }),
  ]);
  await seedAccount(source, 'alice');
  work = await makeTempDir('imap-copy', { mode: 0o755 });
  doveadm = await createDoveadm({ separator: '/' });
  logger = createLogger({ level: 'debug', write: (line) => logLines.push(line) });
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop(), doveadm?.close()]);
  await work?.cleanup();
});

async function open(spec: string, server: ImapServer | undefined, mode: 'read' | 'write'): Promise<StoreDescription> {
  const parsed = parseStoreSpec(spec);
  return openStore(parsed, {
    mode,
    logger,
    password: async (imap) => server!.users.find((u) => u.user === imap.user)!.password,
    ...(server?.caCertPath ? { caFile: server.caCertPath } : {}),
  });
}

async function copy(from: StoreDescription, to: StoreDescription, options: Partial<StoreCopyOptions> = {}) {
  try {
    return await runStoreCopy(from, to, { logger, state: { file: stateFileFor(path.join(work.path, 'state'), `${from.label} -> ${to.label}`), pair: `${from.label} -> ${to.label}` }, ...options });
  } finally {
    await from.store[Symbol.asyncDispose]();
    await to.store[Symbol.asyncDispose]();
  }
}

const sourceSpec = () => `imaps://alice@127.0.0.1:${source.port}`;
/** Source folder names as Dovecot reports them (prefix "INBOX.", "." delimiter) -> mailbox paths. */
const fromCpanel = (name: string) => (name === 'INBOX' ? 'INBOX' : name.replace(/^INBOX\./, '').replaceAll('.', '/'));

describe('IMAP to maildir', () => {
  let maildir: string;

  it('copies every folder with flags, keywords, dates and exact bytes', async () => {
    maildir = path.join(work.path, 'alice-maildir');
    const report = await copy(await open(sourceSpec(), source, 'read'), await open(maildir, undefined, 'write'));
    expect(report.stopped).toBeUndefined();
    expect(report.totals).toMatchObject({ copied: seedMessages.length, alreadyPresent: 0, skipped: 0, failedFolders: 0 });

    const expected = byMailbox(await source.mail('alice').readMessages({ hashes: true }), fromCpanel);
    const got = byMailbox(await (await doveadm.openMaildir(maildir)).readMessages({ hashes: true }));
    expect(Object.keys(got).sort()).toEqual(['Drafts', 'Entwürfe', 'INBOX', 'R&D', 'Sent', 'Work', 'Work/Projects']);
    expect(got).toEqual(expected);
    // Spot checks that the comparison above is about something: an old date, a keyword, a draft.
    const inbox = (await (await doveadm.openMaildir(maildir)).readMessages()).filter((m) => m.mailbox === 'INBOX');
    expect(inbox.find((m) => m.messageId === '<inbox-1@example.org>')?.receivedUnix).toBe(820576800);
    expect(inbox.find((m) => m.messageId === '<inbox-2@example.org>')).toMatchObject({ flags: ['\\Answered', '\\Flagged', '\\Seen'], keywords: ['$Forwarded'] });
  });

  it("keeps the source's UIDVALIDITY and UIDs, so clients of a server that serves the maildir need not download again", async () => {
    const targetMail = await doveadm.openMaildir(maildir);
    const targetStatus = await targetMail.mailboxStatus();
    // The source's UIDVALIDITY as its server announces it on EXAMINE.
    const from = await open(sourceSpec(), source, 'read');
    try {
      for (const mailbox of Object.keys(targetStatus)) {
        await using box = await from.store.openMailbox(mailbox, 'read');
        expect(targetStatus[mailbox]!.uidValidity).toBe((await box.status()).uidValidity);
      }
    } finally {
      await from.store[Symbol.asyncDispose]();
    }
    expect(Object.keys(targetStatus)).toHaveLength(7);
    const uids = (messages: readonly { mailbox: string; messageId: string; uid: number }[], rename: (name: string) => string) =>
      messages.map((m) => `${rename(m.mailbox)} ${m.messageId} ${m.uid}`).sort();
    expect(uids(await targetMail.readMessages(), (name) => name)).toEqual(uids(await source.mail('alice').readMessages(), fromCpanel));
  });

  it('copies nothing on a second run', async () => {
    const report = await copy(await open(sourceSpec(), source, 'read'), await open(maildir, undefined, 'write'));
    expect(report.totals.copied).toBe(0);
    expect(report.folders.every((folder) => folder.mode === 'incremental' && folder.examined === 0)).toBe(true);
  });

  it("resync --flags source brings flag changes made on the source since the copy; the default keeps the target's", async () => {
    await source.doveadm(['flags', 'add', '-u', 'alice', '\\Flagged $Label9', 'mailbox', 'INBOX', 'ALL']);
    await source.doveadm(['flags', 'remove', '-u', 'alice', '\\Seen', 'mailbox', 'INBOX', 'ALL']);
    const flagsOf = (messages: readonly { mailbox: string; messageId: string; flags: readonly string[]; keywords: readonly string[] }[], rename: (name: string) => string) =>
      messages.filter((m) => rename(m.mailbox) === 'INBOX').map((m) => `${m.messageId} ${m.flags.join(' ')} | ${m.keywords.join(' ')}`).sort();
    const onTarget = async () => flagsOf(await (await doveadm.openMaildir(maildir)).readMessages(), (name) => name);
    const onSource = async () => flagsOf(await source.mail('alice').readMessages(), fromCpanel);
    const before = await onTarget();
    expect(before).not.toEqual(await onSource());

    const kept = await copy(await open(sourceSpec(), source, 'read'), await open(maildir, undefined, 'write'));
    expect(kept.totals).toMatchObject({ copied: 0, flagDifferences: 0, flagsApplied: 0 });
    expect(await onTarget()).toEqual(before);

    const applied = await copy(await open(sourceSpec(), source, 'read'), await open(maildir, undefined, 'write'), { flags: 'source' });
    const inboxCount = before.length;
    expect(applied.totals).toMatchObject({ copied: 0, flagDifferences: inboxCount, flagsApplied: inboxCount });
    expect(await onTarget()).toEqual(await onSource());

    const again = await copy(await open(sourceSpec(), source, 'read'), await open(maildir, undefined, 'write'), { flags: 'source' });
    expect(again.totals).toMatchObject({ flagDifferences: 0, flagsApplied: 0 });
  });

  it('copies nothing twice without any state either: the maildir is compared by identity', async () => {
    const from = await open(sourceSpec(), source, 'read');
    const to = await open(maildir, undefined, 'write');
    try {
      const report = await runStoreCopy(from, to, { logger });
      expect(report.totals).toMatchObject({ copied: 0, alreadyPresent: seedMessages.length });
    } finally {
      await from.store[Symbol.asyncDispose]();
      await to.store[Symbol.asyncDispose]();
    }
  });
});

describe('IMAP to IMAP', () => {
  const targetSpec = (user = 'bob') => `imap://${user}@127.0.0.1:${target.port}`;

  it('copies across a namespace prefix and another delimiter, by SPECIAL-USE role, bytes unchanged', async () => {
    const report = await copy(await open(sourceSpec(), source, 'read'), await open(targetSpec(), target, 'write'));
    expect(report.stopped).toBeUndefined();
    expect(report.totals).toMatchObject({ copied: seedMessages.length, skipped: 0, failedFolders: 0 });
    expect(report.mapping.find((row) => row.source === 'Sent')).toMatchObject({ action: 'copy', target: 'Sent', reason: 'SPECIAL-USE \\Sent' });

    const expected = byMailbox(await source.mail('alice').readMessages({ hashes: true }), fromCpanel);
    const got = byMailbox(await target.mail('bob').readMessages({ hashes: true }));
    // The target's auto-created special folders (Junk, Trash) stay empty and are not listed by readMessages.
    expect(got).toEqual(expected);
  });

  it('copies nothing on a second run', async () => {
    const report = await copy(await open(sourceSpec(), source, 'read'), await open(targetSpec(), target, 'write'));
    expect(report.totals.copied).toBe(0);
    const got = await target.mail('bob').readMessages();
    expect(got).toHaveLength(seedMessages.length);
  });

  it('copies nothing twice after the source folder was deleted and recreated with a new UIDVALIDITY', async () => {
    const alice = source.users.find((u) => u.user === 'alice')!;
    await source.doveadm(['mailbox', 'delete', '-u', 'alice', 'INBOX.Work.Projects']);
    // The same messages come back, with another UIDVALIDITY (a restore from backup, a client that re-created it).
    await writeTree(alice.maildir, buildSeedManifest((dir) => dir === '.Work.Projects', 7_000_000));
    await source.fixOwnership('alice');

    const report = await copy(await open(sourceSpec(), source, 'read'), await open(targetSpec(), target, 'write'));
    const projects = report.folders.find((folder) => folder.source === 'Work/Projects')!;
    expect(projects).toMatchObject({ mode: 'uidvalidity-changed', uidValidity: 7_000_000, copied: 0, alreadyPresent: 2 });
    expect(report.totals.copied).toBe(0);
    expect(await target.mail('bob').readMessages()).toHaveLength(seedMessages.length);
    expect(logLines.join('')).toMatch(/UIDVALIDITY changed/);
  });

  it('dry run prints the mapping and writes nothing', async () => {
    const report = await copy(await open(sourceSpec(), source, 'read'), await open(targetSpec('carol'), target, 'write'), { dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(report.totals.copied).toBe(seedMessages.length);
    expect(await target.mail('carol').readMessages()).toHaveLength(0);
  });

  it('never writes the password to the log, not even at debug level', () => {
    const all = logLines.join('');
    expect(all.length).toBeGreaterThan(0);
    for (const user of [...source.users, ...target.users]) {
      expect(all).not.toContain(user.password);
      expect(all).not.toContain(Buffer.from(`\u0000${user.user}\u0000${user.password}`).toString('base64'));
    }
  });
});
