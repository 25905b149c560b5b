import { constants } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError, systemErrorCode } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';

/**
 * Why a local target directory cannot be written, found before anything is copied, so the run stops with what and
 * where instead of a raw ENOENT (Node's recursive mkdir reports a read-only parent as ENOENT), EEXIST or EROFS.
 * The directory need not exist yet: its nearest existing ancestor is checked. access(W_OK) answers EROFS for a
 * read-only mount even for root (who passes every mode check), so a chmod'ed directory only stops other users.
 */
export async function checkLocalTargetDir(dir: string, what = 'target'): Promise<void> {
  const error = await diagnoseLocalTargetDir(dir, what);
  if (error) throw error;
}

/** The same diagnosis as a value: undefined when the directory can be created and written. */
export async function diagnoseLocalTargetDir(dir: string, what = 'target'): Promise<MailshiftError | undefined> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      const stats = await lstat(current);
      if (!stats.isDirectory()) {
        const kind = stats.isSymbolicLink() ? 'a symlink' : stats.isFile() ? 'a file' : 'not a directory';
        const where = current === path.resolve(dir) ? `${what} ${dir}` : `${what} ${dir}: ${current}`;
        return new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${where} is ${kind}, not a directory`, {
          hint: current === path.resolve(dir) ? 'the target must be a maildir directory (or a path where one can be created); check the path' : 'a part of the target path is not a directory; check the path',
          exitCode: ExitCode.config,
        });
      }
      break;
    } catch (err) {
      const code = systemErrorCode(err);
      if (code !== 'ENOENT') return targetWriteError(dir, err, what);
      const parent = path.dirname(current);
      if (parent === current) return undefined;
      current = parent;
    }
  }
  try {
    await access(current, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    return targetWriteError(dir, err, what, current);
  }
}

/** A MailshiftError for a failed write or mkdir under a target, by errno; undefined-safe for unknown errors. */
export function targetWriteError(dir: string, err: unknown, what = 'target', at = dir): MailshiftError {
  const code = systemErrorCode(err);
  const where = at === dir ? dir : `${dir} (at ${at})`;
  if (code === 'EROFS') {
    return new MailshiftError('MAILSHIFT_TARGET_READ_ONLY', `${what} ${where} is on a read-only filesystem`, {
      hint: 'remount the target filesystem read-write (or choose another target), then run again; nothing was written',
      exitCode: ExitCode.config,
      cause: err,
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new MailshiftError('MAILSHIFT_TARGET_NOT_WRITABLE', `${what} ${where} is not writable: permission denied`, {
      hint: 'run as a user who may write there (or fix the owner and mode of the target), then run again',
      exitCode: ExitCode.config,
      cause: err,
    });
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new MailshiftError('MAILSHIFT_TARGET_FULL', `${what} ${where}: the filesystem is full`, {
      hint: 'the target filesystem is full (or over quota); free space and run again (nothing is written twice)',
      cause: err,
    });
  }
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    return new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${what} ${where}: a part of the path is not a directory`, {
      hint: 'the target must be a maildir directory (or a path where one can be created); check the path',
      exitCode: ExitCode.config,
      cause: err,
    });
  }
  return new MailshiftError('MAILSHIFT_TARGET_UNWRITABLE', `${what} ${where} cannot be written: ${code ?? String(err)}`, {
    hint: 'check the target directory and run again',
    cause: err,
  });
}

/**
 * The same diagnosis from a remote `mkdir`'s stderr (GNU coreutils wording, LC_ALL=C): a read-only filesystem, a
 * file in the way, no permission. Undefined when the message says something else.
 */
export function classifyRemoteMkdirFailure(where: string, stderr: string): MailshiftError | undefined {
  const code = /Read-only file system/.test(stderr) ? 'EROFS' : /Not a directory|File exists/.test(stderr) ? 'ENOTDIR' : /Permission denied/.test(stderr) ? 'EACCES' : undefined;
  return code ? targetWriteError(where, Object.assign(new Error(lastLineOf(stderr)), { code })) : undefined;
}

function lastLineOf(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
