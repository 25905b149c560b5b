import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImapServer, type ImapServer } from '../support/dovecot.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { runCli } from './cli.js';

/**
 * Maildir folders whose names are not Maildir++ as Dovecot writes it — a literal "&" (not modified UTF-7), Latin-1
 * bytes (not UTF-8), a newline — were dropped without a word by copy, resync and verify with an IMAP end (exit 0,
 * "OK" even with those folders deleted from the target). Each must arrive under a name that says what it was, and a
 * folder that cannot be offered must be listed as skipped (exit 3), never pass as OK.
 */

let server: ImapServer;
let work: TempDir;

const targetUrl = (user: string) => `imap://${user}@127.0.0.1:${server.port}`;
const envFor = (user: string) => ({ MAILSHIFT_TARGET_PASSWORD: server.users.find((u) => u.user === user)!.password });

/** A Maildir++ folder with `count` messages, its directory name given as exact bytes. */
async function makeFolder(root: string, dirName: Buffer, label: string, count: number): Promise<void> {
  const dir = Buffer.concat([Buffer.from(`${root}/`), dirName]);
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(Buffer.concat([dir, Buffer.from(`/${sub}`)]), { recursive: true });
  for (let i = 1; i <= count; i += 1) {
    const message = `Message-ID: <${label.replace(/\W/g, '')}-${i}@test>\nFrom: a@example.org\nSubject: ${label} ${i}\nDate: Mon, 1 Jan 2024 00:00:0${i} +0000\n\n${label} body ${i}\n`;
    await writeFile(Buffer.concat([dir, Buffer.from(`/cur/170000000${i}.M${i}P1.host,S=${Buffer.byteLength(message)}:2,S`)]), message);
  }
}

const hostileNames: readonly [Buffer, string, number][] = [
  [Buffer.from('.semi;colon&amp'), 'semi;colon&amp', 2],
  [Buffer.from('.caf\xe9 latin1', 'latin1'), 'café latin1', 3],
  [Buffer.from('.line\nbreak'), 'line\u240abreak', 1],
];

let maildir: string;
const state = () => ['--state-dir', path.join(work.path, 'state')];

beforeAll(async () => {
  server = await startImapServer({ separator: '/', tls: 'none', users: ['bob', 'carol'], specialUse: false });
  work = await makeTempDir('imap-folder-names', { mode: 0o755 });
  maildir = path.join(work.path, 'hostile');
  await makeFolder(maildir, Buffer.from(''), 'inbox', 1);
  for (const [dirName, label, count] of hostileNames) await makeFolder(maildir, dirName, label, count);
});

afterAll(async () => {
  await server?.stop();
  await work?.cleanup();
});

describe('maildir folders with names that are not Maildir++ as Dovecot writes it, into IMAP', () => {
  it('copies every one of them (a literal "&" encoded for IMAP, Latin-1 read as such, a newline as ␊), and says how it read each name', async () => {
    const copy = await runCli(['--json', 'copy', maildir, targetUrl('bob'), ...state()], { env: envFor('bob') });
    expect(copy.code, copy.stderr).toBe(0);
    const report = JSON.parse(copy.stdout) as { totals: { copied: number }; skippedFolders: unknown[]; mapping: { source: string; reason: string }[] };
    expect(report.totals.copied).toBe(7);
    expect(report.skippedFolders).toEqual([]);
    expect(report.mapping.find((row) => row.source === 'café latin1')!.reason).toMatch(/not UTF-8: read as Latin-1/);
    const status = await server.mail('bob').mailboxStatus();
    expect(Object.fromEntries(Object.entries(status).map(([name, each]) => [name, each.messages]))).toEqual({
      INBOX: 1,
      'semi;colon&amp': 2,
      'café latin1': 3,
      'line\u240abreak': 1,
    });
  });

  it('resync finds them all there: nothing copied, no U+FFFD folder created', async () => {
    const resync = await runCli(['--json', 'resync', maildir, targetUrl('bob'), ...state()], { env: envFor('bob') });
    expect(resync.code, resync.stderr).toBe(0);
    expect(JSON.parse(resync.stdout).totals).toMatchObject({ copied: 0, skipped: 0 });
    const names = await server.mail('bob').listMailboxes();
    expect(names.some((name) => name.includes('\ufffd'))).toBe(false);
    expect(names).toHaveLength(4);
  });

  it('verify compares them, and does not say OK once one of them is deleted from the target', async () => {
    const verify = await runCli(['--json', 'verify', maildir, targetUrl('bob')], { env: envFor('bob') });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const compared = (JSON.parse(verify.stdout) as { folders: { folder: string }[] }).folders.map((f) => f.folder);
    expect(compared).toEqual(expect.arrayContaining(['semi;colon&amp', 'café latin1', 'line\u240abreak']));

    // Gone from the target, as if deleted there: Dovecot stores it as modified UTF-7 on disk.
    await rm(path.join(server.users.find((u) => u.user === 'bob')!.maildir, '.caf&AOk- latin1'), { recursive: true });
    expect(await server.mail('bob').listMailboxes()).not.toContain('café latin1');
    const after = await runCli(['verify', maildir, targetUrl('bob')], { env: envFor('bob') });
    expect(after.code, after.stdout + after.stderr).toBe(4);
    expect(after.stdout).toMatch(/^DIFFERENCES/);
    expect(after.stdout).toMatch(/café latin1/);
  });

  it('lists a folder it cannot offer as skipped (exit 3), in copy and in verify (INCOMPLETE, never OK)', async () => {
    const twins = path.join(work.path, 'twins');
    await makeFolder(twins, Buffer.from(''), 'twin inbox', 1);
    await makeFolder(twins, Buffer.from('.caf&AOk-'), 'utf7 cafe', 1);
    await makeFolder(twins, Buffer.from('.caf\xe9', 'latin1'), 'latin1 cafe', 1);
    const copy = await runCli(['--json', 'copy', twins, targetUrl('carol'), ...state()], { env: envFor('carol') });
    expect(copy.code, copy.stderr).toBe(3);
    const report = JSON.parse(copy.stdout) as { ok: boolean; skippedFolders: { folder: string; reason: string }[] };
    expect(report.ok).toBe(false);
    expect(report.skippedFolders).toEqual([{ folder: expect.stringMatching(/^\.caf/), reason: expect.stringMatching(/read as the folder name "café"/) }]);
    const text = await runCli(['copy', twins, targetUrl('carol'), ...state()], { env: envFor('carol') });
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(/Skipped folders \(1\):\n {2}\.caf/);

    const verify = await runCli(['verify', twins, targetUrl('carol')], { env: envFor('carol') });
    expect(verify.code, verify.stdout + verify.stderr).toBe(3);
    expect(verify.stdout).toMatch(/^INCOMPLETE/);
    expect(verify.stdout).toMatch(/folders not compared \(1\)/);
  });
});
