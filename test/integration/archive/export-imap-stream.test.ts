import { execFile } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUidlist } from '../../../converters/maildir/uidlist.js';
import { runCli } from '../../e2e/cli.js';
import { createDoveadm, listUidsAndFlags, startImapServer, type Doveadm, type DovecotMessage, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';

const run = promisify(execFile);

/**
 * `mailshift export imaps://...` streams the account into the archive (archive/export-store.ts): a real Dovecot
 * account with nested and UTF-8 folders, flags, keywords, identical messages and UIDs of its own is exported; GNU tar
 * lists and extracts the archive; a restore into a maildir verifies against the account (verify exits 0) with the
 * same UIDs and received dates; nothing but the archive ever appears beside it; a message the server cannot serve
 * leaves no archive and is named.
 */
let server: ImapServer;
let doveadm: Doveadm;
let work: TempDir;

const message = (id: string) => `Message-ID: <${id}@example.com>\nFrom: a@example.com\nSubject: ${id} caf\u00e9\n\nbody of ${id}\n`;
/** A maildir name whose S= is the file's size, which Dovecot checks. */
const named = (base: string, id: string, info?: string) => `${base},S=${Buffer.byteLength(message(id))}${info === undefined ? '' : `:2,${info}`}`;
/** Received dates of the fixture: seconds, as IMAP's INTERNALDATE has them. */
const at = (n: number) => 1_650_000_000 + n * 3_600;

/** The INBOX UIDs Dovecot serves, set by the fixture's own dovecot-uidlist: a restore must keep them. */
const inboxUids = [7, 12, 13, 20, 21, 22];
const inboxFiles = [
  { base: '1650000001.M1P1.h', id: 'i1', info: 'S' },
  { base: '1650000002.M2P1.h', id: 'i2', info: 'RSab' },
  { base: '1650000003.M3P1.h', id: 'i3', info: undefined },
  { base: '1650000004.M4P1.h', id: 'dup', info: 'S' },
  { base: '1650000005.M5P1.h', id: 'dup', info: 'S' },
  { base: '1650000006.M6P1.h', id: 'dup', info: 'S' },
];

async function writeAccount(maildir: string): Promise<void> {
  const tree: Record<string, Parameters<typeof writeTree>[1][string]> = {
    tmp: { type: 'dir' },
    'dovecot-keywords': '0 Important\n1 $Work\n',
    'dovecot-uidlist': `3 V1500000000 N40\n${inboxFiles.map((f, i) => `${inboxUids[i]} :${named(f.base, f.id)}`).join('\n')}\n`,
  };
  inboxFiles.forEach((f, i) => {
    tree[`${f.info === undefined ? 'new' : 'cur'}/${named(f.base, f.id, f.info)}`] = { content: message(f.id), mtime: at(i) };
  });
  const folder = (dir: string, files: Record<string, { id: string; info: string; n: number }>, keywords?: string) => {
    for (const [base, f] of Object.entries(files)) tree[`${dir}/cur/${named(base, f.id, f.info)}`] = { content: message(f.id), mtime: at(f.n) };
    tree[`${dir}/new`] = { type: 'dir' };
    tree[`${dir}/tmp`] = { type: 'dir' };
    tree[`${dir}/maildirfolder`] = '';
    if (keywords) tree[`${dir}/dovecot-keywords`] = keywords;
  };
  folder('.Sent', { '1650000010.M10P1.h': { id: 's1', info: 'FS', n: 10 } });
  folder('.Work.Projects', { '1650000011.M11P1.h': { id: 'w1', info: 'Sa', n: 11 } }, '0 Urgent\n');
  // "Café/Résumé" as Dovecot keeps it on disk (modified UTF-7).
  folder('.Caf&AOk-.R&AOk-sum&AOk-', { '1650000012.M12P1.h': { id: 'c1', info: 'S', n: 12 } });
  await writeTree(maildir, tree);
}

beforeAll(async () => {
  server = await startImapServer({ tls: 'implicit', users: ['carol', 'dave'] });
  doveadm = await createDoveadm({ separator: '/' });
  work = await makeTempDir('export-imap-stream', { mode: 0o755 });
  for (const user of server.users) {
    await writeAccount(user.maildir);
    await server.fixOwnership(user.user);
    await writeFile(path.join(work.path, `${user.user}.password`), `${user.password}\n`, { mode: 0o600 });
  }
  await writeFile(path.join(work.path, 'ca.pem'), server.caCertPem!);
});

afterAll(async () => {
  await doveadm?.close();
  await server?.stop();
  await work?.cleanup();
});

const auth = (user: string) => ['--ca-file', path.join(work.path, 'ca.pem'), '--password-file', path.join(work.path, `${user}.password`)];
const account = (user: string) => `imaps://${user}@127.0.0.1:${server.port}`;
const summary = (m: DovecotMessage) => `${m.mailbox} ${m.messageId} ${m.flags.join(',')} ${m.keywords.join(',')} ${m.receivedUnix}`;

/** Every name that appears in `dir` while `action` runs (fs.watch), and what the directory holds afterwards. */
async function watchDirectory<T>(dir: string, action: () => Promise<T>): Promise<{ result: T; seen: Set<string>; after: string[] }> {
  const seen = new Set<string>();
  const watcher: FSWatcher = watch(dir, (_event, name) => {
    if (name) seen.add(name.toString());
  });
  try {
    const result = await action();
    return { result, seen, after: (await readdir(dir)).sort() };
  } finally {
    watcher.close();
  }
}

describe('mailshift export of an IMAP account, streamed', () => {
  let archiveDir: string;
  let archive: string;
  let watched: { seen: Set<string>; after: string[] };
  let exported: { code: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    archiveDir = path.join(work.path, 'out');
    await mkdir(archiveDir);
    archive = path.join(archiveDir, 'carol.tar.gz');
    const { result, ...rest } = await watchDirectory(archiveDir, () => runCli(['export', account('carol'), archive, '--mailbox', 'carol@example.com', '--user', 'bob', '--json', ...auth('carol')]));
    exported = result;
    watched = rest;
  });

  it('exits 0 with the --json document copy and export have always printed', () => {
    expect(exported.code, exported.stderr).toBe(0);
    const doc = JSON.parse(exported.stdout) as Record<string, unknown>;
    expect(Object.keys(doc).sort()).toEqual(['archive', 'bytes', 'command', 'exitCode', 'files', 'links', 'ok', 'skipped', 'source'].sort());
    expect(doc).toMatchObject({ ok: true, command: 'export', archive, links: 0, skipped: [], exitCode: 0 });
    // 9 messages, 5 uidlists, 2 keyword files, 4 maildirfolder files (Sent, Work/Projects, Café/Résumé and the
    // server's own Drafts, Junk, Trash make 6, plus Work and Café as parents are no folders), subscriptions.
    expect(doc['files']).toBeGreaterThanOrEqual(9 + 4 + 2 + 1);
  });

  it('never creates a staging directory beside the archive: only the archive and its temporary name appear', () => {
    expect(watched.after).toEqual(['carol.tar.gz']);
    // The watcher saw the run (the temporary name), so what it did not see was not there.
    expect([...watched.seen].some((name) => name.includes('.partial-'))).toBe(true);
    for (const name of watched.seen) expect(name).toMatch(/^carol\.tar\.gz(\.partial-\d+)?$/);
  });

  it('is listed and extracted by GNU tar, with UTF-8-free maildir++ names and the received dates as mtimes', async () => {
    const { stdout: listing } = await run('tar', ['-tzf', archive]);
    const names = listing.split('\n').filter(Boolean);
    const box = 'cpmove-bob/homedir/mail/example.com/carol';
    for (const dir of ['', '/.Sent', '/.Work.Projects', '/.Caf&AOk-.R&AOk-sum&AOk-']) {
      expect(names).toContain(`${box}${dir}/cur/`);
      expect(names.some((n) => n.startsWith(`${box}${dir}/cur/`) && n.length > `${box}${dir}/cur/`.length)).toBe(true);
    }
    expect(names).toContain(`${box}/dovecot-uidlist`);
    expect(names).toContain(`${box}/dovecot-keywords`);
    expect(names).toContain(`${box}/.Work.Projects/dovecot-keywords`);
    expect(names).toContain(`${box}/subscriptions`);
    expect(names.filter((n) => n.startsWith(`${box}/cur/`) && !n.endsWith('/'))).toHaveLength(6);
    const extracted = path.join(work.path, 'extracted');
    await mkdir(extracted);
    await run('tar', ['-xzf', archive, '-C', extracted]);
    const cur = path.join(extracted, box, 'cur');
    const files = await readdir(cur);
    const i2 = files.find((n) => n.endsWith(':2,RSab'));
    expect(i2, files.join(' ')).toBeDefined();
    // LF line ends, as a maildir keeps them (IMAP sent CRLF).
    expect(await readFile(path.join(cur, i2!), 'utf8')).toBe(message('i2'));
    expect((await stat(path.join(cur, i2!))).mtimeMs / 1000).toBe(at(1));
  });

  describe('restored into a maildir', () => {
    let restored: string;
    beforeAll(async () => {
      restored = path.join(work.path, 'restored');
      const copied = await runCli(['copy', `cpmove:${archive}#carol@example.com`, restored]);
      expect(copied.code, copied.stderr).toBe(0);
    });

    it('verifies against the IMAP account: the same messages, identical ones counted (verify exits 0)', async () => {
      const verified = await runCli(['verify', account('carol'), restored, ...auth('carol')]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      const source = await (await doveadm.openMaildir(server.users[0]!.maildir)).readMessages();
      const back = await (await doveadm.openMaildir(restored)).readMessages();
      expect(back.map(summary).sort()).toEqual(source.map(summary).sort());
      expect(back.filter((m) => m.messageId === '<dup@example.com>')).toHaveLength(3);
    });

    it("keeps the account's UIDVALIDITY and UIDs in dovecot-uidlist, and its received dates as mtimes", async () => {
      const uidlist = parseUidlist(await readFile(path.join(restored, 'dovecot-uidlist'), 'utf8'));
      expect(uidlist.uidValidity).toBe(1500000000);
      expect(uidlist.records.map((r) => r.uid).sort((a, b) => a - b)).toEqual(inboxUids);
      const source = await (await doveadm.openMaildir(server.users[0]!.maildir)).readMessages();
      const back = await (await doveadm.openMaildir(restored)).readMessages();
      for (const mailbox of ['INBOX', 'Sent', 'Work/Projects', 'Café/Résumé']) expect(listUidsAndFlags(back, mailbox)).toEqual(listUidsAndFlags(source, mailbox));
      const mtimes = await Promise.all((await readdir(path.join(restored, 'cur'))).map(async (n) => (await stat(path.join(restored, 'cur', n))).mtimeMs / 1000));
      expect(mtimes.sort()).toEqual(inboxFiles.map((_f, i) => at(i)).sort());
    });
  });

  it('writes no archive when the server cannot serve a message, and names it with the reason (exit 3)', async () => {
    const dave = server.users.find((u) => u.user === 'dave')!;
    const sentCur = path.join(dave.maildir, '.Sent', 'cur');
    const listed = (await readdir(sentCur))[0]!;
    // With its RFC822.SIZE in the name (W=), Dovecot lists the message without opening it; it reads mail as an
    // unprivileged user, so a file it cannot open is a message it lists and cannot serve.
    const content = await readFile(path.join(sentCur, listed));
    const broken = listed.replace(':2,', `,W=${content.length + content.filter((b) => b === 0x0a).length}:2,`);
    await rename(path.join(sentCur, listed), path.join(sentCur, broken));
    await chmod(path.join(sentCur, broken), 0o000);
    const dir = path.join(work.path, 'out-broken');
    await mkdir(dir);
    const target = path.join(dir, 'dave.tar');
    const { result, after } = await watchDirectory(dir, () => runCli(['export', account('dave'), target, '--mailbox', 'dave@example.com', '--retries', '1', '--retry-delay', '10', '--json', ...auth('dave')]));
    expect(result.code, result.stderr).toBe(3);
    expect(after).toEqual([]);
    expect(result.stderr).toMatch(/could not read imaps:\/\/dave@127\.0\.0\.1:\d+ Sent UID \d+: /);
    expect(result.stderr).toMatch(/1 message\(s\) or folder\(s\) could not be read \(listed above\); no archive was written/);
    expect(result.stderr).not.toContain(dave.password);
    const doc = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; skipped: { item: string; reason: string }[] } };
    expect(doc.ok).toBe(false);
    expect(doc.error.code).toBe('MAILSHIFT_EXPORT_INCOMPLETE');
    expect(doc.error.skipped).toHaveLength(1);
    expect(doc.error.skipped[0]!.item).toMatch(/ Sent UID \d+$/);
    await chmod(path.join(sentCur, broken), 0o600);
  });
});
