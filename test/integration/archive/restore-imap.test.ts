import path from 'node:path';
import { mkdir, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../../e2e/cli.js';
import { packCpmove, writeCpmoveTree, writeHostileArchive, type CpmoveTree } from '../../support/cpmove.js';
import { writeGeneratedBackup, type GeneratedBackup } from '../../support/cpmove-generated.js';
import { createDoveadm, startImapServer, type Doveadm, type DovecotMessage, type ImapServer, type ImapUser } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

/**
 * `mailshift copy cpmove:BACKUP#local@domain imaps://...`: one mailbox of a backup into an IMAP account on a real
 * Dovecot, streamed: each message appended as the one pass over the backup reaches it; read back by Dovecot, and a
 * second run adds nothing.
 */
let server: ImapServer;
let doveadm: Doveadm;
let work: TempDir;
let tree: CpmoveTree;
let archive: string;

beforeAll(async () => {
  server = await startImapServer({ tls: 'implicit', users: ['alice'] });
  doveadm = await createDoveadm({ separator: '/' });
  work = await makeTempDir('restore-imap', { mode: 0o755 });
  tree = await writeCpmoveTree(path.join(work.path, 'src'));
  archive = path.join(work.path, 'cpmove-bob.tar.gz');
  await packCpmove(tree, archive, { format: 'posix', gzip: true });
  await writeFile(path.join(work.path, 'ca.pem'), server.caCertPem!);
  await writeFile(path.join(work.path, 'password'), `${server.users[0]!.password}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await doveadm?.close();
  await server?.stop();
  await work?.cleanup();
});

describe('mailshift copy BACKUP#mailbox imaps://...', () => {
  it('puts the mailbox into the IMAP account with its flags, keywords and dates, and adds nothing on a second run', async () => {
    const args = [
      'copy',
      `cpmove:${archive}#alice@example.com`,
      `imaps://alice@127.0.0.1:${server.port}`,
      '--ca-file',
      path.join(work.path, 'ca.pem'),
      '--password-file',
      path.join(work.path, 'password'),
      '--state-dir',
      path.join(work.path, 'state'),
      '--json',
    ];
    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    expect((JSON.parse(first.stdout) as { route: { reason: string } }).route.reason).toContain('each message of the mailbox is appended as it passes');
    const summary = (m: { mailbox: string; messageId: string; flags: string[]; keywords: string[]; receivedUnix: number }) =>
      `${m.mailbox} ${m.messageId} ${m.flags.join(',')} ${m.keywords.join(',')} ${m.receivedUnix}`;
    // The backup stores folder names as raw UTF-8 (cPanel's way): read with :UTF-8; the server stores what IMAP made.
    const source = await doveadm.openMaildir(tree.alice);
    const expected = (await doveadm.at(`${source.location}:UTF-8`).readMessages()).map(summary).sort();
    const served = (await (await doveadm.openMaildir(server.users[0]!.maildir)).readMessages()).map(summary).sort();
    expect(served).toEqual(expected);
    expect(served).toHaveLength(7);
    // m2's keyword letter `a` is named by dovecot-keywords, which GNU tar's name order puts after cur/.
    expect(served.filter((line) => line.includes('$Important'))).toEqual([expect.stringContaining('<m2@example.com> \\Flagged,\\Seen $Important')]);
    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    expect((JSON.parse(second.stdout) as { totals: { copied: number; alreadyPresent: number } }).totals).toMatchObject({ copied: 0, alreadyPresent: 7 });
    const dryRun = await runCli([...args, '--dry-run']);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(JSON.parse(dryRun.stdout)).toMatchObject({ dryRun: true, wouldAdd: [], wouldAddUnnamed: 0 });
    // Nothing is staged on disk: the run writes nothing into the state directory.
    expect(await readdir(path.join(work.path, 'state')).catch(() => [])).toEqual([]);
  });

  it('refuses a whole account into one IMAP account, naming what to add', async () => {
    const result = await runCli(['copy', archive, `imaps://alice@127.0.0.1:${server.port}`, '--password-file', path.join(work.path, 'password')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cpmove:ARCHIVE#local@domain');
  });
});

describe('a generated backup streamed into an IMAP account', () => {
  let generated: GeneratedBackup;
  let tarFile: string;
  let gzFile: string;
  const accounts: ImapUser[] = [];

  beforeAll(async () => {
    tarFile = path.join(work.path, 'generated.tar');
    gzFile = path.join(work.path, 'generated.tar.gz');
    generated = await writeGeneratedBackup(tarFile, { count: 3000, workCount: 20, gzip: false });
    await writeGeneratedBackup(gzFile, { count: 3000, workCount: 20, gzip: true });
    // Added up front: a passwd-file user added just before its login is not always known to Dovecot yet.
    for (let i = 1; i <= 8; i += 1) accounts.push(await server.addUser(`gen${i}`));
    await new Promise((resolve) => setTimeout(resolve, 1100));
  });

  /** A fresh account on the server, and the CLI arguments that restore `backup` into it. */
  async function freshAccount(backup: string, ...extra: string[]): Promise<{ user: ImapUser; args: string[] }> {
    const user = accounts.shift()!;
    const passwordFile = path.join(work.path, `${user.user}.password`);
    await writeFile(passwordFile, `${user.password}\n`, { mode: 0o600 });
    const args = ['copy', `cpmove:${backup}#alice@example.com`, `imaps://${user.user}@127.0.0.1:${server.port}`, '--ca-file', path.join(work.path, 'ca.pem'), '--password-file', passwordFile];
    return { user, args: [...args, '--state-dir', path.join(work.path, `${user.user}.state`), '--json', ...extra] };
  }

  /** Message-ID -> copies, per folder, as Dovecot serves them. */
  async function served(user: ImapUser): Promise<{ counts: Map<string, number>; messages: DovecotMessage[] }> {
    const messages = await server.mail(user.user).readMessages();
    const counts = new Map<string, number>();
    for (const m of messages) {
      const id = /^<([^@]+)@/.exec(m.messageId)?.[1] ?? m.messageId;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return { counts, messages };
  }

  function expectExactlyOnce(counts: ReadonlyMap<string, number>): void {
    const differences = [...new Set([...counts.keys(), ...generated.counts.keys()])].filter((id) => counts.get(id) !== generated.counts.get(id));
    expect(differences.map((id) => `${id}: ${counts.get(id) ?? 0} served, ${generated.counts.get(id) ?? 0} in the backup`)).toEqual([]);
  }

  it('appends every message once, counts the identical pair as two, sets late keywords, and a re-run appends nothing', async () => {
    const { user, args } = await freshAccount(gzFile);
    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    expect((JSON.parse(first.stdout) as { totals: { copied: number } }).totals.copied).toBe(generated.messages);
    const { counts, messages } = await served(user);
    expectExactlyOnce(counts);
    expect(counts.get('twin')).toBe(2);
    // INBOX's keywords came after its messages (set by UID STORE after the pass); Work's came before (in the APPEND).
    const important = messages.filter((m) => m.keywords.includes('$Important')).map((m) => /^<([^@]+)@/.exec(m.messageId)![1]).sort();
    expect(important).toEqual([...generated.important].sort());
    expect(messages.filter((m) => m.mailbox === 'Work').every((m) => m.keywords.includes('project') && m.flags.includes('\\Seen'))).toBe(true);
    expect(messages.find((m) => m.messageId === '<g1@example.com>')).toMatchObject({ mailbox: 'INBOX', flags: ['\\Seen'], receivedUnix: 1700000001 });
    const again = await runCli(args);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { totals: { copied: number; alreadyPresent: number } }).totals).toEqual(expect.objectContaining({ copied: 0, alreadyPresent: generated.messages }));
    expectExactlyOnce((await served(user)).counts);
  });

  it('counts without writing in a dry run', async () => {
    const { user, args } = await freshAccount(gzFile, '--dry-run');
    const result = await runCli(args);
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout) as { dryRun: boolean; totals: { copied: number }; wouldAdd: { folder: string; name: string }[]; wouldAddUnnamed: number };
    expect(doc).toMatchObject({ dryRun: true, totals: { copied: generated.messages } });
    // Named, the first thousand, each once; the rest counted.
    expect(doc.wouldAdd).toHaveLength(1000);
    expect(new Set(doc.wouldAdd.map((each) => `${each.folder}/${each.name}`)).size).toBe(1000);
    expect(doc.wouldAdd.length + doc.wouldAddUnnamed).toBe(generated.messages);
    expect((await served(user)).messages).toEqual([]);
  });

  it.each(['SIGKILL', 'SIGINT'] as const)('ends with every message exactly once after a run stopped with %s part way', async (stopSignal) => {
    // Paced, so the kill lands while messages are still going out.
    const { user, args } = await freshAccount(gzFile, '--max-bytes-per-second', '200000');
    const child = spawnCli(args);
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let landed = 0;
    for (let waited = 0; landed === 0 && waited < 30_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      landed = (await readdir(path.join(user.maildir, 'cur')).catch(() => [])).length + (await readdir(path.join(user.maildir, 'new')).catch(() => [])).length;
    }
    child.kill(stopSignal);
    await exited;
    // Killed, or interrupted: Ctrl-C waits for the appends in flight and exits 130.
    if (stopSignal === 'SIGKILL') expect(child.signalCode).toBe('SIGKILL');
    else expect(child.exitCode).toBe(130);
    const part = (await served(user)).messages.length;
    expect(part).toBeGreaterThan(0);
    expect(part).toBeLessThan(generated.messages);
    const resumed = await runCli(args.filter((a, i) => a !== '--max-bytes-per-second' && args[i - 1] !== '--max-bytes-per-second'));
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout) as { totals: { copied: number; alreadyPresent: number } };
    expect(report.totals.copied + report.totals.alreadyPresent).toBe(generated.messages);
    expect(report.totals.alreadyPresent).toBeGreaterThanOrEqual(part);
    expectExactlyOnce((await served(user)).counts);
  });

  it('stops cleanly at --max-bytes and at --account-timeout (exit 75), and the same command then completes it exactly once', async () => {
    const { user, args } = await freshAccount(gzFile);
    const budget = await runCli([...args, '--max-bytes', '200K']);
    expect(budget.code, budget.stderr).toBe(75);
    expect((JSON.parse(budget.stdout) as { stopped: { code: string } }).stopped.code).toBe('MAILSHIFT_BYTE_BUDGET');
    const first = (await served(user)).messages.length;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(generated.messages);
    // What is left is about 340 KB: at 40 KB/s (after the bucket's one second of burst) it needs about 7 s, well over
    // the 2 s limit however quickly the logins go.
    const timedOut = await runCli([...args, '--max-bytes-per-second', '40K', '--account-timeout', '2']);
    expect(timedOut.code, timedOut.stderr).toBe(75);
    expect((JSON.parse(timedOut.stdout) as { stopped: { code: string } }).stopped.code).toBe('MAILSHIFT_TIMEOUT');
    const second = (await served(user)).messages.length;
    expect(second).toBeGreaterThan(first);
    expect(second).toBeLessThan(generated.messages);
    const rest = await runCli(args);
    expect(rest.code, rest.stderr).toBe(0);
    expect((JSON.parse(rest.stdout) as { totals: { alreadyPresent: number } }).totals.alreadyPresent).toBe(second);
    expectExactlyOnce((await served(user)).counts);
  });

  it('stops on a truncated archive with MAILSHIFT_ARCHIVE_CORRUPT, and the intact archive then completes it exactly once', async () => {
    const cut = path.join(work.path, 'generated-cut.tar');
    await writeFile(cut, await readFile(tarFile));
    await truncate(cut, Math.floor((await stat(cut)).size * 0.6));
    const { user, args } = await freshAccount(cut);
    const broken = await runCli(args);
    expect(broken.code).toBe(1);
    expect((JSON.parse(broken.stdout) as { error: { code: string } }).error.code).toBe('MAILSHIFT_ARCHIVE_CORRUPT');
    const part = (await served(user)).messages.length;
    // What was read whole before the damage is on the target.
    expect(part).toBeGreaterThan(1000);
    expect(part).toBeLessThan(generated.messages);
    const whole = await runCli(args.map((a) => (a === `cpmove:${cut}#alice@example.com` ? `cpmove:${tarFile}#alice@example.com` : a)));
    expect(whole.code, whole.stderr).toBe(0);
    expect((JSON.parse(whole.stdout) as { totals: { alreadyPresent: number } }).totals.alreadyPresent).toBe(part);
    expectExactlyOnce((await served(user)).counts);
  });

  it('lists every hostile entry with its reason (exit 3), appends the honest messages, and follows nothing', async () => {
    const outside = path.join(work.path, 'outside');
    await mkdir(outside, { recursive: true });
    const hostile = path.join(work.path, 'hostile.tar');
    await writeHostileArchive(hostile, outside);
    const { user, args } = await freshAccount(hostile);
    const result = await runCli(args);
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as { notRestored: { item: string; reason: string }[]; totals: { copied: number } };
    expect(doc.notRestored.map((s) => s.reason.split(':')[0])).toEqual(
      expect.arrayContaining(['parent-segment', 'parent-segment', 'absolute-path', 'nul-byte', `symlink to ${outside}`, 'tar-unsupported-entry', 'tar-unsupported-entry', 'hardlink-target-missing']),
    );
    expect(doc.notRestored).toHaveLength(8);
    // The honest message, and the one under the symlink's name as a folder of its own (no link was ever made).
    expect((await served(user)).messages.map((m) => `${m.mailbox} ${m.messageId}`).sort()).toEqual(['Evil <evil@example.com>', 'INBOX <ok@example.com>']);
    expect(doc.totals.copied).toBe(2);
    expect(await readdir(outside)).toEqual([]);
  });

  it('reports an mdbox mailbox as not restorable (exit 3) and appends nothing', async () => {
    const { user, args } = await freshAccount(archive);
    const result = await runCli(args.map((a) => (a === `cpmove:${archive}#alice@example.com` ? `cpmove:${archive}#carol@example.com` : a)));
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as { notRestored: { item: string; reason: string }[] };
    expect(doc.notRestored).toEqual([{ item: 'carol@example.com', reason: expect.stringContaining('unsupported-format:mdbox') }]);
    expect((await served(user)).messages).toEqual([]);
  });
});
