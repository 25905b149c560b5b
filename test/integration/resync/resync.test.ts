import { mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCopy } from '../../../src/engine/tree/run-copy.js';
import type { ResyncReport } from '../../../src/engine/tree/resync/report.js';
import { runResync } from '../../../src/engine/tree/resync/run.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session.js';
import type { SshOptions } from '../../../src/transport/ssh.js';
import { createDoveadm, type Doveadm } from '../../support/dovecot.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { buildSource, deliver, makeFolder, readTree, setFlags } from './scenario.js';

/**
 * Post-cutover catch-up on generated maildirs, with the real rsync (locally and over a real sshd on 127.0.0.1) and a
 * real Dovecot reading the target back: after a copy, the source gets new mail, flag renames, new/ -> cur/ moves, a
 * new folder, a new keyword; the same message lands on both servers; the target gets its own mail and flag changes.
 */

let temp: TempDir;
let sshd: Sshd;
let doveadm: Doveadm;
let sshOptions: SshOptions;
let session: SshSession;

beforeAll(async () => {
  temp = await makeTempDir('resync', { mode: 0o755 });
  sshd = await startSshd();
  doveadm = await createDoveadm({ separator: '/' });
  // One shared connection, as the CLI runs it (withSshSession).
  session = await openSshSession({ keyFile: sshd.clientKeyPath, configFile: '/dev/null', options: ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'LogLevel=ERROR'] });
  sshOptions = session.options;
});

afterAll(async () => {
  await session?.close([{ host: '127.0.0.1', user: 'root', port: sshd.port }]);
  await doveadm?.close();
  await sshd?.stop();
  await temp?.cleanup();
});

interface Scenario {
  readonly src: string;
  readonly dst: string;
  /** Target files that must be left exactly as they were: relative path -> content. */
  readonly targetOnly: Map<string, string>;
  /** Relative paths of target files whose flags the user changed on the target. */
  readonly targetRenamed: string[];
  /** Source files whose flags changed on the source (relative paths after the change). */
  readonly sourceRenamed: string[];
}

let run = 0;

async function prepare(): Promise<Scenario> {
  run += 1;
  const src = path.join(temp.path, `src-${run}`);
  const dst = path.join(temp.path, `dst-${run}`);
  await buildSource(src);
  const copied = await runCopy(parseStoreSpec(src), parseStoreSpec(dst));
  expect(copied.exitCode).toBe(0);

  // The old server keeps receiving and its users keep reading, after the copy.
  for (let i = 0; i < 5; i++) await deliver(src, '', `late-${i}`);
  for (let i = 0; i < 3; i++) await deliver(src, '.Sent', `late-sent-${i}`, { info: 'S' });
  const inboxCur = (await readdir(path.join(src, 'cur'))).filter((n) => n.endsWith(':2,S')).sort();
  const sourceRenamed: string[] = [];
  for (const name of inboxCur.slice(0, 5)) sourceRenamed.push(await setFlags(src, `cur/${name}`, 'FS'));
  const inboxNew = (await readdir(path.join(src, 'new'))).sort();
  for (const name of inboxNew.slice(0, 3)) await setFlags(src, `new/${name}`, 'S');
  await makeFolder(src, '.Archive');
  // The user subscribed to the new folder on the old server (the copy carried the older list to the target).
  await writeFile(path.join(src, 'subscriptions'), 'V\t2\n\nArchive\nSent\nWork\tProjects\n');
  await writeFile(path.join(src, '.Archive', 'dovecot-keywords'), '0 Archived\n');
  for (let i = 0; i < 4; i++) await deliver(src, '.Archive', `archive-${i}`, { info: i === 0 ? 'Sa' : 'S' });
  // A keyword created on the old server after the copy, while the new server gave the same letter to another one.
  await writeFile(path.join(src, 'dovecot-keywords'), '0 $Junk\n1 Important\n2 Later\n');
  await writeFile(path.join(dst, 'dovecot-keywords'), '0 $Junk\n1 Important\n2 NewOnTarget\n');
  await deliver(src, '', 'kw-late', { info: 'Sc' });

  // During the DNS split the same message reached both servers (each added its own Received line).
  await deliver(src, '', 'split-1', { host: 'old.example', received: 'from mx by old.example' });
  const splitOnTarget = await deliver(dst, '', 'split-1', { host: 'new.example', received: 'from mx by new.example' });

  // The new server got its own mail, and its users read some of the copied messages.
  const targetOnly = new Map<string, string>();
  for (const rel of [splitOnTarget, await deliver(dst, '', 'target-only-0', { host: 'new.example' }), await deliver(dst, '', 'target-only-1', { host: 'new.example', info: 'S' })]) {
    targetOnly.set(rel, await readFile(path.join(dst, rel), 'utf8'));
  }
  const targetNew = (await readdir(path.join(dst, 'new'))).filter((n) => !n.includes('new.example')).sort().reverse();
  const targetRenamed = [await setFlags(dst, `new/${targetNew[0]}`, 'RS'), await setFlags(dst, `new/${targetNew[1]}`, 'S')];
  return { src, dst, targetOnly, targetRenamed, sourceRenamed };
}

async function checkTarget(s: Scenario, report: ResyncReport): Promise<void> {
  const source = await readTree(s.src);
  const target = await readTree(s.dst);
  for (const [folder, content] of target) {
    expect(content.duplicateBases, `${folder}: base names twice`).toEqual([]);
    for (const [id, n] of content.byMessageId) expect(n, `${folder}: Message-ID ${id} ${n} times`).toBe(1);
  }
  // Every source message is on the target (by base name, or for the split delivery by Message-ID).
  for (const [folder, content] of source) {
    const there = target.get(folder);
    expect(there, `folder ${folder} on the target`).toBeDefined();
    for (const [base, name] of content.byBase) {
      if (there!.byBase.has(base)) {
        expect(there!.sha256ByBase.get(base), `${folder}/${name}: same bytes`).toBe(content.sha256ByBase.get(base));
      } else {
        expect(name, `${folder}/${name} missing on the target`).toMatch(/old\.example/);
        expect(there!.byMessageId.get('<split-1@mailshift.test>')).toBe(1);
      }
    }
  }
  // Mail only on the target is untouched.
  for (const [rel, text] of s.targetOnly) expect(await readFile(path.join(s.dst, rel), 'utf8')).toBe(text);
  expect(report.exitCode).toBe(0);
}

async function dovecotCounts(dst: string): Promise<Record<string, number>> {
  const status = await (await doveadm.openMaildir(dst)).mailboxStatus();
  return Object.fromEntries(Object.entries(status).map(([name, s]) => [name, s.messages]));
}

// INBOX: 35 copied + 5 late + kw-late + the split message (the target's copy) + 2 target-only; Sent 10 + 3.
const expectedCounts = { INBOX: 44, Sent: 13, 'Work/Projects': 8, Archive: 4 };

describe('resync between local maildirs', () => {
  let s: Scenario;
  beforeEach(async () => {
    s = await prepare();
  });

  it('copies only what the target lacks, skips the split duplicate, keeps target flags, and Dovecot sees every message once', async () => {
    const report = await runResync(parseStoreSpec(s.src), parseStoreSpec(s.dst));
    expect(report.totals).toMatchObject({ copied: 13, duplicatesSkipped: 1, foldersAdded: 1, flagDifferences: 10, flagsApplied: 0 });
    expect(report.sourceChanged).toBe(false);
    await checkTarget(s, report);
    // The target's own flag changes win by default.
    for (const rel of s.targetRenamed) expect(await readFile(path.join(s.dst, rel))).toBeDefined();
    expect(await dovecotCounts(s.dst)).toEqual(expectedCounts);

    // Keywords mean the same on the target: "Later" got a free letter there instead of NewOnTarget's.
    const messages = await (await doveadm.openMaildir(s.dst)).readMessages();
    const byId = new Map(messages.map((m) => [m.messageId, m]));
    expect(byId.get('<kw-late@mailshift.test>')!.keywords).toEqual(['Later']);
    expect(byId.get('<inbox-kw-0@mailshift.test>')!.keywords).toEqual(['Important']);
    expect(byId.get('<archive-0@mailshift.test>')!.keywords).toEqual(['Archived']);
    expect(await readFile(path.join(s.dst, 'dovecot-keywords'), 'utf8')).toBe('0 $Junk\n1 Important\n2 NewOnTarget\n3 Later\n');
    // The new folder is subscribed on the target, as it was on the source.
    expect(report.folders.find((f) => f.folder === 'Archive')).toMatchObject({ added: true, subscribed: true });
    expect(await (await doveadm.openMaildir(s.dst)).listMailboxes()).toContain('Archive');
    expect(await readFile(path.join(s.dst, 'subscriptions'), 'utf8')).toMatch(/^Archive$/m);

    // The target's dovecot-uidlist is the one the copy left; resync never wrote it.
    const second = await runResync(parseStoreSpec(s.src), parseStoreSpec(s.dst));
    expect(second.totals).toMatchObject({ copied: 0, duplicatesSkipped: 1, foldersAdded: 0 });
    expect(second.exitCode).toBe(0);
  });

  it('with --flags=source renames target files to the source flags, never adding a copy', async () => {
    const report = await runResync(parseStoreSpec(s.src), parseStoreSpec(s.dst), { flags: 'source' });
    expect(report.totals.flagsApplied).toBe(10);
    await checkTarget(s, report);
    const target = await readTree(s.dst);
    for (const rel of s.sourceRenamed) expect(target.get('')!.byBase.get(path.basename(rel).split(':')[0]!)).toBe(rel);
    expect(await dovecotCounts(s.dst)).toEqual(expectedCounts);
    const again = await runResync(parseStoreSpec(s.src), parseStoreSpec(s.dst), { flags: 'source' });
    expect(again.totals).toMatchObject({ copied: 0, flagDifferences: 0, flagsApplied: 0 });
  });

  it('exits 5 when mail reaches the source during the run, and the next run picks it up', async () => {
    const report = await runResync(parseStoreSpec(s.src), parseStoreSpec(s.dst), {
      onApplied: async () => {
        await deliver(s.src, '.Sent', 'during-the-run', { info: 'S' });
      },
    });
    expect(report.sourceChanged).toBe(true);
    expect(report.sourceChange).toMatchObject({ added: 1 });
    expect(report.exitCode).toBe(5);
    const next = await runResync(parseStoreSpec(s.src), parseStoreSpec(s.dst));
    expect(next.totals.copied).toBe(1);
    expect(next.exitCode).toBe(0);
  });

  it('--dry-run plans and changes nothing', async () => {
    const before = await readTree(s.dst);
    const report = await runResync(parseStoreSpec(s.src), parseStoreSpec(s.dst), { dryRun: true, flags: 'merge' });
    expect(report.totals).toMatchObject({ copied: 13, duplicatesSkipped: 1, foldersAdded: 1, flagsApplied: 8 });
    const after = await readTree(s.dst);
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [folder, content] of after) expect([...content.byBase]).toEqual([...before.get(folder)!.byBase]);
  });
});

describe('resync over ssh (real sshd on 127.0.0.1)', () => {
  it('to a remote target: the same result as locally', async () => {
    const s = await prepare();
    const report = await runResync(parseStoreSpec(s.src), parseStoreSpec(`ssh://root@127.0.0.1:${sshd.port}${s.dst}`), { ssh: sshOptions, flags: 'merge' });
    // merge: the 8 source-side changes are applied; the 2 target-side ones already hold the union.
    expect(report.totals).toMatchObject({ copied: 13, duplicatesSkipped: 1, foldersAdded: 1, flagDifferences: 10, flagsApplied: 8 });
    await checkTarget(s, report);
    expect(await dovecotCounts(s.dst)).toEqual(expectedCounts);
    const messages = await (await doveadm.openMaildir(s.dst)).readMessages();
    expect(messages.find((m) => m.messageId === '<kw-late@mailshift.test>')!.keywords).toEqual(['Later']);
    expect(await readFile(path.join(s.dst, 'subscriptions'), 'utf8')).toMatch(/^Archive$/m);
  });

  it('from a remote source: Message-IDs read with grep over ssh, nothing installed', async () => {
    const s = await prepare();
    const report = await runResync(parseStoreSpec(`ssh://root@127.0.0.1:${sshd.port}${s.src}`), parseStoreSpec(s.dst), { ssh: sshOptions });
    expect(report.totals).toMatchObject({ copied: 13, duplicatesSkipped: 1, foldersAdded: 1, flagDifferences: 10 });
    await checkTarget(s, report);
    expect(await dovecotCounts(s.dst)).toEqual(expectedCounts);
  });
});

describe('hostile trees', () => {
  for (const remote of [false, true]) {
    it(`never writes through a target folder that is a symlink, and carries shell-syntax names intact${remote ? ' (over ssh)' : ''}`, async () => {
      const s = await prepare();
      const outside = path.join(temp.path, `outside-${run}`);
      await mkdir(path.join(outside, 'cur'), { recursive: true });
      await mkdir(path.join(outside, 'new'), { recursive: true });
      // The target's Sent was replaced by a link to a directory outside the tree.
      await rename(path.join(s.dst, '.Sent'), path.join(s.dst, '.Sent-real'));
      await symlink(outside, path.join(s.dst, '.Sent'));
      const odd = '.a b$(touch pwned)';
      await makeFolder(s.src, odd);
      await deliver(s.src, odd, 'odd-1', { info: 'S' });
      const spaced = await deliver(s.src, '', 'spaced');
      await rename(path.join(s.src, spaced), path.join(s.src, `${spaced} with space`));
      const target = remote ? `ssh://root@127.0.0.1:${sshd.port}${s.dst}` : s.dst;
      const report = await runResync(parseStoreSpec(s.src), parseStoreSpec(target), remote ? { ssh: sshOptions } : {});
      expect(report.skippedFolders.map((f) => f.folder)).toEqual(['Sent']);
      expect(report.exitCode).toBe(3);
      expect(await readdir(path.join(outside, 'cur'))).toEqual([]);
      expect(await readdir(path.join(outside, 'new'))).toEqual([]);
      expect((await readdir(path.join(s.dst, odd, 'cur'))).length).toBe(1);
      expect((await readdir(path.join(s.dst, 'new'))).some((n) => n.endsWith(' with space'))).toBe(true);
      expect(existsSync(path.join(process.cwd(), 'pwned'))).toBe(false);
      expect(existsSync(path.join(s.dst, 'pwned'))).toBe(false);
    });
  }
});
