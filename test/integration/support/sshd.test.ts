import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendantPids, isAlive, runCommand, waitFor } from '../../support/process.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { listTree, writeTree } from '../../support/tree.js';

function ssh(server: Sshd, command: string, extraArgs: readonly string[] = server.sshArgs) {
  return runCommand('ssh', [...extraArgs, server.target, command], { allowFailure: true, timeoutMs: 60_000 });
}

describe('sshd on 127.0.0.1 with throwaway keys', () => {
  let server: Sshd;
  let temp: TempDir;

  beforeAll(async () => {
    server = await startSshd();
    temp = await makeTempDir('sshd-test');
  });

  afterAll(async () => {
    await server?.stop();
    await temp?.cleanup();
  });

  it('runs a command as root with the client key', async () => {
    const result = await ssh(server, 'echo ok; id -u');
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('ok\n0\n');
    expect(result.code).toBe(0);
  });

  it('refuses a client without the key', async () => {
    const withoutKey = server.sshArgs.filter((arg, i, all) => arg !== server.clientKeyPath && all[i + 1] !== server.clientKeyPath);
    const result = await ssh(server, 'echo ok', withoutKey);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Permission denied/);
  });

  it('carries an rsync over ssh, modes and mtimes kept', async () => {
    const source = join(temp.path, 'src');
    const target = join(temp.path, 'dst');
    await writeTree(source, {
      'cur/1577934245.M1P1.host:2,S': { content: 'Subject: over ssh\n\nbody\n', mode: 0o600, mtime: 1577934245 },
      'a name with spaces': 'x',
      new: { type: 'dir', mode: 0o700 },
    });
    const result = await runCommand('rsync', ['-a', '-s', '-e', server.rsh, `${source}/`, `${server.target}:${target}/`], {
      allowFailure: true,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const strip = (entries: Awaited<ReturnType<typeof listTree>>) =>
      entries.map(({ path, type, mode, sizeBytes, mtimeMs, sha256 }) => ({ path, type, mode, sizeBytes, sha256, mtimeMs: type === 'file' ? mtimeMs : 0 }));
    expect(strip(await listTree(target, { hash: true }))).toEqual(strip(await listTree(source, { hash: true })));
    expect((await stat(join(target, 'cur/1577934245.M1P1.host:2,S'))).mtimeMs).toBe(1577934245000);
  });

  it('killConnections cuts a running session and keeps the listener', async () => {
    const started = Date.now();
    const child = spawn('ssh', [...server.sshArgs, server.target, 'sleep 30'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // The session exists once the daemon's connection process has forked the remote command.
    await waitFor(
      async () => {
        const pid = server.pid;
        if (pid === undefined) return undefined;
        const tree = descendantPids(pid);
        for (const each of tree) {
          const cmdline = await readFile(`/proc/${each}/cmdline`, 'utf8').catch(() => '');
          if (cmdline.startsWith('sleep\0')) return each;
        }
        return undefined;
      },
      10_000,
      () => 'the remote `sleep 30` never started',
    );
    expect(await server.killConnections()).toBeGreaterThanOrEqual(1);
    expect(await exited).toBe(255);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await ssh(server, 'echo still here')).stdout.toString()).toBe('still here\n');
  });

  it('stopListener makes the target unreachable until startListener, on the same port', async () => {
    const port = server.port;
    await server.stopListener();
    expect(server.isListening).toBe(false);
    const refused = await ssh(server, 'echo ok');
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Connection refused/);
    await server.startListener();
    expect(server.port).toBe(port);
    expect((await ssh(server, 'echo back')).stdout.toString()).toBe('back\n');
  });

  it('restart keeps the host key, so a client that pinned it still connects', async () => {
    const knownHosts = join(temp.path, 'known_hosts');
    const pinned = server.sshArgs.map((arg) => (arg === 'UserKnownHostsFile=/dev/null' ? `UserKnownHostsFile=${knownHosts}` : arg));
    const acceptNew = pinned.map((arg) => (arg === 'StrictHostKeyChecking=no' ? 'StrictHostKeyChecking=accept-new' : arg));
    expect((await ssh(server, 'true', acceptNew)).code).toBe(0);
    await server.restart();
    const strict = pinned.map((arg) => (arg === 'StrictHostKeyChecking=no' ? 'StrictHostKeyChecking=yes' : arg));
    const result = await ssh(server, 'echo same key', strict);
    expect(result.stdout.toString()).toBe('same key\n');
  });

  it('stop leaves no process and no temp dir behind', async () => {
    const other = await startSshd();
    const pid = other.pid!;
    const session = spawn('ssh', [...other.sshArgs, other.target, 'sleep 30'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => session.once('exit', (code) => resolve(code)));
    await waitFor(() => (descendantPids(pid).length >= 2 ? true : undefined), 10_000, () => 'no ssh session');
    const serverSide = descendantPids(pid);
    await other.stop();
    expect(await exited).toBe(255);
    for (const each of [pid, ...serverSide]) expect(isAlive(each)).toBe(false);
    expect(existsSync(other.dir)).toBe(false);
  });
});
