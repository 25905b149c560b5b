import { stat } from 'node:fs/promises';
import { MailshiftError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { formatSpec, type StoreSpec } from '../../stores/spec.js';

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
