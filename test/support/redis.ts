/**
 * Real Redis for tests (Debian's redis-server 7.0): on 127.0.0.1, a free port, persistence off (`--save ''
 * --appendonly no`: a test's queue lives as long as the test), in the foreground as our child so that it is reaped.
 * `restart()` stops it (SIGKILL, as a crash) and starts it again on the same port: with persistence off, everything
 * in it is gone, the hardest case for the campaign's coordinator and workers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './ports.js';
import { registerForExitCleanup, runCommand, signalPid, sleep, unregisterForExitCleanup, waitForExit } from './process.js';
import { makeTempDir, type TempDir } from './tmp.js';

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** Runs redis-cli against it (argv, no shell); stdout as text. */
  cli(...args: string[]): Promise<string>;
  /** Killed (SIGKILL), down for `downMs`, then started again on the same port, empty. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const startAttempts = 5;

export async function startRedis(): Promise<RedisServer> {
  const temp = await makeTempDir('redis');
  for (let attempt = 1; attempt <= startAttempts; attempt++) {
    const port = await freePort();
    const child = await spawnRedis(temp, port);
    if (child) return makeServer(temp, port, child);
  }
  await temp.cleanup();
  throw new Error('redis test server: redis-server did not start (is it installed? bash scripts/install-test-deps.sh)');
}

async function spawnRedis(temp: TempDir, port: number): Promise<ChildProcess | undefined> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', temp.path, '--daemonize', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'ignore'] });
  const pid = child.pid;
  if (pid === undefined) return undefined;
  registerForExitCleanup(pid, () => signalPid(pid, 'SIGKILL'));
  for (let waited = 0; waited < 10_000; waited += 50) {
    if (child.exitCode !== null) break;
    const ping = await runCommand('redis-cli', ['-p', String(port), 'ping'], { allowFailure: true });
    if (ping.stdout.toString().trim() === 'PONG') return child;
    await sleep(50);
  }
  child.kill('SIGKILL');
  await waitForExit(child, 5000);
  unregisterForExitCleanup(pid);
  return undefined;
}

function makeServer(temp: TempDir, port: number, first: ChildProcess): RedisServer {
  let child = first;
  const kill = async (): Promise<void> => {
    const pid = child.pid!;
    child.kill('SIGKILL');
    await waitForExit(child, 5000);
    unregisterForExitCleanup(pid);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async cli(...args) {
      return (await runCommand('redis-cli', ['-p', String(port), ...args])).stdout.toString();
    },
    async restart(downMs = 1000) {
      await kill();
      await sleep(downMs);
      const next = await spawnRedis(temp, port);
      if (!next) throw new Error(`redis test server: could not start again on port ${port}`);
      child = next;
    },
    async stop() {
      await kill();
      await temp.cleanup();
    },
  };
}
