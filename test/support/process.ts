import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface CommandOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Written to stdin, then stdin is closed. Without it stdin is /dev/null (CI has no terminal). */
  readonly input?: string | Buffer;
  /** Resolve with the result instead of throwing when the command exits non-zero. */
  readonly allowFailure?: boolean;
  readonly timeoutMs?: number;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly result: CommandResult,
  ) {
    super(message);
  }
}

/** Runs a program with an argv array (never a shell) and collects its output. */
export function runCommand(command: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    if (options.input !== undefined) child.stdin?.end(options.input);
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.once('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const result: CommandResult = { code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') };
      if (code === 0 || options.allowFailure) {
        resolve(result);
        return;
      }
      const shown = [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
      const why = signal ? `killed by ${signal}` : `exit ${String(code)}`;
      reject(new CommandError(`${shown}: ${why}\n${result.stderr.trim()}`, result));
    });
  });
}

/** Resolves when the child has exited; false when it was still running after timeoutMs. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * True while the process exists and is not a zombie. A killed process whose parent died stays a zombie until
 * pid 1 reaps it, which on some machines (a VM's minimal init) takes a second or more: it is dead to us.
 */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Sends a signal and ignores "no such process" (it may have exited on its own). */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Parent pid of every process, read from /proc (Linux only). reaper.mjs has a twin: it runs as plain JS. */
function readParentPids(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name (field 2) is in parentheses and may contain spaces or ')': parse after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(rest[1]));
    } catch {
      // The process exited while we were reading.
    }
  }
  return parents;
}

/** Direct children of pid. */
export function childPids(pid: number): number[] {
  return [...readParentPids()].filter(([, parent]) => parent === pid).map(([child]) => child);
}

/** Every descendant of pid (children, grandchildren, ...), parents before children. */
export function descendantPids(pid: number): number[] {
  const parents = readParentPids();
  const result: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const [child, parent] of parents) {
      if (parent === current) {
        result.push(child);
        queue.push(child);
      }
    }
  }
  return result;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check() returns a value other than undefined, or throws describe() after timeoutMs. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delayMs = 10; ; delayMs = Math.min(delayMs * 2, 200)) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(describe());
    await sleep(delayMs);
  }
}

// Cleanup at exit, in two layers. The 'exit' hook kills registered servers at once when the test process ends
// normally. The reaper (reaper.mjs, a detached child reading our registrations on a pipe) catches the rest: when
// vitest kills a worker on a timeout, or a signal ends it, the pipe closes and the reaper kills the servers'
// process trees and removes registered temp dirs. Nothing is found by name: only pids and paths registered here.
const liveServers = new Map<number, () => void>();
let exitHookInstalled = false;
let reaper: ChildProcess | undefined;

function tellReaper(line: string): void {
  if (reaper === undefined) {
    reaper = spawn(process.execPath, [fileURLToPath(new URL('./reaper.mjs', import.meta.url))], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: process.env,
    });
    reaper.unref();
    // The pipe must not keep the test process alive either.
    (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    reaper.stdin?.on('error', () => {});
  }
  reaper.stdin?.write(`${line}\n`);
}

export function registerForExitCleanup(pid: number, killNow: () => void): void {
  liveServers.set(pid, killNow);
  tellReaper(`pid ${pid}`);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const kill of liveServers.values()) {
      try {
        kill();
      } catch {
        // Exiting anyway.
      }
    }
  });
}

export function unregisterForExitCleanup(pid: number): void {
  liveServers.delete(pid);
  tellReaper(`unpid ${pid}`);
}

/** Temp dirs the reaper removes if the test process dies before their cleanup ran. */
export function registerDirForExitCleanup(path: string): void {
  if (!/[\n]/.test(path)) tellReaper(`dir ${path}`);
}

export function unregisterDirForExitCleanup(path: string): void {
  if (!/[\n]/.test(path)) tellReaper(`undir ${path}`);
}
