import { mkdir } from 'node:fs/promises';
import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { buildRsyncArgv, type RsyncEndpoint } from '../transport/rsync/args.js';
import { runRsync } from '../transport/rsync/run.js';
import type { SshOptions } from '../transport/ssh.js';
import { fetchFilesHere, pushFilesHere } from './transfer-local.js';

/**
 * Moves a list of small files (control files, account files, headers to compare) with one rsync: the list goes on
 * stdin NUL-separated (`--files-from=- --from0`), symlinks stay symlinks and are never read through, missing files
 * are fine. Shared by copy (fetch and push) and resync (fetch). When the far side is this machine the same is done
 * in-process (transfer-local.ts says why).
 */
export interface FileListTransferOptions {
  readonly ssh?: SshOptions;
  readonly retries?: number;
  readonly retryBaseDelayMs?: number;
  readonly ioTimeoutS?: number;
  readonly signal?: AbortSignal;
}

/** Copies files (relative to `from.path`) into the local directory `localDir`. */
export async function fetchFiles(from: RsyncEndpoint, relPaths: readonly string[], localDir: string, options: FileListTransferOptions = {}): Promise<void> {
  if (!from.ssh) return fetchFilesHere(from.path, relPaths, localDir, options.signal);
  await mkdir(localDir, { recursive: true });
  await transferFileList(from, { path: localDir }, relPaths, options, 'fetch');
}

/** Copies files (relative to the local `localDir`) to `to`; no implied parent directories are created. */
export async function pushFiles(localDir: string, relPaths: readonly string[], to: RsyncEndpoint, options: FileListTransferOptions = {}): Promise<void> {
  if (!to.ssh) return pushFilesHere(localDir, relPaths, to.path, options.signal);
  await transferFileList({ path: localDir }, to, relPaths, options, 'push');
}

async function transferFileList(
  from: RsyncEndpoint,
  to: RsyncEndpoint,
  relPaths: readonly string[],
  options: FileListTransferOptions,
  what: 'fetch' | 'push',
): Promise<void> {
  const argv = buildRsyncArgv({
    source: from,
    target: to,
    ...(options.ssh ? { ssh: options.ssh } : {}),
    filesFromStdin: true,
    ignoreMissingArgs: true,
    noImpliedDirs: what === 'push',
    hardLinks: false,
    numericIds: true,
    ioTimeoutS: options.ioTimeoutS ?? 120,
  });
  const result = await runRsync({
    argv,
    stdin: Buffer.from(relPaths.map((p) => `${p}\u0000`).join(''), 'utf8'),
    retries: options.retries ?? 3,
    retryBaseDelayMs: options.retryBaseDelayMs ?? 2000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (result.exit.outcome !== 'ok' && result.exit.outcome !== 'vanished') {
    const lastLine = result.stderrTail.trim().split('\n').pop() ?? '';
    throw new MailshiftError('MAILSHIFT_RSYNC_FAILED', `${what} of ${relPaths.length} small file(s) failed: ${result.exit.meaning}${result.exit.hint ? '' : `: ${lastLine}`}`, {
      retry: result.exit.isRetryable ? 'later' : 'no',
      ...(result.exit.hint ? { hint: result.exit.hint } : {}),
      ...(result.exit.outcome === 'config' ? { exitCode: ExitCode.config } : {}),
    });
  }
}
