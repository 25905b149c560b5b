import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { buildRsyncArgv, type RsyncEndpoint } from '../transport/rsync/args.js';
import { runRsync } from '../transport/rsync/run.js';
import type { SshOptions } from '../transport/ssh.js';
import { packInBatches } from '../core/batch.js';
import { runExec } from './exec.js';
import { sshFailure } from './find.js';
import { buildWalkToArgv, decidePathsOnTheWay, linkOnTheWayError, type PathOnTheWay } from './inside-tree.js';
import { describeOnHost } from './side.js';
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
  /**
   * Directories relative to the endpoint's root that the caller vouches for (an account's home, from passwd): a path
   * under one is walked from there, so that directory may itself be a link; below it no link is passed.
   */
  readonly trusted?: readonly string[];
}

/**
 * Copies files (relative to `from.path`) into the local directory `localDir`. Only the regular files whose way down
 * from `from.path` passes no link are fetched; the rest are left out. Returns what each path was: 'file' (fetched,
 * unless it vanished between the walk and rsync: its copy is then missing), or why it was left out, so that a
 * caller can say why it did not read a file instead of passing over it.
 */
export async function fetchFiles(from: RsyncEndpoint, relPaths: readonly string[], localDir: string, options: FileListTransferOptions = {}): Promise<Map<string, PathOnTheWay>> {
  if (!from.ssh) return fetchFilesHere(from.path, relPaths, localDir, { ...(options.signal ? { signal: options.signal } : {}), ...(options.trusted ? { trusted: options.trusted } : {}) });
  await mkdir(localDir, { recursive: true });
  const found = await checkPathsOnTheWay(from, relPaths, options);
  const regular = relPaths.filter((rel) => found.get(rel) === 'file');
  if (regular.length > 0) await transferFileList(from, { path: localDir }, regular, options, 'fetch');
  return found;
}

/**
 * Copies files (relative to the local `localDir`) to `to`; no implied parent directories are created. Over ssh, a
 * link (or a file) on the way down from `to.path` to any of them stops the push before anything is sent
 * (MAILSHIFT_TARGET_NOT_DIR), as it does here.
 */
export async function pushFiles(localDir: string, relPaths: readonly string[], to: RsyncEndpoint, options: FileListTransferOptions = {}): Promise<void> {
  if (!to.ssh) return pushFilesHere(localDir, relPaths, to.path, { ...(options.signal ? { signal: options.signal } : {}), ...(options.trusted ? { trusted: options.trusted } : {}) });
  const found = await checkPathsOnTheWay(to, relPaths, options);
  const blocked = relPaths.find((rel) => found.get(rel) === 'behind-a-link');
  if (blocked !== undefined) throw linkOnTheWayError(describeOnHost(to.ssh, path.posix.join(to.path, blocked)), blocked);
  await transferFileList({ path: localDir }, to, relPaths, options, 'push');
}

/**
 * What each path is on the far side, walked from the endpoint's root without passing a link (inside-tree.ts), in one
 * round trip before rsync runs: rsync's sender and receiver open a listed path through whatever directories it
 * names, so a link planted at etc/DOMAIN would make rsync read the server's /etc/shadow or write its /etc/passwd.
 * What remains is a race: a directory swapped for a link between this walk and rsync's open, by someone writing into
 * the tree at that moment.
 */
async function checkPathsOnTheWay(endpoint: RsyncEndpoint, relPaths: readonly string[], options: FileListTransferOptions): Promise<Map<string, PathOnTheWay>> {
  const target = { ssh: endpoint.ssh!, ...(options.ssh ? { sshOptions: options.ssh } : {}) };
  const trusted = options.trusted ?? [];
  const found = new Map<string, PathOnTheWay>();
  // The remote command travels as ONE argument of `sh -c` (128 KiB at most on Linux) with every path in it, as a
  // -path pattern for the file and for each directory on its way: many paths (resync's dedupe fetches) take several.
  const weightOf = (rel: string) => 2 * (endpoint.path.length + rel.length + 12);
  for (const batch of packInBatches(relPaths, weightOf, 60 * 1024, Number.MAX_SAFE_INTEGER)) {
    const argv = buildWalkToArgv(endpoint.path, batch, ['-printf', '%y\\0%p\\0'], { printDirectories: true, trusted });
    const result = await runExec(target, argv, options.signal ? { signal: options.signal } : {});
    if (result.exitCode === 255) throw sshFailure(endpoint.ssh!.host, result.stderr);
    for (const [rel, what] of decidePathsOnTheWay(endpoint.path, batch, result.stdout.toString('utf8'), trusted)) found.set(rel, what);
  }
  return found;
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
