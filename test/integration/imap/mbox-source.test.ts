import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDoveadm, type Doveadm, type DovecotMessage, type ImapServer, startImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';
import { runCli } from '../../e2e/cli.js';
import { byMailbox } from './fixture.js';

/**
 * mbox -> IMAP through the built CLI, against a real Dovecot on 127.0.0.1 set up like a cPanel server (namespace
 * prefix "INBOX.", delimiter ".", implicit TLS, certificate checked through --ca-file). The source is a legacy cPanel/Dovecot mbox tree: a spool INBOX with the "FOLDER INTERNAL DATA"
 * pseudo-message and X-UID/X-IMAPbase, a Status/X-Status/X-Keywords spool with a Content-Length message, nested and
 * non-ASCII folder names, a 1996 mboxrd file and an mboxcl2 file whose body holds a valid From_ line. What arrives is
 * read back by Dovecot (doveadm) and compared, byte for byte by SHA-256, with what `mailshift convert` makes of the
 * same tree (read by Dovecot too).
 */

const fixtures = path.resolve(import.meta.dirname, '../../../fixtures/mbox');

let server: ImapServer;
let doveadm: Doveadm;
let work: TempDir;
let tree: string;
let caFile: string;
const passwordFiles: Record<string, string> = {};

const url = (user: string) => `imaps://${user}@127.0.0.1:${server.port}`;
const auth = (user: string) => ['--ca-file', caFile, '--password-file', passwordFiles[user]!, '--state-dir', path.join(work.path, 'state')];

/** A message written in 1996, flagged and answered, whose body has mboxrd quoting (a ">>From " line). */
const oldMboxrd = [
  'From old@example.net Tue Jan  2 10:00:00 1996',
  'Status: RO',
  'X-Status: AF',
  'From: Old Friend <old@example.net>',
  'Subject: A letter from 1996',
  'Message-ID: <letter-1996@example.net>',
  'Date: Tue, 2 Jan 1996 10:00:00 +0000',
  '',
  '>From the start of a line, quoted once.',
  '>>From a line that was quoted already.',
  'Regards.',
  '',
  'From old@example.net Wed Jan  3 10:00:00 1996',
  'From: Old Friend <old@example.net>',
  'Subject: Unread since 1996',
  'Message-ID: <letter-1996-2@example.net>',
  '',
  'Still unread.',
  '',
].join('\n');

beforeAll(async () => {
  server = await startImapServer({ separator: '.', prefix: 'INBOX.', tls: 'implicit', users: ['dora', 'erin'] });
  doveadm = await createDoveadm({ separator: '/' });
  work = await makeTempDir('mbox-imap', { mode: 0o755 });
  caFile = path.join(work.path, 'ca.pem');
  await writeFile(caFile, server.caCertPem!);
  for (const user of server.users) {
    passwordFiles[user.user] = path.join(work.path, `${user.user}.pw`);
    await writeFile(passwordFiles[user.user]!, `${user.password}\n`, { mode: 0o600 });
  }
  tree = path.join(work.path, 'mail');
  await cp(path.join(fixtures, 'sample-account'), tree, { recursive: true });
  await writeTree(tree, {
    Spool: await readFile(path.join(fixtures, 'spool/dovecot-inbox')),
    'Archive/1996': oldMboxrd,
    'Archive/mboxcl2': await readFile(path.join(fixtures, 'variants/mboxcl2.mbox')),
  });
});

afterAll(async () => {
  await Promise.all([server?.stop(), doveadm?.close()]);
  await work?.cleanup();
});

/**
 * What convert makes of the tree, as Dovecot reads it. A literal '.' in a folder name is U+2024 in convert's maildir
 * and '_' on a server whose delimiter is '.': both are compared as '_'.
 */
async function convertedByDovecot(source: string): Promise<DovecotMessage[]> {
  const maildir = path.join(work.path, `converted-${path.basename(source)}`);
  const result = await runCli(['convert', source, maildir]);
  expect(result.code, result.stderr).toBe(0);
  return (await (await doveadm.openMaildir(maildir)).readMessages({ hashes: true })).map((m) => ({ ...m, mailbox: m.mailbox.replaceAll('\u2024', '_') }));
}

/** Folder names on the cPanel-like server ("INBOX.Work.Projects") -> mailbox paths ("Work/Projects"). */
const fromCpanel = (name: string) => (name === 'INBOX' ? 'INBOX' : name.replace(/^INBOX\./, '').replaceAll('.', '/'));
const toCpanel = (mailbox: string) => (mailbox === 'INBOX' ? 'INBOX' : `INBOX.${mailbox.replaceAll('/', '.')}`);

describe('mailshift copy MBOX imaps://...', () => {
  let expected: DovecotMessage[];

  it('copies every folder with convert\'s bytes, flags, keywords and INTERNALDATE', async () => {
    expected = await convertedByDovecot(tree);
    const result = await runCli(['--json', 'copy', tree, url('dora'), ...auth('dora')]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ ok: true, engine: 'imap', totals: { copied: expected.length, skipped: 0, failedFolders: 0 } });

    const got = (await server.mail('dora').readMessages({ hashes: true })).map((m) => ({ ...m, mailbox: fromCpanel(m.mailbox) }));
    expect(Object.keys(byMailbox(got)).sort()).toEqual(['Archive/1996', 'Archive/mboxcl2', 'Entwürfe', 'INBOX', 'Spool', 'Work/Projects', 'Work/v1_2 release', 'sent-mail']);
    expect(byMailbox(got)).toEqual(byMailbox(expected));
    expect(report.mapping).toContainEqual({ action: 'copy', source: 'Work/v1.2 release', target: 'Work/v1.2 release', reason: 'same name' });

    // Spot checks that the comparison is about something.
    const byId = (id: string) => got.find((m) => m.messageId === id)!;
    expect(byId('<spool-1@example.com>')).toMatchObject({ mailbox: 'Spool', flags: ['\\Answered', '\\Seen'], keywords: ['Work'] });
    expect(byId('<spool-2@example.com>')).toMatchObject({ flags: ['\\Draft', '\\Flagged'], keywords: ['$Label1', 'Work'] });
    expect(byId('<spool-3@example.com>').flags).toEqual(['\\Deleted']);
    expect(byId('<letter-1996@example.net>')).toMatchObject({ mailbox: 'Archive/1996', flags: ['\\Answered', '\\Flagged', '\\Seen'], receivedUnix: 820576800 });
    expect(got.some((m) => /FOLDER INTERNAL DATA|pseudo@sample|1583323200@mail/.test(m.messageId))).toBe(false);

    const text = async (id: string) => (await server.mail('dora').fetchText(toCpanel(byId(id).mailbox), byId(id).uid)).toString('latin1');
    const letter = await text('<letter-1996@example.net>');
    expect(letter).toContain('\nFrom the start of a line, quoted once.\n>From a line that was quoted already.\n');
    expect(letter).not.toMatch(/^(Status|X-Status):/m);
    const cl2 = await text('<cl2-1@example.com>');
    expect(cl2).toContain('\nFrom mallory@example.com Wed Jan  8 11:00:00 2020\nstill the first message\n');
    expect(cl2).not.toMatch(/^Content-Length:/im);
    expect(await text('<spool-1@example.com>')).not.toMatch(/^(X-UID|X-Keywords|Content-Length|Status):/im);
  });

  it('copies nothing on a second run, and resync copies nothing either', async () => {
    const before = await server.mail('dora').mailboxStatus();
    const again = await runCli(['--json', 'copy', tree, url('dora'), ...auth('dora')]);
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout);
    expect(report.totals).toMatchObject({ copied: 0, skipped: 0 });
    // The spool INBOX carries X-IMAPbase: only its message without an X-UID is looked at again.
    expect(report.folders.find((f: { source: string }) => f.source === 'INBOX')).toMatchObject({ mode: 'incremental', examined: 1, alreadyPresent: 1 });
    const resync = await runCli(['--json', 'resync', tree, url('dora'), ...auth('dora')]);
    expect(resync.code, resync.stderr).toBe(0);
    expect(JSON.parse(resync.stdout)).toMatchObject({ command: 'resync', totals: { copied: 0 } });
    expect(await server.mail('dora').mailboxStatus()).toEqual(before);
  });

  // Regression: verify looked the target folder up in the target's listing, where "Work/v1.2 release" stored as
  // INBOX.Work.v1_2 release reads back as "Work/v1_2 release", and called its message missing.
  it('verify says OK, a folder whose name the server stores differently included', async () => {
    const result = await runCli(['verify', tree, url('dora'), ...auth('dora')]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^OK: ${expected.length} of ${expected.length} source messages checked on the target; 0 missing`, 'm'));
  });

  it('reports a corrupt message with its file, offset and reason, copies the rest, and exits 3', async () => {
    const broken = path.join(work.path, 'broken');
    await writeTree(broken, {
      INBOX: await readFile(path.join(fixtures, 'sample-account/inbox')),
      Cut: await readFile(path.join(fixtures, 'bad/truncated.mbox')),
    });
    const result = await runCli(['copy', broken, url('erin'), ...auth('erin')]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toMatch(/Skipped messages \(1\):\n {2}Cut Cut@107: Cut at byte 107: truncated message: the file ends in the middle of the message headers/);
    expect(result.stderr).toMatch(/Cut at byte 107: truncated message/);
    const got = await server.mail('erin').readMessages();
    expect(got.map((m) => m.messageId).sort()).toEqual(['<sample-1@example.com>', '<sample-2@example.com>', '<sample-3@example.com>', '<sample-4@example.com>', '<trunc-1@example.com>']);

    // verify does not call it OK: the message is not on the target.
    const verify = await runCli(['--json', 'verify', broken, url('erin'), ...auth('erin')]);
    expect(verify.code).toBe(4);
    expect(JSON.parse(verify.stdout).totals.missing).toBe(1);
  });

  it('refuses an mbox as the target, with a hint', async () => {
    const result = await runCli(['copy', url('dora'), tree, ...auth('dora')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/mbox can be a source, not a target/);
    expect(result.stderr).toMatch(/mailshift convert/);
  });
});
