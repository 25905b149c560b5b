import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteState } from '../../../src/campaign/state/sqlite.js';
import type { StageRecord } from '../../../src/campaign/state/types.js';
import { runCli } from '../../e2e/cli.js';
import { editPlanRows, eventsOf, parseEvents } from '../../support/campaign-fleet.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree, type TreeManifest } from '../../support/tree.js';

/**
 * An IMAP campaign of 20 accounts from one Dovecot to another, planned from imapsync's file.txt (passwords moved to
 * the credentials file). One line carries a wrong source password: that account fails at once, for good (no retry
 * within the run), with the server's refusal as its error, while the others finish. One account is read through a
 * slow link and has a time limit of 1 s in the plan: it is cut off (timed-out), resumed by the next runs, and ends
 * with every message once on the target. No password may show up in anything the campaign prints or keeps.
 */
const users = Array.from({ length: 20 }, (_, index) => `user${String(index + 1).padStart(2, '0')}`);
const wrongPasswordUser = 'user07';
const slowUser = 'user13';
const slowMessages = 150;
/** Planned on its own with --max-size in its options column: one of its messages is larger. */
const maxSizeUser = 'whale01';

let temp: TempDir;
let source: ImapServer;
let target: ImapServer;
let slowLink: SlowLink;
const passwords = new Map<string, { source: string; target: string }>([...users, maxSizeUser].map((user) => [user, { source: `src-${randomBytes(9).toString('hex')}`, target: `dst-${randomBytes(9).toString('hex')}` }]));
const wrongPassword = `wrong-${randomBytes(9).toString('hex')}`;

beforeAll(async () => {
  temp = await makeTempDir('campaign-imap', { mode: 0o755 });
  [source, target] = await Promise.all([
    startImapServer({ tls: 'implicit', separator: '.', prefix: 'INBOX.', users: [...users, maxSizeUser].map((user) => ({ user, password: passwords.get(user)!.source })) }),
    startImapServer({ tls: 'implicit', users: [...users, maxSizeUser].map((user) => ({ user, password: passwords.get(user)!.target })) }),
  ]);
  for (const user of users) await seedMailbox(source, user, user === slowUser ? slowMessages : 2 + (users.indexOf(user) % 3));
  // Eight messages of about 2 KB, and in Work one of about 300 KB.
  await seedMailbox(source, maxSizeUser, 8, { largeAt: 7 });
  // About 150 KB of mail at 100 KB/s, after a dozen round trips of 20 ms: well over the 1 s limit, on any machine.
  slowLink = await startSlowLink(source.port, 20, 100_000);
});
afterAll(async () => {
  await slowLink?.close();
  await Promise.all([source?.stop(), target?.stop()]);
  await temp?.cleanup();
});

describe('mailshift campaign between two IMAP servers', () => {
  it('fails the account with a wrong password for good, resumes the one cut off by its time limit, and copies every message once', async () => {
    const caBundle = path.join(temp.path, 'ca.pem');
    await writeFile(caBundle, `${source.caCertPem}\n${target.caCertPem}`);
    const list = path.join(temp.path, 'file.txt');
    await writeFile(
      list,
      users
        .map((user) => {
          // The slow account's source is the same server behind a link that holds back every chunk it sends.
          const host1 = user === slowUser ? `127.0.0.1:${slowLink.port}` : `127.0.0.1:${source.port}`;
          const password1 = user === wrongPasswordUser ? wrongPassword : passwords.get(user)!.source;
          return `${host1};${user};${password1};127.0.0.1:${target.port};${user};${passwords.get(user)!.target};\n`;
        })
        .join(''),
    );
    const plan = path.join(temp.path, 'imap.csv');
    const planned = await runCli(['plan', '--from-imapsync', list, plan]);
    expect(planned.code, planned.stderr).toBe(0);
    await writeFile(plan, editPlanRows(await readFile(plan, 'utf8'), (row) => (row['id'] === slowUser ? { ...row, timeout: '1' } : row)));
    const campaign = ['campaign', plan, '--ca-file', caBundle, '--concurrency', '6', '--per-group', '4', '--retry-delay', '200'];
    const printed: string[] = [planned.stdout, planned.stderr];

    // First run: the wrong password fails (permanent, no retry), the slow account is stopped after 1 s, the rest finish.
    const first = await runCli(['--json', ...campaign]);
    printed.push(first.stdout, first.stderr);
    expect(first.code, first.stderr).toBe(1);
    const events = parseEvents(first.stdout);
    expect(eventsOf(events, 'campaign-end')[0]).toMatchObject({ exitCode: 1, counts: { done: 18, failed: 1, 'timed-out': 1, planned: 0 } });
    const refused = eventsOf(events, 'account-end').find((end) => end.id === wrongPasswordUser)!;
    expect(refused).toMatchObject({ stage: 'prestage', status: 'failed', error: expect.stringMatching(/auth|login|password/i) });
    expect(eventsOf(events, 'account-retry').filter((retry) => retry.id === wrongPasswordUser)).toEqual([]);
    expect(eventsOf(events, 'account-start').filter((start) => start.id === wrongPasswordUser)).toHaveLength(1);
    const cutOff = eventsOf(events, 'account-end').find((end) => end.id === slowUser)!;
    expect(cutOff).toMatchObject({ stage: 'prestage', status: 'timed-out', error: 'stopped after its time limit of 1 s; the next run resumes it' });
    let stages = readStages(plan);
    expect(stageOf(stages, wrongPasswordUser, 'prestage')).toMatchObject({ status: 'failed', failureKind: 'permanent', attempts: 1, lastError: refused.error });
    expect(stageOf(stages, wrongPasswordUser, 'cutover')).toBeUndefined();
    for (const user of users.filter((each) => each !== wrongPasswordUser && each !== slowUser)) expect(stageOf(stages, user, 'verify')?.status, user).toBe('done');
    const copiedBeforeTheCut = (await countByMessageId(target, slowUser)).size;
    expect(copiedBeforeTheCut).toBeLessThan(slowMessages);

    // The admin corrects the password; the slow account keeps its 1 s: cut off again, so another pass is needed (75).
    const credentialsFile = `${plan}.credentials.json`;
    const credentials = await readFile(credentialsFile, 'utf8');
    expect(credentials).toContain(wrongPassword);
    await writeFile(credentialsFile, credentials.replace(wrongPassword, passwords.get(wrongPasswordUser)!.source));
    const second = await runCli(campaign);
    printed.push(second.stdout, second.stderr);
    expect(second.code, second.stderr).toBe(75);
    stages = readStages(plan);
    expect(stageOf(stages, wrongPasswordUser, 'verify')?.status).toBe('done');
    expect(stageOf(stages, slowUser, 'prestage')).toMatchObject({ status: 'timed-out', attempts: 2 });

    // Without the time limit and over a fast link, the next run resumes it to the end.
    await writeFile(plan, editPlanRows(await readFile(plan, 'utf8'), (row) => ({ ...row, timeout: '' })));
    slowLink.fast();
    const third = await runCli(['--json', ...campaign]);
    printed.push(third.stdout, third.stderr);
    expect(third.code, third.stderr).toBe(0);
    const resumed = parseEvents(third.stdout);
    expect(eventsOf(resumed, 'account-start').map((start) => `${start.id} ${start.stage}`)).toEqual([`${slowUser} prestage`, `${slowUser} cutover`, `${slowUser} verify`]);
    expect(eventsOf(resumed, 'campaign-end')[0]).toMatchObject({ exitCode: 0, counts: { done: 20, failed: 0, 'timed-out': 0 } });

    // On the target, counted by Dovecot itself: every source message exactly once, for every account.
    for (const user of users) {
      const want = await countByMessageId(source, user);
      const got = await countByMessageId(target, user);
      expect([...got.values()].filter((count) => count !== 1), `${user}: a message on the target twice`).toEqual([]);
      expect([...got.keys()].sort(), user).toEqual([...want.keys()].sort());
    }
    expect((await countByMessageId(target, slowUser)).size).toBe(slowMessages);

    // No password anywhere: not in what the campaign printed, not in its logs, state database, sync state or report.
    const kept = await readEveryFile(path.join(temp.path, 'imap.campaign'));
    expect(kept.map((file) => path.relative(path.join(temp.path, 'imap.campaign'), file.path))).toEqual(
      expect.arrayContaining(['campaign.sqlite', `logs/${slowUser}.log`, `logs/${wrongPasswordUser}.log`, 'report/report.json', 'report/accounts.csv', 'report/report.html']),
    );
    const secrets = [wrongPassword, ...[...passwords.values()].flatMap((each) => [each.source, each.target])];
    for (const secret of secrets) {
      for (const [at, text] of printed.entries()) expect(text.includes(secret), `output ${at}`).toBe(false);
      for (const file of kept) expect(file.bytes.includes(secret), file.path).toBe(false);
      expect((await readFile(plan, 'utf8')).includes(secret)).toBe(false);
    }
  }, 600_000);
});

describe('mailshift campaign with --max-size in a row\'s options', () => {
  it('ends the account complete with exceptions: the message the copy skipped is listed with its reason, not failed as missing', async () => {
    const caBundle = path.join(temp.path, 'ca-whale.pem');
    await writeFile(caBundle, `${source.caCertPem}\n${target.caCertPem}`);
    const list = path.join(temp.path, 'whale.txt');
    await writeFile(list, `127.0.0.1:${source.port};${maxSizeUser};${passwords.get(maxSizeUser)!.source};127.0.0.1:${target.port};${maxSizeUser};${passwords.get(maxSizeUser)!.target};\n`);
    const plan = path.join(temp.path, 'whale.csv');
    expect((await runCli(['plan', '--from-imapsync', list, plan])).code).toBe(0);
    await writeFile(plan, editPlanRows(await readFile(plan, 'utf8'), (row) => ({ ...row, options: '--max-size 100K' })));
    const run = await runCli(['--json', 'campaign', plan, '--ca-file', caBundle]);
    expect(run.code, run.stderr).toBe(3);
    expect(eventsOf(parseEvents(run.stdout), 'campaign-end')[0]).toMatchObject({ exitCode: 3, counts: { 'done-with-skips': 1, failed: 0 } });
    const stages = readStages(plan);
    expect(stageOf(stages, maxSizeUser, 'verify')).toMatchObject({ status: 'done-with-skips' });
    const report = JSON.parse(await readFile(path.join(temp.path, 'whale.campaign', 'report', 'report.json'), 'utf8')) as { accounts: { id: string; verdict: string }[] };
    expect(report.accounts.map((account) => [account.id, account.verdict])).toEqual([[maxSizeUser, 'complete-with-exceptions']]);
    expect(await readFile(path.join(temp.path, 'whale.campaign', 'report', 'report.html'), 'utf8')).toMatch(/larger than --max-size/);
    // On the target: the seven small messages, each once; the large one not.
    const got = await countByMessageId(target, maxSizeUser);
    expect(got.size).toBe(7);
    expect([...got.values()].every((count) => count === 1)).toBe(true);
    expect([...got.keys()].some((key) => key.includes(`${maxSizeUser}-7@`))).toBe(false);
  }, 300_000);
});

describe('mailshift campaign with a cPanel backup restored into an IMAP account', () => {
  it('verifies by a dry run of the restore and names the message missing on the target, then passes once it is restored again', async () => {
    const mailbox = path.join(temp.path, 'backup-source');
    const names = [1, 2, 3].map((n) => `170000000${n}.M${n}P1.host,S=${100 + n}:2,S`);
    const manifest: Record<string, TreeManifest[string]> = { new: { type: 'dir' }, tmp: { type: 'dir' } };
    names.forEach((name, i) => {
      manifest[`cur/${name}`] = { content: `Message-ID: <backup-${i + 1}@example.org>\nFrom: a@example.org\nSubject: backup ${i + 1}\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n\nbody ${i + 1}\n`, mtime: 1_700_000_001 + i };
    });
    await writeTree(mailbox, manifest);
    const backup = path.join(temp.path, 'cpmove-bob.tar.gz');
    const exported = await runCli(['export', mailbox, backup, '--mailbox', 'alice@example.com', '--user', 'bob']);
    expect(exported.code, exported.stderr).toBe(0);
    const user = await target.addUser('restored01');
    // A passwd-file user added just before its login is not always known to Dovecot yet.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const plan = path.join(temp.path, 'backup.csv');
    await writeFile(plan, `id,source,target,target_credential\nrestored01,cpmove:${backup}#alice@example.com,imaps://restored01@127.0.0.1:${target.port},restored01\n`);
    await writeFile(`${plan}.credentials.json`, JSON.stringify({ version: 1, credentials: { restored01: user.password } }), { mode: 0o600 });
    const caFile = path.join(temp.path, 'ca-backup.pem');
    await writeFile(caFile, target.caCertPem!);
    const run = await runCli(['campaign', plan, '--ca-file', caFile]);
    expect(run.code, run.stderr).toBe(0);
    expect((await target.mail('restored01').readMessages()).map((m) => m.messageId).sort()).toEqual(['<backup-1@example.org>', '<backup-2@example.org>', '<backup-3@example.org>']);

    // Message 2 goes missing on the target: verify names it, by the backup's folder and file name.
    const held = await readdir(path.join(user.maildir, 'cur'));
    const gone = [];
    for (const file of held) if ((await readFile(path.join(user.maildir, 'cur', file), 'utf8')).includes('<backup-2@example.org>')) gone.push(file);
    expect(gone).toHaveLength(1);
    await rm(path.join(user.maildir, 'cur', gone[0]!));
    const verify = await runCli(['campaign', plan, '--stage', 'verify', '--force', '--ca-file', caFile]);
    expect(verify.code).toBe(1);
    const report = await readFile(path.join(temp.path, 'backup.campaign', 'report', 'report.json'), 'utf8');
    expect(report).toContain(`INBOX ${names[1]!.split(':')[0]}`);
    expect(report).toContain('missing on the target');
    expect(report).not.toContain(names[0]!.split(':')[0]);
    expect((await runCli(['campaign', plan, '--stage', 'prestage', '--force', '--ca-file', caFile])).code).toBe(0);
    const again = await runCli(['campaign', plan, '--stage', 'verify', '--force', '--ca-file', caFile]);
    expect(again.code, again.stderr).toBe(0);
    expect(await target.mail('restored01').readMessages()).toHaveLength(3);
  }, 120_000);
});

function readStages(plan: string): StageRecord[] {
  const state = openSqliteState(path.join(plan.replace(/\.csv$/, '.campaign'), 'campaign.sqlite'), { readOnly: true });
  try {
    return state.listStages();
  } finally {
    state.close();
  }
}

function stageOf(stages: readonly StageRecord[], id: string, stage: StageRecord['stage']): StageRecord | undefined {
  return stages.find((each) => each.accountId === id && each.stage === stage);
}

/** INBOX and Work, each message with its own Message-ID, written into the user's Maildir as a delivery would. */
async function seedMailbox(server: ImapServer, user: string, count: number, options: { largeAt?: number } = {}): Promise<void> {
  const account = server.users.find((each) => each.user === user)!;
  const manifest: Record<string, TreeManifest[string]> = { '.Work/cur': { type: 'dir' }, '.Work/new': { type: 'dir' }, '.Work/tmp': { type: 'dir' }, '.Work/maildirfolder': '' };
  const filler = 'Some text of a message body that fills a line.\n'.repeat(40);
  for (let i = 0; i < count; i++) {
    const folder = i % 4 === 3 ? '.Work/' : '';
    const body = `Message-ID: <${user}-${i}@example.org>\nFrom: someone@example.org\nTo: ${user}@example.com\nSubject: ${user} ${i}\nDate: Tue, 2 Jan 2024 10:00:00 +0000\n\n${i === options.largeAt ? filler.repeat(150) : filler}`;
    manifest[`${folder}cur/${1_700_000_000 + i}.M${i}P1.seed:2,${i % 2 === 0 ? 'S' : ''}`] = { content: body, mtime: 1_700_000_000 + i };
  }
  await writeTree(account.maildir, manifest);
  await server.fixOwnership(user);
}

/** How often each Message-ID is in the user's mailboxes (folder and id), read by doveadm. */
async function countByMessageId(server: ImapServer, user: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const message of await server.mail(user).readMessages()) {
    const key = `${message.mailbox.replace(/^INBOX\./, '')}|${message.messageId}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

async function readEveryFile(dir: string): Promise<{ path: string; bytes: Buffer }[]> {
  const files: { path: string; bytes: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      const full = path.join(entry.parentPath, entry.name);
      files.push({ path: full, bytes: await readFile(full) });
    }
  }
  return files;
}

/**
 * A TCP relay on 127.0.0.1 that delivers what the server sends slowly (in order): each chunk waits `latencyMs` plus
 * its size at `bytesPerSecond`. A slow link to the source, so that an account takes longer than its time limit however
 * fast the machine is; `fast()` lifts it. TLS passes through untouched (the certificate names 127.0.0.1, as the relay).
 */
interface SlowLink {
  readonly port: number;
  fast(): void;
  close(): Promise<void>;
}

async function startSlowLink(upstreamPort: number, latencyMs: number, bytesPerSecond: number): Promise<SlowLink> {
  const sockets = new Set<Socket>();
  let isFast = false;
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort });
    sockets.add(client).add(upstream);
    let queue = Promise.resolve();
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end);
    // What the server said before it closed still reaches the client, then the client's side closes.
    upstream.on('close', () => void queue.then(() => client.end()));
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      queue = queue.then(async () => {
        if (!isFast) await new Promise((resolve) => setTimeout(resolve, latencyMs + (chunk.length * 1000) / bytesPerSecond));
        if (!client.destroyed) client.write(chunk);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    fast: () => (isFast = true),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
