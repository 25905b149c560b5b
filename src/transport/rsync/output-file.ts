import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { isChangedItem, parseItemizeLine, type ItemizedChange } from './itemize.js';
import { createLineSplitter } from './lines.js';
import { parseProgressLine, parseStatsLine, type RsyncProgress, type RsyncStats } from './progress.js';

/**
 * rsync's standard output written to a file instead of a pipe (run.ts `outputFile`), read back after rsync ended.
 *
 * Why: rsync writes each --itemize-changes line with a write of its own. Through a pipe every line woke this
 * process for a chunk of one line: about 15 µs of our CPU per file (160 ms per 10,000 files, against 16 ms without
 * items), taken from the two cores rsync's three processes need. Into a file the lines cost rsync a write each and
 * us nothing until they are needed: the --stats at the end always (a few hundred bytes), the items only when a job
 * has to count what arrived or keep a completed file out of a sweep (copy-jobs.ts), which is after a failure, and a
 * progress bar's figures from the file's newest bytes a few times a second (followProgress).
 */

/** --stats is about 1 KiB at the end of the output; this much of the tail holds it whatever the numbers' widths. */
const statsTailBytes = 16 * 1024;

/**
 * The --stats of the output from byte `fromOffset` on (the last attempt's part of the file). Reads the tail only;
 * a stats line cannot be confused with an item (items start with their 11-character change code).
 */
export async function readStatsFromOutput(file: string, fromOffset: number): Promise<RsyncStats> {
  const stats: RsyncStats = {};
  const tail = await readTail(file, fromOffset, statsTailBytes);
  for (const line of splitWholeLines(tail.bytes, tail.start > fromOffset)) parseStatsLine(line, stats);
  return stats;
}

/** The file's bytes from `fromOffset` on, the newest `maxBytes` of them at most, and where they start. */
async function readTail(file: string, fromOffset: number, maxBytes: number): Promise<{ start: number; bytes: Buffer }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(fromOffset, size - maxBytes);
    const bytes = Buffer.alloc(Math.max(0, size - start));
    await handle.read(bytes, 0, bytes.length, start);
    return { start, bytes };
  } finally {
    await handle.close();
  }
}

/** The lines of `bytes`; with `startsInsideLine` (a tail cut short), without its first piece, not a whole line. */
function splitWholeLines(bytes: Buffer, startsInsideLine: boolean): string[] {
  const lines = bytes.toString('utf8').split(/[\r\n]/);
  if (startsInsideLine) lines.shift();
  return lines;
}

/** Every item line of the output (all attempts), streamed: a 100,000-message mailbox is 100,000 lines. */
export async function readItemsFromOutput(file: string, onItem: (item: ItemizedChange) => void): Promise<void> {
  const splitter = createLineSplitter((line) => {
    const item = parseItemizeLine(line);
    if (item && isChangedItem(item)) onItem(item);
  });
  for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) splitter.push(chunk as Buffer);
  splitter.end();
}

/** The newest bytes a progress poll reads: the last progress line is among them (rsync redraws it after every file). */
const progressWindowBytes = 64 * 1024;

/**
 * Reads rsync's newest --info=progress2 figures from its output file every `intervalMs` while it runs, and once more
 * when stopped: the last progress line, preceded by the last one that counts files when the last does not. Only the
 * bytes written since the previous poll are looked at, and of those only the newest 64 KiB.
 */
export function followProgress(file: string, fromOffset: number, onProgress: (progress: RsyncProgress) => void, intervalMs = 250): { stop(): Promise<void> } {
  let offset = fromOffset;
  let polling: Promise<void> = Promise.resolve();
  const poll = async (): Promise<void> => {
    const previous = offset;
    const { start, bytes } = await readTail(file, previous, progressWindowBytes);
    // Up to the last line end only: rsync may be writing the line after it.
    const lastEnd = Math.max(bytes.lastIndexOf(0x0a), bytes.lastIndexOf(0x0d));
    if (lastEnd < 0) return;
    offset = start + lastEnd + 1;
    // A window that starts after the previous end starts inside a line.
    reportNewest(splitWholeLines(bytes.subarray(0, lastEnd), start > previous), onProgress);
  };
  const timer = setInterval(() => {
    polling = polling.then(poll).catch(() => undefined);
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      polling = polling.then(poll).catch(() => undefined);
      await polling;
    },
  };
}

function reportNewest(lines: readonly string[], onProgress: (progress: RsyncProgress) => void): void {
  let newest: RsyncProgress | undefined;
  for (let i = lines.length - 1; i >= 0; i--) {
    const progress = parseProgressLine(lines[i]!);
    if (!progress) continue;
    if (!newest) {
      newest = progress;
      if (progress.filesTransferred !== undefined) break;
    } else if (progress.filesTransferred !== undefined) {
      onProgress(progress);
      break;
    }
  }
  if (newest) onProgress(newest);
}
