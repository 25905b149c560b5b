import { stat } from 'node:fs/promises';
import { MailshiftError, UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { sniffMbox } from '../../stores/mbox/index.js';
import { classifyLocalMailPath } from '../../stores/probe.js';
import { formatSpec, parseStoreSpec, type StoreSpec } from '../../stores/spec.js';

/**
 * Refuses a local source (or a target that must already exist) that is not there, before any work starts: copying
 * from a missing directory reported rsync's "partial transfer", verify of a missing source said "OK: 0 of 0", and
 * watch retried forever. Remote and IMAP ends are checked when they are reached.
 */
export async function requireLocalDirectory(spec: StoreSpec, role: 'source' | 'target'): Promise<void> {
  if (spec.kind === 'imap' || spec.location.type !== 'local') return;
  const dir = spec.kind === 'cpanel' ? spec.root : spec.path;
  let isDirectory = false;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) {
    throw new MailshiftError('MAILSHIFT_MISSING_' + role.toUpperCase(), `${role} ${formatSpec(spec)}: ${dir} is not an existing directory`, {
      hint: `check the ${role} path`,
      exitCode: ExitCode.config,
    });
  }
}

/** True for an `mbox:` spec, and for a plain local path that holds mbox (a file, or mbox files and no maildir). */
export async function isLocalMbox(specText: string): Promise<boolean> {
  let spec: StoreSpec;
  try {
    spec = parseStoreSpec(specText);
  } catch {
    return false; // the command reports the bad spec itself
  }
  if (spec.kind === 'mbox') return spec.location.type === 'local';
  if (spec.kind !== 'path' || spec.location.type !== 'local') return false;
  return (await classifyLocalMailPath(spec.path)).kind === 'mbox';
}

/**
 * copy and resync move maildir files with rsync: an mbox source given to them would be rsynced as it is into what
 * the user took for a maildir. Refused with the command that does what they meant.
 */
export async function refuseLocalMboxSource(sourceText: string, command: 'copy' | 'resync' | 'watch'): Promise<void> {
  if (!(await isLocalMbox(sourceText))) return;
  const notMbox = await describeNonMboxFile(sourceText);
  if (notMbox) {
    throw new UsageError(`${sourceText} is ${notMbox}, neither a maildir nor an mbox: ${command} moves maildir directories`, 'give the maildir directory (the one holding cur/, new/ and tmp/), or a cpanel:ROOT#USER account');
  }
  throw new UsageError(`${sourceText} is mbox: ${command} moves maildir files`, 'turn it into a maildir with `mailshift convert SOURCE MAILDIR` (or copy it to an IMAP account: mailshift copy SOURCE imaps://user@host)');
}

/**
 * A plain file given where a maildir belongs is taken for mbox only when it looks like one (a "From " line, or
 * gzip): a text file or a tarball is named for what it is, not called "mbox". Undefined when it is mbox (or not a
 * plain file).
 */
async function describeNonMboxFile(specText: string): Promise<string | undefined> {
  const spec = parseStoreSpec(specText);
  if (spec.kind !== 'path' || spec.location.type !== 'local') return undefined;
  let size: number;
  try {
    const info = await stat(spec.path);
    if (!info.isFile()) return undefined;
    size = info.size;
  } catch {
    return undefined;
  }
  const isGzip = /\.gz$/i.test(spec.path);
  try {
    if ((await sniffMbox(spec.path, { isGzip, scanForMboxrd: false })).looksLikeMbox) return undefined;
  } catch {
    return 'a file that cannot be read';
  }
  return size === 0 ? 'an empty file' : 'a file';
}
