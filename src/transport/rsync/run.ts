import { execa } from 'execa';
import { open } from 'node:fs/promises';
import { sleep } from '../../core/async.js';
import { InterruptedError, MailshiftError, systemErrorCode } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { classifyRsyncExit, decideRetryDelayMs, targetFullPattern, type RsyncExitClass } from './exit.js';
import { isChangedItem, parseItemizeLine, type ItemizedChange } from './itemize.js';
import { createLineSplitter } from './lines.js';
import { followProgress, readItemsFromOutput, readStatsFromOutput } from './output-file.js';
import { parseProgressLine, parseStatsLine, type RsyncProgress, type RsyncStats } from './progress.js';

/**
 * Runs one rsync argv (from buildRsyncArgv) to completion: streams its output through the parsers line by line
 * (never buffering the item list: a 100,000-message mailbox is 100,000 lines), classifies the exit code, and retries
 * network failures with exponential back-off. A retry runs the same argv again: the argv always carries
 * --ignore-existing or is otherwise idempotent, so whatever the dropped attempt finished is skipped.
 */

export interface RsyncRunOptions {
  readonly argv: readonly string[];
  /** Bytes for stdin (the NUL-separated --files-from=- list); sent again on every attempt. */
  readonly stdin?: Buffer;
  readonly signal?: AbortSignal;
  /** How many times a network failure is retried (0 = never). */
  readonly retries?: number;
  readonly retryBaseDelayMs?: number;
  readonly retryMaxDelayMs?: number;
  readonly onItem?: (item: ItemizedChange) => void;
  readonly onProgress?: (progress: RsyncProgress) => void;
  /**
   * rsync's standard output goes to this file (appended to, every attempt) instead of through a pipe, and is read
   * when rsync ends: no work here per line while rsync runs (output-file.ts says why). Not with onItem, which wants
   * the items as they come; the caller reads them afterwards with readItemsFromOutput if it needs them. onProgress
   * then gets the newest figures a few times a second (followProgress).
   */
  readonly outputFile?: string;
  /** Called before each retry, with what went wrong: for the log. */
  readonly onRetry?: (info: { attempt: number; delayMs: number; exit: RsyncExitClass; stderrTail: string }) => void;
  readonly env?: NodeJS.ProcessEnv;
}

export interface RsyncItemCounts {
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  other: number;
}

export interface RsyncRunResult {
  readonly exit: RsyncExitClass;
  readonly exitCode: number | undefined;
  readonly attempts: number;
  /** --stats of the last attempt. */
  readonly stats: RsyncStats;
  /**
   * Items rsync reported as transferred or created, summed over all attempts. With outputFile they are counted only
   * when the last attempt printed no --stats (absent otherwise: the stats are the counts then).
   */
  readonly items?: RsyncItemCounts;
  /** The last lines of stderr of the last attempt (bounded). */
  readonly stderrTail: string;
  /** rsync's "file has vanished" and similar warnings, first 100 only. */
  readonly warnings: readonly string[];
}

const maxStderrLines = 40;
const maxWarnings = 100;

export async function runRsync(options: RsyncRunOptions): Promise<RsyncRunResult> {
  if (options.outputFile !== undefined && options.onItem) throw new Error('runRsync: outputFile excludes onItem');
  const retries = options.retries ?? 0;
  const items: RsyncItemCounts = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, other: 0 };
  let attempt = 0;
  for (;;) {
    attempt += 1;
    if (options.signal?.aborted) throw new InterruptedError();
    const once = await runOnce(options, items);
    if (once.exit.outcome === 'interrupted' || options.signal?.aborted) throw new InterruptedError();
    if (!once.exit.isRetryable || attempt > retries) {
      if (options.outputFile === undefined) return { ...once, attempts: attempt, items };
      if (once.stats.regularFilesTransferred !== undefined) return { ...once, attempts: attempt };
      await readItemsFromOutput(options.outputFile, (item) => countItem(items, item));
      return { ...once, attempts: attempt, items };
    }
    const delayMs = decideRetryDelayMs(attempt, options.retryBaseDelayMs ?? 1000, options.retryMaxDelayMs ?? 30_000);
    options.onRetry?.({ attempt, delayMs, exit: once.exit, stderrTail: once.stderrTail });
    await sleep(delayMs, options.signal);
  }
}

async function runOnce(
  options: RsyncRunOptions,
  items: RsyncItemCounts,
): Promise<Omit<RsyncRunResult, 'attempts' | 'items'>> {
  if (options.outputFile === undefined) return runChild(options, items, {});
  // The file's own descriptor goes to rsync (execa's `{ file }` would pipe the bytes through this process, the very
  // cost avoided). This attempt's output starts where the earlier ones' ended: its --stats are read from there.
  const output = await open(options.outputFile, 'a');
  try {
    return await runChild(options, items, { fd: output.fd, offset: (await output.stat()).size });
  } finally {
    await output.close();
  }
}

async function runChild(
  options: RsyncRunOptions,
  items: RsyncItemCounts,
  output: { fd?: number; offset?: number },
): Promise<Omit<RsyncRunResult, 'attempts' | 'items'>> {
  const [command, ...args] = options.argv;
  if (command === undefined) throw new Error('empty rsync argv');
  let stats: RsyncStats = {};
  const warnings: string[] = [];
  const stderrLines: string[] = [];
  // The receiver's "No space left on device" may be followed by many lines; it names the cause, so it is kept.
  let targetFullLine: string | undefined;
  const child = execa(command, args, {
    ...(options.stdin !== undefined ? { input: options.stdin } : { stdin: 'ignore' as const }),
    // execa's types name only the descriptors 3-9; its runtime hands any number to spawn as it is (a descriptor is
    // not piped through this process: lib/stdio/native.js), which run.test.ts checks by the items it counts.
    stdout: output.fd === undefined ? 'pipe' : (output.fd as 3),
    stderr: 'pipe',
    buffer: false,
    reject: false,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    forceKillAfterDelay: 5000,
    // rsync's messages are parsed; keep them in the C locale whatever the user's environment says.
    env: { ...(options.env ?? {}), LC_ALL: 'C' },
    extendEnv: true,
    stripFinalNewline: false,
  });
  const out = createLineSplitter((line) => {
    const item = parseItemizeLine(line);
    if (item) {
      if (isChangedItem(item)) {
        countItem(items, item);
        options.onItem?.(item);
      }
      return;
    }
    const progress = parseProgressLine(line);
    if (progress) {
      options.onProgress?.(progress);
      return;
    }
    parseStatsLine(line, stats);
  });
  const err = createLineSplitter((line) => {
    stderrLines.push(line);
    if (stderrLines.length > maxStderrLines) stderrLines.shift();
    if (targetFullLine === undefined && targetFullPattern.test(line)) targetFullLine = line;
    if (warnings.length < maxWarnings && /vanished|failed|error|warning/i.test(line)) warnings.push(line);
  });
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  const progressPoll = options.outputFile !== undefined && options.onProgress ? followProgress(options.outputFile, output.offset ?? 0, options.onProgress) : undefined;
  const result = await child;
  await progressPoll?.stop();
  out.end();
  err.end();
  if (result.failed && result.exitCode === undefined && !result.isCanceled && result.signal === undefined) {
    // execa could not start rsync at all (ENOENT, EACCES).
    const code = systemErrorCode(result.cause);
    throw new MailshiftError('MAILSHIFT_RSYNC_MISSING', `cannot run ${command}: ${code ?? result.shortMessage}`, {
      hint: 'install rsync (apt-get install rsync / dnf install rsync) on this machine and on the remote one',
      exitCode: ExitCode.config,
      cause: result.cause,
    });
  }
  if (options.outputFile !== undefined) stats = await readStatsFromOutput(options.outputFile, output.offset ?? 0);
  if (targetFullLine !== undefined && !stderrLines.includes(targetFullLine)) stderrLines.unshift(targetFullLine);
  const stderrTail = stderrLines.join('\n');
  const signal = result.isCanceled ? 'SIGTERM' : result.signal;
  const exit = classifyRsyncExit(result.exitCode, stderrTail, signal);
  return { exit, exitCode: result.exitCode, stats, stderrTail, warnings };
}

function countItem(items: RsyncItemCounts, item: ItemizedChange): void {
  if (item.update === 'hardlink') items.hardlinks += 1;
  else if (item.type === 'file') items.files += 1;
  else if (item.type === 'dir') items.dirs += 1;
  else if (item.type === 'symlink') items.symlinks += 1;
  else items.other += 1;
}
