import { lstat, readFile } from 'node:fs/promises';
import { systemErrorCode } from '../core/errors.js';

/**
 * A local file's text only if it is a regular file: a symlink (fetched from a remote tree, or planted in a target) is
 * data, never read through. Undefined when nothing is there (or a parent is not a directory).
 */
export async function readRegularTextFile(file: string): Promise<string | undefined> {
  try {
    if (!(await lstat(file)).isFile()) return undefined;
    return await readFile(file, 'utf8');
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT' || systemErrorCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}
