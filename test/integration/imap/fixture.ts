import type { Logger } from '../../../src/core/logger.js';
import { runStoreCopy, type StoreCopyReport } from '../../../src/engine/messages/copy.js';
import { openStore } from '../../../src/stores/open.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import type { TreeManifest } from '../../support/tree.js';
import { writeTree } from '../../support/tree.js';
import type { DovecotMessage, ImapServer } from '../../support/dovecot.js';

/**
 * A source mailbox written straight into a Dovecot user's Maildir (not through our code): Dovecot then serves it
 * over IMAP with the flags from the file names, keywords from dovecot-keywords, INTERNALDATE from the mtimes and the
 * UIDVALIDITY from dovecot-uidlist. Folders: INBOX, Sent (\Sent on the server), Drafts, Work, Work/Projects,
 * "Entwürfe" (non-ASCII, mUTF-7 on disk and on the wire) and "R&D" (a literal '&').
 */

export function message(id: string | undefined, subject: string, body: string, extraHeaders = ''): string {
  return [
    'Return-Path: <sender@example.org>',
    'Received: from mx.example.org by mail.example.com; Tue, 2 Jan 1996 10:00:00 +0000',
    ...(id ? [`Message-ID: <${id}@example.org>`] : []),
    'Date: Tue, 2 Jan 1996 10:00:00 +0000',
    'From: Sender <sender@example.org>',
    'To: Alice <alice@example.com>',
    `Subject: ${subject}`,
    ...(extraHeaders ? [extraHeaders] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    '',
  ].join('\n');
}

const long = `${'Line of a longer body that goes on. '.repeat(3)}\n`.repeat(200);

export interface SeedMessage {
  readonly folderDir: string; // '' for INBOX, '.Work.Projects' etc.
  readonly base: string;
  readonly flags: string; // maildir info letters, e.g. 'S', 'FSa'
  readonly mtime: number;
  readonly content: string;
}

export const seedMessages: readonly SeedMessage[] = [
  { folderDir: '', base: '820576800.M1P1.src', flags: 'S', mtime: 820576800, content: message('inbox-1', 'Old mail from 1996', 'Hello from 1996.') },
  { folderDir: '', base: '946684800.M2P1.src', flags: 'FRSa', mtime: 946684800, content: message('inbox-2', 'Flagged, answered, forwarded', 'Y2K.') },
  { folderDir: '', base: '1500000000.M3P1.src', flags: '', mtime: 1500000000, content: message('inbox-3', 'Unread, long', long) },
  { folderDir: '', base: '1500000001.M4P1.src', flags: 'S', mtime: 1500000001, content: message(undefined, 'No Message-ID at all', 'A message without an id.') },
  {
    folderDir: '',
    base: '1500000002.M5P1.src',
    flags: 'Sb',
    mtime: 1500000002,
    content: message('inbox-5', 'Gr\u00fc\u00dfe with 8-bit header', 'Umlauts in the body: \u00e4\u00f6\u00fc.', 'X-Note: caf\u00e9'),
  },
  { folderDir: '.Sent', base: '1510000000.M6P1.src', flags: 'S', mtime: 1510000000, content: message('sent-1', 'Sent by Alice', 'I sent this.') },
  { folderDir: '.Drafts', base: '1520000000.M7P1.src', flags: 'DS', mtime: 1520000000, content: message('draft-1', 'A draft', 'Unfinished...') },
  { folderDir: '.Work', base: '1530000000.M8P1.src', flags: 'S', mtime: 1530000000, content: message('work-1', 'Work', 'Work mail.') },
  { folderDir: '.Work.Projects', base: '1540000000.M9P1.src', flags: 'Sa', mtime: 1540000000, content: message('proj-1', 'Project one', 'Nested folder.') },
  { folderDir: '.Work.Projects', base: '1540000001.M10P1.src', flags: '', mtime: 1540000001, content: message('proj-2', 'Project two', 'Nested again.') },
  { folderDir: '.Entw&APw-rfe', base: '1550000000.M11P1.src', flags: 'D', mtime: 1550000000, content: message('entwurf-1', 'Entwurf', 'Ein Entwurf.') },
  { folderDir: '.R&-D', base: '1560000000.M12P1.src', flags: 'S', mtime: 1560000000, content: message('rnd-1', 'R and D', 'Research.') },
  // The same message twice in one folder: a real duplicate must stay two messages.
  { folderDir: '.R&-D', base: '1560000001.M13P1.src', flags: 'S', mtime: 1560000001, content: message('rnd-dup', 'Duplicate', 'Twice.') },
  { folderDir: '.R&-D', base: '1560000002.M14P1.src', flags: 'S', mtime: 1560000002, content: message('rnd-dup', 'Duplicate', 'Twice.') },
];

/** Folder UIDVALIDITYs written into dovecot-uidlist, so a test can "recreate" a folder with another one. */
export function uidlistFor(folderDir: string, uidValidity: number): string {
  const inFolder = seedMessages.filter((m) => m.folderDir === folderDir);
  const lines = [`3 V${uidValidity} N${inFolder.length + 1}`];
  inFolder.forEach((m, i) => lines.push(`${i + 1} :${m.base}`));
  return `${lines.join('\n')}\n`;
}

export const folderDirs = ['', '.Sent', '.Drafts', '.Work', '.Work.Projects', '.Entw&APw-rfe', '.R&-D'];

export function buildSeedManifest(folderFilter: (dir: string) => boolean = () => true, uidValidityBase = 1_000_000): TreeManifest {
  const manifest: Record<string, TreeManifest[string]> = {};
  folderDirs.filter(folderFilter).forEach((dir, index) => {
    const prefix = dir === '' ? '' : `${dir}/`;
    manifest[`${prefix}cur`] = { type: 'dir' };
    manifest[`${prefix}new`] = { type: 'dir' };
    manifest[`${prefix}tmp`] = { type: 'dir' };
    if (dir !== '') manifest[`${prefix}maildirfolder`] = '';
    manifest[`${prefix}dovecot-keywords`] = '0 $Forwarded\n1 project-x\n';
    manifest[`${prefix}dovecot-uidlist`] = uidlistFor(dir, uidValidityBase + index);
  });
  for (const m of seedMessages) {
    if (!folderFilter(m.folderDir)) continue;
    const prefix = m.folderDir === '' ? '' : `${m.folderDir}/`;
    manifest[`${prefix}cur/${m.base}:2,${m.flags}`] = { content: Buffer.from(m.content, 'utf8'), mtime: m.mtime };
  }
  return manifest;
}

export async function seedAccount(server: ImapServer, user: string): Promise<void> {
  const account = server.users.find((each) => each.user === user);
  if (!account) throw new Error(`no user ${user}`);
  await writeTree(account.maildir, buildSeedManifest());
  await server.fixOwnership(user);
}

/** What must survive a copy: everything but the UID and the folder's spelling on the server. */
export function fingerprint(m: DovecotMessage): string {
  return JSON.stringify({ flags: m.flags, keywords: m.keywords, receivedUnix: m.receivedUnix, messageId: m.messageId, sha256: m.sha256 });
}

/** Messages grouped by mailbox (names mapped through `rename`), each a sorted list of fingerprints. */
export function byMailbox(messages: readonly DovecotMessage[], rename: (mailbox: string) => string = (name) => name): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of messages) (out[rename(m.mailbox)] ??= []).push(fingerprint(m));
  for (const list of Object.values(out)) list.sort();
  return out;
}

/**
 * One IMAP to IMAP copy as the command line runs it: both accounts opened, copied, both closed. `fromPort`,
 * `toPort`: the source's or target's port when it is reached through a proxy.
 */
export async function copyBetweenAccounts(
  server: ImapServer,
  from: string,
  to: string,
  options: { readonly logger: Logger; readonly fromPort?: number; readonly toPort?: number; readonly maxConnections?: number },
): Promise<StoreCopyReport> {
  const { logger } = options;
  const password = async (spec: { user: string }) => server.users.find((u) => u.user === spec.user)!.password;
  const source = await openStore(parseStoreSpec(`imap://${from}@127.0.0.1:${options.fromPort ?? server.port}`), { mode: 'read', logger, password });
  const target = await openStore(parseStoreSpec(`imap://${to}@127.0.0.1:${options.toPort ?? server.port}`), {
    mode: 'write',
    logger,
    password,
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
  });
  try {
    return await runStoreCopy(source, target, { logger });
  } finally {
    await source.store[Symbol.asyncDispose]();
    await target.store[Symbol.asyncDispose]();
  }
}
