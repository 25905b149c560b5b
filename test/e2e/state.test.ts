import { existsSync, readdirSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImapServer, type ImapServer } from '../support/dovecot.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { seedAccount, seedMessages } from '../integration/imap/fixture.js';
import { runCli } from './cli.js';

/** `mailshift state show|reset` (the built CLI) on the state a real IMAP copy from Dovecot left. */

let source: ImapServer;
let work: TempDir;

beforeAll(async () => {
  source = await startImapServer({ separator: '.', prefix: 'INBOX.', tls: 'implicit', users: ['sam'] });
  await seedAccount(source, 'sam');
  work = await makeTempDir('state-e2e', { mode: 0o755 });
});

afterAll(async () => {
  await source?.stop();
  await work?.cleanup();
});

describe('mailshift state', () => {
  it('shows the saved state of an IMAP pair, and reset (one folder, then all) makes the next run compare by identity', async () => {
    const passwordFile = path.join(work.path, 'sam.pw');
    await writeFile(passwordFile, `${source.users[0]!.password}\n`, { mode: 0o600 });
    const caFile = source.caCertPath!;
    const url = `imaps://sam@127.0.0.1:${source.port}`;
    const maildir = path.join(work.path, 'sam-maildir');
    const stateDir = ['--state-dir', path.join(work.path, 'state')];
    const copy = async () => {
      const result = await runCli(['--json', 'copy', url, maildir, '--ca-file', caFile, '--password-file', passwordFile, ...stateDir]);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { totals: { copied: number }; folders: { source: string; copied: number }[] };
    };
    const show = async (...extra: string[]) => {
      const result = await runCli(['--json', 'state', 'show', url, maildir, ...stateDir, ...extra]);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { pair: string; file: string; folders: { sourceFolder: string; targetFolder: string; uidValidity: number; highestUid: number }[] };
    };

    const none = await show();
    expect(none.folders).toEqual([]);
    expect(none.pair).toBe(`imaps://sam@127.0.0.1:${source.port} -> ${maildir}`);
    expect((await copy()).totals.copied).toBe(seedMessages.length);

    const saved = await show();
    expect(saved.folders.map((folder) => folder.sourceFolder)).toEqual(['Drafts', 'Entwürfe', 'INBOX', 'Junk', 'R&D', 'Sent', 'Trash', 'Work', 'Work/Projects']);
    const inboxCount = seedMessages.filter((m) => m.folderDir === '').length;
    expect(saved.folders.find((folder) => folder.sourceFolder === 'INBOX')).toMatchObject({ targetFolder: 'INBOX', highestUid: inboxCount });
    const text = await runCli(['state', 'show', url, maildir, ...stateDir, '--folder', 'INBOX']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^SOURCE FOLDER\s+TARGET FOLDER\s+UIDVALIDITY\s+COPIED UP TO UID\s+UPDATED$/m);
    expect(text.stdout).toMatch(new RegExp(`^INBOX\\s+INBOX\\s+\\d+\\s+${inboxCount}\\s+\\d{4}-`, 'm'));
    expect(text.stdout).not.toMatch(/^Sent/m);

    // A message deleted on the target: the saved state says it was copied, so the next run does not look at it ...
    const inboxFiles = readdirSync(path.join(maildir, 'cur'));
    await unlink(path.join(maildir, 'cur', inboxFiles[0]!));
    expect((await copy()).totals.copied).toBe(0);
    // ... until the state of INBOX is reset; the other folders keep theirs.
    const reset = await runCli(['state', 'reset', url, maildir, ...stateDir, '--folder', 'INBOX']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/^Reset the state of 1 folder\(s\) of .*: INBOX$/m);
    expect((await show()).folders.map((folder) => folder.sourceFolder)).not.toContain('INBOX');
    const again = await copy();
    expect(again.totals.copied).toBe(1);
    expect(again.folders.find((folder) => folder.source === 'INBOX')?.copied).toBe(1);
    expect(readdirSync(path.join(maildir, 'cur'))).toHaveLength(inboxFiles.length);

    const all = await runCli(['--json', 'state', 'reset', url, maildir, ...stateDir]);
    expect(all.code, all.stderr).toBe(0);
    expect(JSON.parse(all.stdout).folders).toHaveLength(saved.folders.length);
    expect(existsSync(saved.file)).toBe(false);
    expect((await show()).folders).toEqual([]);
    expect((await copy()).totals.copied).toBe(0);
  });

  it('refuses a pair without an IMAP end (exit 2): only IMAP copies keep a state', async () => {
    const result = await runCli(['state', 'show', path.join(work.path, 'a'), path.join(work.path, 'b')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/only copies with an IMAP end keep a state/);
  });
});
