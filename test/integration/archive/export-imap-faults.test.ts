import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../../e2e/cli.js';
import { startImapServer, type ImapServer } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';
import { startFaultyProxy, type FaultyProxy, type ProxyAction, type ProxyCommand } from '../imap/faulty-proxy.js';

const run = promisify(execFile);

/**
 * `mailshift export imap://...` when the connection breaks while the bodies stream (the fault proxy in front of a
 * real Dovecot cuts the answer to the body fetch): once, the folder is opened again and the export goes on, every
 * message in the archive exactly once; every time, no archive is left under its name, what is missing is listed, and the run ends with 3.
 */
let server: ImapServer;
let work: TempDir;
const proxies: FaultyProxy[] = [];
const count = 40;

const message = (i: number) => `Message-ID: <m${i}@example.com>\nSubject: message ${i}\n\n${'a line of the body\n'.repeat(40)}`;

beforeAll(async () => {
  server = await startImapServer({ tls: 'none', users: ['erin', 'frank'], specialUse: false });
  work = await makeTempDir('export-imap-faults', { mode: 0o755 });
  const erin = server.users[0]!;
  const tree: Record<string, { content: string; mtime: number }> = {};
  for (let i = 0; i < count; i += 1) tree[`cur/${1_700_000_000 + i}.M${i}P1.h,S=${Buffer.byteLength(message(i))}:2,S`] = { content: message(i), mtime: 1_700_000_000 + i };
  await writeTree(erin.maildir, { ...tree, new: { type: 'dir' }, tmp: { type: 'dir' } });
  await server.fixOwnership('erin');
  // Enough mail for an export that takes a while: Ctrl-C arrives in the middle of it.
  const many: Record<string, { content: string; mtime: number }> = {};
  for (let i = 0; i < 3000; i += 1) many[`cur/${1_700_000_000 + i}.M${i}P1.h,S=${Buffer.byteLength(message(i))}:2,S`] = { content: message(i), mtime: 1_700_000_000 + i };
  await writeTree(server.users[1]!.maildir, { ...many, new: { type: 'dir' }, tmp: { type: 'dir' } });
  await server.fixOwnership('frank');
  await writeFile(path.join(work.path, 'frank.password'), `${server.users[1]!.password}\n`, { mode: 0o600 });
  await writeFile(path.join(work.path, 'password'), `${erin.password}\n`, { mode: 0o600 });
});

afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
  await server?.stop();
  await work?.cleanup();
});

const isBodyFetch = (command: ProxyCommand) => command.name === 'UID FETCH' && command.line.includes('BODY.PEEK[]');

async function exportThrough(decide: (command: ProxyCommand) => ProxyAction, name: string) {
  const proxy = await startFaultyProxy(server.port, decide);
  proxies.push(proxy);
  const dir = path.join(work.path, name);
  await mkdir(dir);
  const archive = path.join(dir, 'erin.tar');
  const result = await runCli(['export', `imap://erin@127.0.0.1:${proxy.port}`, archive, '--mailbox', 'erin@example.com', '--password-file', path.join(work.path, 'password'), '--retries', '2', '--retry-delay', '10']);
  return { result, dir, archive };
}

describe('mailshift export of an IMAP account when the connection breaks mid-way', () => {
  it('opens the folder again and goes on: every message in the archive exactly once', async () => {
    let cuts = 0;
    const { result, archive } = await exportThrough((command) => (isBodyFetch(command) && cuts++ === 0 ? { kind: 'drop-after-bytes', bytes: 20_000 } : { kind: 'pass' }), 'once');
    expect(result.code, result.stderr).toBe(0);
    expect(cuts).toBeGreaterThan(1);
    expect(result.stderr).toMatch(/going on in/);
    const names = (await run('tar', ['-tf', archive])).stdout.split('\n').filter((n) => /\/cur\/.+/.test(n));
    expect(names).toHaveLength(count);
    expect(new Set(names).size).toBe(count);
  });

  it('leaves no archive when it keeps breaking, lists what is missing and exits 3', async () => {
    // The first fetch breaks after some messages were written; every later one before its first message.
    let cuts = 0;
    const { result, dir } = await exportThrough((command) => (isBodyFetch(command) ? { kind: 'drop-after-bytes', bytes: cuts++ === 0 ? 20_000 : 1 } : { kind: 'pass' }), 'always');
    expect(result.code, result.stderr).toBe(3);
    expect(await readdir(dir)).toEqual([]);
    expect(result.stderr).toMatch(/could not read imap:\/\/erin@127\.0\.0\.1:\d+ INBOX UID \d+: /);
    expect(result.stderr).toMatch(/could not be read \(listed above\); no archive was written/);
    // Written before the break, not listed; the rest listed, one line each.
    const listed = result.stderr.split('\n').filter((line) => line.includes('could not read')).length;
    expect(listed).toBeGreaterThan(0);
    expect(listed).toBeLessThan(count);
  });

  it('leaves nothing under the archive name when interrupted (Ctrl-C, exit 130)', async () => {
    const dir = path.join(work.path, 'interrupted');
    await mkdir(dir);
    const child = spawnCli(['export', `imap://frank@127.0.0.1:${server.port}`, path.join(dir, 'frank.tar.gz'), '--mailbox', 'frank@example.com', '--password-file', path.join(work.path, 'frank.password')]);
    child.stdin!.end();
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Interrupted once the archive is being written under its temporary name.
    for (let waited = 0; !(await readdir(dir)).some((n) => n.includes('.partial-')); waited += 1) {
      if (waited > 400) throw new Error(`the export did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    child.kill('SIGINT');
    const [code] = (await once(child, 'close')) as [number | null];
    expect(code, stderr).toBe(130);
    expect(await readdir(dir)).toEqual([]);
  });
});
