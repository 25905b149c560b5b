/**
 * Real Redis for tests (Debian's redis-server 7.0): on 127.0.0.1, a free port, in the foreground as our child so that
 * it is reaped. Persistence off by default (`--save '' --appendonly no`: a test's queue lives as long as the test);
 * `persistent: true` gives it an append-only file synced at every write, as production runs it, so that `restart()`
 * (SIGTERM, then started again on the same port) keeps the queue. Without it, a restart empties Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './ports.js';
import { registerForExitCleanup, runCommand, signalPid, sleep, unregisterForExitCleanup, waitForExit } from './process.js';
import { makeTempDir, type TempDir } from './tmp.js';

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** Runs redis-cli against it (argv, no shell); stdout as text. */
  cli(...args: string[]): Promise<string>;
  /** Stopped (SIGTERM), down for `downMs`, then started again on the same port (empty unless persistent). */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const startAttempts = 5;

export interface RedisServerOptions {
  readonly persistent?: boolean;
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const temp = await makeTempDir('redis');
  for (let attempt = 1; attempt <= startAttempts; attempt++) {
    const port = await freePort();
    const child = await spawnRedis(temp, port, options);
    if (child) return makeServer(temp, port, child, options);
  }
  await temp.cleanup();
  throw new Error('redis test server: redis-server did not start (is it installed? bash scripts/install-test-deps.sh)');
}

async function spawnRedis(temp: TempDir, port: number, options: RedisServerOptions): Promise<ChildProcess | undefined> {
  const persistence = options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', temp.path, '--daemonize', 'no', '--loglevel', 'warning'];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'ignore'] });
  const pid = child.pid;
  if (pid === undefined) return undefined;
  registerForExitCleanup(pid, () => signalPid(pid, 'SIGKILL'));
  for (let waited = 0; waited < 10_000; waited += 20) {
    if (child.exitCode !== null) break;
    if (await answersPing(port)) return child;
    await sleep(20);
  }
  child.kill('SIGKILL');
  await waitForExit(child, 5000);
  unregisterForExitCleanup(pid);
  return undefined;
}

/** PING over a socket, not by starting redis-cli: on a loaded machine a process start costs more than Redis's own start-up. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}

function makeServer(temp: TempDir, port: number, first: ChildProcess, options: RedisServerOptions): RedisServer {
  let child = first;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const pid = child.pid!;
    child.kill(signal);
    if (!(await waitForExit(child, 10_000))) child.kill('SIGKILL');
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
      await kill('SIGTERM');
      await sleep(downMs);
      const next = await spawnRedis(temp, port, options);
      if (!next) throw new Error(`redis test server: could not start again on port ${port}`);
      child = next;
    },
    async stop() {
      await kill();
      await temp.cleanup();
    },
  };
}
