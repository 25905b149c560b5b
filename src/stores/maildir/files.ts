import { lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isProcessAlive } from '../../core/process-alive.js';
import { MailshiftError, systemErrorCode } from '../../core/errors.js';

/** The writer's file operations: no symlinks followed, files replaced by rename, stale tmp files of dead runs removed. */

export const tmpPrefix = 'mailshift-tmp.';
export const fileMode = 0o600;
export const dirMode = 0o700;

/** Creates a directory if missing and refuses one that is a symlink: a planted link must not redirect our writes. */
export function ensureRealDirectory(dir: string): void {
  try {
    const stat = lstatSync(dir);
    if (stat.isDirectory()) return;
    throw new MailshiftError('MAILSHIFT_UNSAFE_TARGET', `${dir} exists and is not a directory${stat.isSymbolicLink() ? ' (it is a symbolic link)' : ''}`, {
      scope: 'mailbox',
      hint: 'mailshift never writes through links in the target; remove or rename it and run again',
    });
  } catch (err) {
    if (systemErrorCode(err) !== 'ENOENT') throw err;
  }
  mkdirSync(dir, { mode: dirMode });
}

export function resolveExisting(dir: string): string {
  try {
    return realpathSync(dir);
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return dir;
    throw err;
  }
}

export function readOptional(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT' || systemErrorCode(err) === 'ENOTDIR') return '';
    throw err;
  }
}

export function readdirOptional(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

export function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${tmpPrefix}${process.pid}`;
  writeFileSync(tmp, text, { mode: fileMode });
  renameSync(tmp, file);
}

/** The control files writeAtomically and the uidlist writer replace, through `NAME.mailshift-tmp.PID` beside them. */
const controlFileTmp = /^(?:dovecot-uidlist|dovecot-keywords|subscriptions)\.mailshift-tmp\.(\d+)$/;

/**
 * Removes the temporary copies of control files (dovecot-uidlist, dovecot-keywords, subscriptions) that a run killed
 * between writing and renaming one left beside it, in a folder's own directory: removeStaleTmpFiles looks only in
 * tmp/, so they stayed for good. Only names of that exact form whose process is gone.
 */
export function removeStaleControlFileTmps(folderDir: string): void {
  for (const name of readdirOptional(folderDir)) {
    const match = controlFileTmp.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isProcessAlive(pid)) continue;
    try {
      unlinkSync(path.join(folderDir, name));
    } catch {
      // raced with another cleaner
    }
  }
}

/** Removes tmp files left by an earlier mailshift run that died (their process is gone). */
export function removeStaleTmpFiles(tmpDir: string): void {
  for (const name of readdirOptional(tmpDir)) {
    if (!name.startsWith(tmpPrefix)) continue;
    const pid = Number(name.slice(tmpPrefix.length).split('.')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && isProcessAlive(pid)) continue;
    try {
      unlinkSync(path.join(tmpDir, name));
    } catch {
      // raced with another cleaner
    }
  }
}
