import { constants as fsConstants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { MailshiftError, systemErrorCode } from '../core/errors.js';
import { buildRsyncArgv, type RsyncEndpoint } from '../transport/rsync/args.js';
import { runRsync } from '../transport/rsync/run.js';
import type { SshOptions } from '../transport/ssh.js';

/** Small file helpers for resync: open without following links, fetch a few remote files into a local directory. */

/** Opens a file for reading, refusing symlinks (O_NOFOLLOW); undefined when it cannot be opened. */
export async function openNoFollow(file: string): Promise<FileHandle | undefined> {
  try {
    return await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    if (systemErrorCode(err)) return undefined;
    throw err;
  }
}

/** A small regular file as text (control files: at most 1 MiB); undefined when missing, a link or not a file. */
export async function readSmallRegularFile(file: string): Promise<string | undefined> {
  const handle = await openNoFollow(file);
  if (!handle) return undefined;
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size > 1024 * 1024) return undefined;
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

export interface FetchOptions {
  readonly ssh?: SshOptions;
  readonly retries?: number;
  readonly retryBaseDelayMs?: number;
  readonly ioTimeoutS?: number;
  readonly signal?: AbortSignal;
}

/** Copies files (relative to `from.path`) into `localDir` with rsync; links stay links (and are then not read). */
export async function fetchFiles(from: RsyncEndpoint, relPaths: readonly string[], localDir: string, options: FetchOptions = {}): Promise<void> {
  await mkdir(localDir, { recursive: true });
  const argv = buildRsyncArgv({
    source: from,
    target: { path: localDir },
    ...(options.ssh ? { ssh: options.ssh } : {}),
    filesFromStdin: true,
    ignoreMissingArgs: true,
    hardLinks: false,
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
    throw new MailshiftError('MAILSHIFT_RSYNC_FAILED', `fetching ${relPaths.length} file(s) failed: ${result.exit.meaning}`, {
      retry: result.exit.isRetryable ? 'later' : 'no',
    });
  }
}
