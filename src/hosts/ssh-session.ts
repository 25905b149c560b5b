import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { buildSshCommand, type SshEndpoint, type SshOptions } from '../transport/ssh.js';

/**
 * One shared ssh connection per host for a whole run (OpenSSH ControlMaster). The first ssh (an rsync, a find)
 * becomes the master; the others ride on it without logging in again. `close` stops the masters, so nothing is
 * left running after mailshift exits. A dropped master takes its riders with it; they fail like any dropped
 * connection and are retried, and the retry starts a new master.
 */
export interface SshSession {
  readonly options: SshOptions;
  close(endpoints: readonly SshEndpoint[]): Promise<void>;
}

export async function openSshSession(options: SshOptions): Promise<SshSession> {
  // Unix socket paths are limited to about 100 bytes: a short directory under the system temp dir.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ms-ssh-'));
  // %C is ssh's hash of (local host, remote host, port, user): one socket per destination.
  const controlPath = path.join(dir, '%C');
  const withControl: SshOptions = { ...options, controlPath };
  return {
    options: withControl,
    async close(endpoints) {
      for (const endpoint of endpoints) {
        const argv = buildSshCommand(withControl, endpoint.port);
        if (endpoint.user !== undefined) argv.push('-l', endpoint.user);
        argv.push('-O', 'exit', '--', endpoint.host);
        await execa(argv[0]!, argv.slice(1), { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', timeout: 10_000 });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
