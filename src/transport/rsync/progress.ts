/**
 * rsync's --info=progress2 lines and --stats summary. Pure, one line at a time.
 *
 * progress2 redraws one line with '\r': `  1,500,000  83%  466.42MB/s    0:00:00 (xfr#5, to-chk=1/14)`. The
 * `(xfr#, to-chk=)` part is only there right after a file completes. With incremental recursion (the default), the
 * to-chk total grows while rsync is still scanning, so the percentage is only a lower bound until the scan is done.
 */

export interface RsyncProgress {
  readonly bytes: number;
  readonly percent: number;
  /** As rsync prints it, e.g. "466.42MB/s". */
  readonly rateText: string;
  /** As rsync prints it, h:mm:ss. */
  readonly etaText: string;
  readonly filesTransferred?: number;
  readonly filesToCheck?: number;
  readonly filesTotal?: number;
}

const progressLine = /^\s*([\d,]+)\s+(\d+)%\s+(\S+)\s+(\d+:\d{2}:\d{2})(?:\s+\(xfr#(\d+),\s+(?:ir|to)-chk=(\d+)\/(\d+)\))?\s*$/;

export function parseProgressLine(line: string): RsyncProgress | undefined {
  const match = progressLine.exec(line);
  if (!match) return undefined;
  return {
    bytes: parseNumber(match[1]!),
    percent: Number(match[2]),
    rateText: match[3]!,
    etaText: match[4]!,
    ...(match[5] !== undefined
      ? { filesTransferred: Number(match[5]), filesToCheck: Number(match[6]), filesTotal: Number(match[7]) }
      : {}),
  };
}

/** The --stats figures we report. */
export interface RsyncStats {
  filesTotal?: number;
  filesCreated?: number;
  /** The breakdown rsync prints after "Number of created files: N (reg: R, dir: D, link: L)". */
  createdRegular?: number;
  createdDirs?: number;
  createdLinks?: number;
  regularFilesTransferred?: number;
  totalFileSizeBytes?: number;
  transferredFileSizeBytes?: number;
  bytesSent?: number;
  bytesReceived?: number;
}

const statsLines: [RegExp, keyof RsyncStats][] = [
  [/^Number of files: ([\d,]+)/, 'filesTotal'],
  [/^Number of created files: ([\d,]+)/, 'filesCreated'],
  [/^Number of regular files transferred: ([\d,]+)/, 'regularFilesTransferred'],
  [/^Total file size: ([\d,]+) bytes/, 'totalFileSizeBytes'],
  [/^Total transferred file size: ([\d,]+) bytes/, 'transferredFileSizeBytes'],
  [/^Total bytes sent: ([\d,]+)/, 'bytesSent'],
  [/^Total bytes received: ([\d,]+)/, 'bytesReceived'],
];

/** Adds what the line says to `stats`; returns true when the line was a stats line. */
export function parseStatsLine(line: string, stats: RsyncStats): boolean {
  for (const [re, key] of statsLines) {
    const match = re.exec(line);
    if (match) {
      stats[key] = parseNumber(match[1]!);
      if (key === 'filesCreated') {
        const breakdown = /\((.*)\)/.exec(line)?.[1] ?? '';
        for (const part of breakdown.split(',')) {
          const [name, value] = part.split(':').map((t) => t.trim());
          if (value === undefined) continue;
          if (name === 'reg') stats.createdRegular = parseNumber(value);
          else if (name === 'dir') stats.createdDirs = parseNumber(value);
          else if (name === 'link') stats.createdLinks = parseNumber(value);
        }
      }
      return true;
    }
  }
  return false;
}

function parseNumber(text: string): number {
  return Number(text.replace(/,/g, ''));
}
