import { execa } from 'execa';
import { InterruptedError, MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { buildSshRemoteArgv, type SshEndpoint, type SshOptions } from '../transport/ssh.js';

/**
 * Runs a program here or on an ssh host with the same argv, streaming stdout to a callback. Remote argv words are
 * shell-quoted one by one (ssh.ts), so nothing in a path can become shell syntax. Nothing to install remotely: the
 * programs used (find, chown, chmod, xargs) are POSIX/GNU base tools.
 */

export interface ExecTarget {
  /** Absent: run locally. */
  readonly ssh?: SshEndpoint;
  readonly sshOptions?: SshOptions;
}

export interface ExecOptions {
  readonly input?: Buffer;
  readonly signal?: AbortSignal;
  /** Receives stdout as it arrives; when absent, stdout is collected and returned (use only for small outputs). */
  readonly onStdout?: (chunk: Buffer) => void;
}

export interface ExecResult {
  readonly exitCode: number | undefined;
  readonly stdout: Buffer;
  /** Last 8 KiB of stderr. */
  readonly stderr: string;
}

export function buildExecArgv(target: ExecTarget, argv: readonly string[]): string[] {
  if (!target.ssh) return [...argv];
  // env LC_ALL=C: error messages we might parse stay in English whatever the remote locale is.
  return buildSshRemoteArgv(target.ssh, ['env', 'LC_ALL=C', ...argv], target.sshOptions);
}

export async function runExec(target: ExecTarget, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [command, ...args] = buildExecArgv(target, argv);
  if (command === undefined) throw new Error('empty argv');
  const collected: Buffer[] = [];
  let stderr = '';
  const child = execa(command, args, {
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    env: { LC_ALL: 'C' },
    extendEnv: true,
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    if (options.onStdout) options.onStdout(chunk);
    else collected.push(chunk);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8192);
  });
  const result = await child;
  if (result.isCanceled || options.signal?.aborted) throw new InterruptedError();
  if (result.failed && result.exitCode === undefined && result.signal === undefined) {
    throw new MailshiftError('MAILSHIFT_EXEC_FAILED', `cannot run ${command}: ${result.shortMessage}`, {
      hint: command === 'ssh' ? 'install the OpenSSH client' : `install ${command}`,
      exitCode: ExitCode.config,
      cause: result.cause,
    });
  }
  return { exitCode: result.exitCode, stdout: Buffer.concat(collected), stderr };
}
