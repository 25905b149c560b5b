import { decideBackoffMs } from '../../core/async.js';
/**
 * rsync exit codes (rsync(1), EXIT VALUES) classified into what the caller should do. Pure.
 *
 * - 24 "some files vanished before they could be transferred" is the normal state of a live maildir: a client
 *   flagged or expunged a message between rsync's listing and its copy. The renamed file is picked up by a later
 *   pass or by resync; nothing on the target is wrong.
 * - 23 "partial transfer due to error": some files could not be read or written; the rest arrived.
 * - 10, 12, 30, 35 and 255 (ssh's own failure) are what a dropped or stalled connection looks like; they are worth a
 *   retry with back-off, unless ssh said it was an authentication or host-key problem (retrying cannot fix that).
 */

export type RsyncOutcome = 'ok' | 'vanished' | 'partial' | 'network' | 'interrupted' | 'fatal' | 'config';

export interface RsyncExitClass {
  readonly outcome: RsyncOutcome;
  /** True when running the same command again can help. */
  readonly isRetryable: boolean;
  /** One line for logs and reports. */
  readonly meaning: string;
  /** What a person can do about it, when the cause is known (a full disk, an unknown host key). */
  readonly hint?: string;
}

const meanings: Record<number, string> = {
  0: 'success',
  1: 'syntax or usage error',
  2: 'protocol incompatibility',
  3: 'errors selecting input/output files or directories',
  4: 'requested action not supported (an option the remote rsync does not know?)',
  5: 'error starting client-server protocol',
  6: 'daemon unable to append to log file',
  10: 'error in socket I/O',
  11: 'error in file I/O',
  12: 'error in rsync protocol data stream',
  13: 'errors with program diagnostics',
  14: 'error in IPC code',
  20: 'received SIGUSR1 or SIGINT',
  21: 'some error returned by waitpid()',
  22: 'error allocating core memory buffers',
  23: 'partial transfer due to error',
  24: 'partial transfer due to vanished source files',
  25: 'the --max-delete limit stopped deletions',
  30: 'timeout in data send/receive',
  35: 'timeout waiting for daemon connection',
  255: 'ssh failed (connection refused, closed or not authenticated)',
};

const networkCodes = new Set([10, 12, 30, 35, 255]);

const rsyncMissing = /rsync: (command )?not found|rsync: No such file or directory/i;

// ssh messages that mean "this will fail again the same way".
const permanentSshFailures = [
  /Permission denied/i,
  /Host key verification failed/i,
  /REMOTE HOST IDENTIFICATION HAS CHANGED/i,
  /Could not resolve hostname/i,
  /No such file or directory.*identity|Warning: Identity file .* not accessible/i,
  /Bad configuration option|command-line line \d+:/i,
  rsyncMissing,
];

/**
 * The receiver's own words for a target that cannot take more (errno 28 ENOSPC, 122 EDQUOT). rsync's last line is
 * then often the sender's "write error: Broken pipe", which says nothing about the cause.
 */
export const targetFullPattern = /No space left on device|Disk quota exceeded/i;
// The receiving side's "mkdir ... failed: Read-only file system (30)" (mkstemp, set times): a read-only target.
const targetReadOnlyPattern = /\[(?:receiver|generator)\].*(?:Read-only file system \(30\))/;

const targetFullHint = 'the target filesystem is full (or over quota); free space and run again (nothing is written twice)';

export function classifyRsyncExit(exitCode: number | undefined, stderrTail = '', signal?: string): RsyncExitClass {
  if (signal === 'SIGINT' || signal === 'SIGTERM' || exitCode === 20) {
    return { outcome: 'interrupted', isRetryable: false, meaning: meanings[20]! };
  }
  if (exitCode === undefined) {
    return { outcome: 'network', isRetryable: true, meaning: `rsync was killed${signal ? ` by ${signal}` : ''}` };
  }
  const meaning = meanings[exitCode] ?? `unknown rsync exit code ${exitCode}`;
  if (exitCode === 0) return { outcome: 'ok', isRetryable: false, meaning };
  if (exitCode === 24) return { outcome: 'vanished', isRetryable: false, meaning };
  // A full target fails the same way on every retry, whatever code rsync (or its peer over ssh) ended with.
  if (targetFullPattern.test(stderrTail)) {
    return { outcome: 'fatal', isRetryable: false, meaning: `the target is full (${targetFullPattern.exec(stderrTail)![0]})`, hint: targetFullHint };
  }
  if (targetReadOnlyPattern.test(stderrTail)) {
    return {
      outcome: 'config',
      isRetryable: false,
      meaning: 'the target is read-only (Read-only file system)',
      hint: 'the target is on a read-only filesystem; remount it read-write (or choose another target) and run again',
    };
  }
  if (exitCode === 23) return { outcome: 'partial', isRetryable: false, meaning };
  if (exitCode === 127) return { outcome: 'config', isRetryable: false, meaning: 'rsync not found on the remote host' };
  if (networkCodes.has(exitCode)) {
    const permanent = permanentSshFailures.find((re) => re.test(stderrTail));
    // When ssh gives up, rsync may notice the closed pipe first and exit 12 instead of 255: the cause is still ssh.
    if (permanent) {
      const what = permanent === rsyncMissing ? meaning : meanings[255];
      const line = firstMatchingLine(stderrTail, permanent);
      const hint = permanent === rsyncMissing ? undefined : decideSshHint(line);
      return { outcome: 'config', isRetryable: false, meaning: `${what}: ${line}`, ...(hint ? { hint } : {}) };
    }
    return { outcome: 'network', isRetryable: true, meaning };
  }
  if (exitCode === 1 || exitCode === 2 || exitCode === 4) return { outcome: 'config', isRetryable: false, meaning };
  return { outcome: 'fatal', isRetryable: false, meaning };
}

/** For any ssh-based command that exited 255: will trying again help? */
export function classifySshFailure(stderrTail: string): { isRetryable: boolean; line: string } {
  const permanent = permanentSshFailures.find((re) => re.test(stderrTail));
  const line = permanent ? firstMatchingLine(stderrTail, permanent) : (stderrTail.trim().split('\n').pop() ?? '');
  return { isRetryable: !permanent, line };
}

/** What to do about a permanent ssh failure, from ssh's own line. */
export function decideSshHint(line: string): string {
  if (/Host key verification failed/i.test(line)) {
    return "ssh does not know this host's key: connect once with ssh by hand and check the fingerprint, or add --ssh-option StrictHostKeyChecking=accept-new to accept a host seen for the first time";
  }
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(line)) {
    return "the host's key differs from the one in known_hosts: make sure it is the right server, then remove the old key (ssh-keygen -R HOST)";
  }
  if (/Could not resolve hostname/i.test(line)) return 'check the host name';
  return 'check the user, the key (--ssh-key) and the host key; try the same ssh by hand';
}

function firstMatchingLine(text: string, re: RegExp): string {
  return text.split('\n').find((line) => re.test(line))?.trim() ?? '';
}

/** Exponential back-off with a cap: 1 s, 2 s, 4 s ... capped at maxMs. attempt counts from 1. */
export function decideRetryDelayMs(attempt: number, baseMs = 1000, maxMs = 30_000): number {
  return decideBackoffMs(attempt, baseMs, maxMs, undefined, undefined, 'none');
}
