/**
 * A real OpenSSH server for tests: /usr/sbin/sshd on 127.0.0.1, on a free port, with throwaway host and client
 * ed25519 keys, logging in as root with the client key only. For rsync over ssh and for fault tests (connections
 * cut in the middle of a copy, the server away for a while). See README.md in this directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import {
  childPids,
  descendantPids,
  isAlive,
  registerForExitCleanup,
  runCommand,
  signalPid,
  unregisterForExitCleanup,
  waitForExit,
} from './process.js';
import { makeTempDir } from './tmp.js';

export interface Sshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: 'root';
  /** 'root@127.0.0.1', for `rsync SRC root@127.0.0.1:DST` and `ssh ... root@127.0.0.1 CMD`. */
  readonly target: string;
  readonly clientKeyPath: string;
  /**
   * ssh client options, without the destination: ['-F', '/dev/null', '-p', PORT, '-i', KEY, '-o', ...].
   * `-F /dev/null` keeps the machine's ~/.ssh/config and /etc/ssh/ssh_config out of the tests.
   */
  readonly sshArgs: readonly string[];
  /** The same as one string for `rsync -e` (rsync splits it on spaces; the paths here contain none). */
  readonly rsh: string;
  /** Temp dir with keys, config and sshd.log; removed by stop(). */
  readonly dir: string;
  readonly logPath: string;
  /** Pid of the listening daemon (a new one after startListener/restart); undefined while stopped. */
  readonly pid: number | undefined;
  readonly isListening: boolean;
  /**
   * Kills (SIGKILL) every per-connection sshd and everything it runs, the listener stays: an ssh or rsync in
   * flight sees its connection cut. Returns how many connection processes were killed.
   */
  killConnections(): Promise<number>;
  /**
   * Stops the listener: new connections are refused until startListener(). Open connections are cut too unless
   * keepConnections (then they finish normally; stop() still kills them).
   */
  stopListener(options?: { keepConnections?: boolean }): Promise<void>;
  /** Starts the listener again on the same port with the same keys. */
  startListener(): Promise<void>;
  /** stopListener() then startListener(). */
  restart(): Promise<void>;
  /** Stops everything this server started and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

function buildSshdConfig(dir: string, port: number): string {
  return `${[
    'ListenAddress 127.0.0.1',
    `Port ${port}`,
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'PermitRootLogin prohibit-password',
    // The temp dir is not the user's home; StrictModes would refuse its ownership and modes.
    'StrictModes no',
    // Without PAM no account or session modules run (none are configured for a throwaway daemon).
    'UsePAM no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'PrintMotd no',
    'PrintLastLog no',
    'UseDNS no',
    // Parallel rsync jobs open many connections at once; the default (10:30:100) starts dropping them at 10.
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'LogLevel INFO',
    'Subsystem sftp internal-sftp',
  ].join('\n')}\n`;
}

async function makeKeys(dir: string): Promise<void> {
  await Promise.all(
    ['host_key', 'client_key'].map((name) =>
      runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `mailshift-test-${name}`, '-f', join(dir, name)]),
    ),
  );
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_key.pub')));
}

const listeningLine = /Server listening on 127\.0\.0\.1 port (\d+)/;
const bindFailure = /Bind to port \d+ on 127\.0\.0\.1 failed|Cannot bind any address/;

interface Listener {
  readonly child: ChildProcess;
  readonly pid: number;
}

export async function startSshd(): Promise<Sshd> {
  await removeStalePyenvLock();
  const temp = await makeTempDir('sshd');
  const dir = temp.path;
  const configPath = join(dir, 'sshd_config');
  const logPath = join(dir, 'sshd.log');
  let log: WriteStream | undefined;
  try {
    // sshd refuses to start without its privilege-separation directory.
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    await makeKeys(dir);
    log = createWriteStream(logPath, { flags: 'a' });
    const logStream = log;

    /** One attempt to listen on port; resolves with the listener or a reason it did not start. */
    async function launch(port: number): Promise<Listener | { failure: string; isBindFailure: boolean }> {
      await writeFile(configPath, buildSshdConfig(dir, port));
      const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      const pid = child.pid;
      if (pid === undefined) return { failure: 'sshd did not start (is openssh-server installed?)', isBindFailure: false };
      registerForExitCleanup(pid, () => {
        for (const each of [pid, ...descendantPids(pid)]) signalPid(each, 'SIGKILL');
      });
      let stderr = '';
      const outcome = await new Promise<'ready' | 'failed'>((resolve) => {
        const timer = setTimeout(() => resolve('failed'), 10_000);
        child.stderr?.on('data', (chunk: Buffer) => {
          logStream.write(chunk);
          stderr += chunk.toString('utf8');
          if (listeningLine.test(stderr)) {
            clearTimeout(timer);
            resolve('ready');
          }
        });
        child.once('exit', () => {
          clearTimeout(timer);
          resolve('failed');
        });
        child.once('error', (error) => {
          stderr += String(error);
          clearTimeout(timer);
          resolve('failed');
        });
      });
      if (outcome === 'ready') return { child, pid };
      signalPid(pid, 'SIGKILL');
      await waitForExit(child, 2_000);
      unregisterForExitCleanup(pid);
      return { failure: stderr.trim(), isBindFailure: bindFailure.test(stderr) };
    }

    let port = 0;
    let listener: Listener | undefined;
    let lastFailure = '';
    for (let attempt = 0; attempt < 5 && listener === undefined; attempt += 1) {
      port = await freePort();
      const result = await launch(port);
      if ('pid' in result) listener = result;
      else {
        lastFailure = result.failure;
        if (!result.isBindFailure) break;
      }
    }
    if (listener === undefined) throw new Error(`sshd test server did not start:\n${lastFailure}`);

    // Connections that outlive a stopped listener are re-parented away from it; remember them to kill later.
    const orphans = new Set<number>();
    let stopped: Promise<void> | undefined;

    const connectionPids = (): number[] => (listener === undefined ? [] : childPids(listener.pid));

    async function killTrees(roots: readonly number[]): Promise<void> {
      const victims = roots.flatMap((root) => [root, ...descendantPids(root)]);
      for (const pid of victims) signalPid(pid, 'SIGKILL');
      const deadline = Date.now() + 5_000;
      while (victims.some(isAlive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    }

    async function killConnections(): Promise<number> {
      const roots = [...connectionPids(), ...orphans].filter(isAlive);
      orphans.clear();
      await killTrees(roots);
      await removeStalePyenvLock();
      return roots.length;
    }

    async function stopListener(options: { keepConnections?: boolean } = {}): Promise<void> {
      if (listener === undefined) return;
      const current = listener;
      const connections = connectionPids();
      if (options.keepConnections) for (const pid of connections) orphans.add(pid);
      else await killTrees(connections);
      signalPid(current.pid, 'SIGTERM');
      if (!(await waitForExit(current.child, 5_000))) {
        signalPid(current.pid, 'SIGKILL');
        await waitForExit(current.child, 2_000);
      }
      unregisterForExitCleanup(current.pid);
      listener = undefined;
    }

    async function startListener(): Promise<void> {
      if (listener !== undefined) return;
      // The port was ours a moment ago; sshd sets SO_REUSEADDR, so only another process binding it can stop us.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const result = await launch(port);
        if ('pid' in result) {
          listener = result;
          return;
        }
        if (!result.isBindFailure || Date.now() > deadline) throw new Error(`sshd test server did not restart on port ${port}:\n${result.failure}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    const clientKeyPath = join(dir, 'client_key');
    const sshArgs = [
      '-F', '/dev/null',
      '-p', String(port),
      '-i', clientKeyPath,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'BatchMode=yes',
      '-o', 'LogLevel=ERROR',
      '-o', 'ConnectTimeout=10',
    ];
    return {
      host: '127.0.0.1',
      port,
      user: 'root',
      target: 'root@127.0.0.1',
      clientKeyPath,
      sshArgs,
      rsh: ['ssh', ...sshArgs].join(' '),
      dir,
      logPath,
      get pid() {
        return listener?.pid;
      },
      get isListening() {
        return listener !== undefined;
      },
      killConnections,
      stopListener,
      startListener,
      async restart() {
        await stopListener();
        await startListener();
      },
      stop() {
        stopped ??= (async () => {
          await stopListener();
          await killConnections();
          await new Promise<void>((resolve) => logStream.end(resolve));
          await temp.cleanup();
        })();
        return stopped;
      },
    };
  } catch (error) {
    log?.end();
    await temp.cleanup();
    throw error;
  }
}

/**
 * The remote commands run through root's login shell, and on this machine kind root's ~/.bashrc runs `pyenv init`,
 * whose rehash takes a lock file. A connection killed on purpose (killConnections) can die holding it, and then
 * every later ssh command waits up to a minute for it: tests time out for a reason that is not ours. A lock older
 * than a rehash takes (2 s) is left over by a killed shell; it is removed. Elsewhere the file does not exist.
 */
async function removeStalePyenvLock(): Promise<void> {
  const lock = join(process.env['PYENV_ROOT'] ?? join(homedir(), '.pyenv'), 'shims', '.pyenv-shim');
  const info = await stat(lock).catch(() => undefined);
  if (info && Date.now() - info.mtimeMs > 2_000) await rm(lock, { force: true });
}
