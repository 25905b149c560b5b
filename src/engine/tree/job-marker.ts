import { constants as fsConstants } from 'node:fs';
import { lstat, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError, systemErrorCode } from '../../core/errors.js';
import { classifyRemoteMkdirFailure, targetWriteError } from '../../fsops/target-dir.js';
import { sshFailure } from '../../hosts/find.js';
import { lastLine, type FileSide } from '../../hosts/side.js';
import type { RsyncEndpoint } from '../../transport/rsync/args.js';
import { jobMarkerName } from './plan-copy.js';

/**
 * A copy job's marker: a small file on the target that exists while the job's rsync may be writing there.
 *
 * rsync writes each file as `.NAME.XXXXXX` beside its final name and renames it when complete (never --partial or
 * --inplace). A kill -9 of the whole run leaves that half-written file behind; Dovecot ignores dot files, but it must
 * not stay in cur/ or new/ for good. The marker is what lets the next run find it without deleting anything else:
 * it says "a job started writing here at START and did not finish", and the next run's job for that target removes
 * the rsync-shaped files written since START (job-leftovers.ts) before its own rsync starts.
 *
 * Where: in the job's target directory (for a one-file job, beside the file and named after it). Not a dot name
 * (a Maildir++ folder's), not cur/, new/ or tmp/: no mail reader looks at it. plan-copy.ts keeps it out of sources.
 *
 * START is on the target's own clock, the one that stamps the files' change times: written into the marker by the
 * target host (here Date.now(), over ssh `date`), and bounded by the marker's own change time, stamped by the file
 * system that stamps the files (an empty marker, cut off by the kill while being written, still has that; on a
 * network file system whose server's clock is behind the host's, that is the earlier of the two). A marker that is
 * already there is kept as it is, so a run killed again during its clean-up still covers everything since the first
 * interrupted start.
 */

export interface JobMarker {
  readonly path: string;
  /** Milliseconds, on the target's clock: every file this job's rsync writes has a change time at or after it. */
  readonly startedMs: number;
  /** The marker was there already: a job an earlier run started on this target did not finish. */
  readonly isInherited: boolean;
}

const markerHeader = 'mailshift copy: rsync may be writing into this directory. If no copy is running, the next copy into it removes what an interrupted one left half-written (rsync temporary names written since the start below), then this file.\n';
const startedKey = 'started-ms=';
/** More than a marker ever holds; what a planted large file has beyond it is not read. */
const markerReadBytes = 4096;

/** Where the marker of a job with this target is. */
export function buildJobMarkerPath(target: RsyncEndpoint): string {
  if (!target.isFile) return path.posix.join(target.path, jobMarkerName);
  return path.posix.join(path.posix.dirname(target.path), `${jobMarkerName}.${path.posix.basename(target.path)}`);
}

export function formatJobMarker(startedMs: number): string {
  return `${markerHeader}${startedKey}${startedMs}\n`;
}

/** The start a marker's text records; undefined when it records none (cut off while being written, or not ours). */
export function parseJobMarker(text: string): number | undefined {
  const match = /^started-ms=(\d{1,16})$/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * The start to sweep from: the recorded one, and never later than the marker's change time (when it was created,
 * unless something touched it since; a touch only moves that later, which is why the recorded start comes first).
 */
export function decideMarkerStartMs(marker: { readonly text: string; readonly ctimeMs: number }): number {
  const recorded = parseJobMarker(marker.text);
  return recorded === undefined ? marker.ctimeMs : Math.min(recorded, marker.ctimeMs);
}

/** The reply of the remote start script: `new` or `kept`, NUL, the marker's change time (find's %C@), NUL, its text. */
export function parseMarkerReply(stdout: string): { isInherited: boolean; ctimeMs: number; text: string } | undefined {
  const match = /^(new|kept)\0(\d+(?:\.\d+)?)\0([\s\S]*)$/.exec(stdout);
  if (!match) return undefined;
  return { isInherited: match[1] === 'kept', ctimeMs: Math.round(Number(match[2]) * 1000), text: match[3]! };
}

export interface MarkerStartOptions {
  /** Directories the job needs, created first (`mkdir -p`). */
  readonly dirs: readonly string[];
  /** A directory an older build used as rsync's --temp-dir here: removed with what a killed run left in it. */
  readonly oldTempDir?: string;
}

/**
 * Creates the job's directories and its marker, or finds the marker an unfinished earlier job left (then kept as it
 * is). Over ssh one round trip, as the directories alone took before.
 */
export async function startJobMarker(side: FileSide, target: RsyncEndpoint, options: MarkerStartOptions): Promise<JobMarker> {
  const markerPath = buildJobMarkerPath(target);
  return side.ssh ? startRemoteMarker(side, markerPath, options) : startLocalMarker(side, markerPath, options);
}

/** Removes the marker: the job ended and nothing it may have left half-written is on the target any more. */
export async function removeJobMarker(side: FileSide, marker: JobMarker): Promise<void> {
  await side.removeFiles([marker.path]);
}

async function startLocalMarker(side: FileSide, markerPath: string, options: MarkerStartOptions): Promise<JobMarker> {
  await side.mkdirs(options.dirs);
  if (options.oldTempDir !== undefined) await rm(options.oldTempDir, { recursive: true, force: true });
  try {
    // O_EXCL | O_NOFOLLOW: a name that is taken (a link included) is never written through.
    const handle = await open(markerPath, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
    try {
      const text = formatJobMarker(Date.now());
      await handle.writeFile(text);
      const { ctimeMs } = await handle.stat();
      return { path: markerPath, startedMs: decideMarkerStartMs({ text, ctimeMs }), isInherited: false };
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (systemErrorCode(err) !== 'EEXIST') throw targetWriteError(path.dirname(markerPath), err, 'target', markerPath);
  }
  const stats = await lstat(markerPath);
  if (!stats.isFile()) throw markerTaken(markerPath);
  const handle = await open(markerPath, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    const buffer = Buffer.alloc(markerReadBytes);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    return { path: markerPath, startedMs: decideMarkerStartMs({ text, ctimeMs: stats.ctimeMs }), isInherited: true };
  } finally {
    await handle.close();
  }
}

/**
 * One fixed script, the paths as its positional parameters (quoted words, never parsed). set -C makes the marker's
 * creation exclusive (never through a link); a name held by anything but a regular file ends it with 3.
 */
const remoteStartScript =
  'm=$1; t=$2; h=$3; shift 3; mkdir -p -- "$@" || exit 1; ' +
  'if [ -n "$t" ]; then rm -rf -- "$t" || exit 1; fi; ' +
  'if [ -L "$m" ] || { [ -e "$m" ] && [ ! -f "$m" ]; }; then exit 3; fi; ' +
  'if [ -e "$m" ]; then s=kept; else s=new; (set -C; printf "%s%s\\n" "$h" "$(date +%s%3N)" > "$m") || exit 1; fi; ' +
  `printf "%s\\0" "$s" && find "$m" -maxdepth 0 -printf "%C@\\0" && head -c ${markerReadBytes} -- "$m"`;

async function startRemoteMarker(side: FileSide, markerPath: string, options: MarkerStartOptions): Promise<JobMarker> {
  const argv = ['sh', '-c', remoteStartScript, 'sh', markerPath, options.oldTempDir ?? '', `${markerHeader}${startedKey}`, ...options.dirs];
  const result = await side.run(argv);
  const where = side.describe(markerPath);
  if (result.exitCode === 255 && side.ssh) throw sshFailure(side.ssh.host, result.stderr);
  if (result.exitCode === 3) throw markerTaken(where);
  if (result.exitCode !== 0) {
    throw classifyRemoteMkdirFailure(where, result.stderr) ?? new MailshiftError('MAILSHIFT_REMOTE_WRITE', `cannot write ${where}: ${lastLine(result.stderr)}`);
  }
  const reply = parseMarkerReply(result.stdout.toString('utf8'));
  if (!reply) throw new MailshiftError('MAILSHIFT_REMOTE_WRITE', `cannot write ${where}: unexpected reply from the remote shell`);
  return { path: markerPath, startedMs: decideMarkerStartMs(reply), isInherited: reply.isInherited };
}

function markerTaken(where: string): MailshiftError {
  return new MailshiftError('MAILSHIFT_COPY_MARKER', `${where} exists and is not a regular file; not written through`, {
    hint: 'move away what holds the name (mailshift never puts anything but a small regular file there), then run again',
  });
}
