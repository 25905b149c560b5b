import { FolderNameError, maildirppToMailboxPath, validateFolderLevel } from '../../converters/folders/maildirpp.js';
import { maildirSizeFromName } from './inventory/parse.js';

/**
 * The rules that make an item of a mail tree unsafe to carry, in one place: discover reports what they match as
 * 'unsafe' (cpanel/inventory → discover/warnings.ts), and copy and resync refuse to carry it (engine/tree/copy-safety.ts),
 * so what discover warns about is exactly what a copy leaves behind and lists. Pure.
 */

const controlChars = /[\u0000-\u001f\u007f]/;

/**
 * Whether a name read from disk or a table is safe to turn into a path segment. Returns the problem, or undefined.
 * U+FFFD means the name was not valid UTF-8 (Node decoded it lossily), so a path built from it would not exist.
 */
export function checkNameSegment(name: string): string | undefined {
  if (name === '') return 'empty name';
  if (controlChars.test(name)) return 'control characters in name';
  if (name.includes('\uFFFD')) return 'name is not valid UTF-8';
  if (name.includes('/')) return '"/" in name';
  if (name === '.' || name === '..' || name.includes('..')) return '".." in name';
  return undefined;
}

/** Only control characters and undecodable bytes: for message file names, where ".." and "/" cannot occur. */
export function checkFileName(name: string): string | undefined {
  if (controlChars.test(name)) return 'control characters in name';
  if (isUndecodableName(name)) return 'name is not valid UTF-8';
  return undefined;
}

/**
 * A name that was not valid UTF-8 on disk (Latin-1 from an old Courier setup or a Windows client): Node decoded it
 * lossily, so a path built from it would not exist. Odd, not unsafe: it can neither climb out of a target nor reach
 * a terminal, and rsync copies its bytes as they are; discover cannot open it by that name.
 */
export function isUndecodableName(name: string): boolean {
  return name.includes('\uFFFD');
}

export type FolderNameCheck = { ok: true; name: string } | { ok: false; unsafe: boolean; problem: string };

/**
 * A Maildir++ folder directory name (".Work.Projects"). Unsafe: a path traversal, an empty level (".a..b", "..x"),
 * control characters (raw, or once decoded from modified UTF-7). `utf8Names`: the account stores folder names as
 * raw UTF-8 (cPanel's UTF8_MAILBOX), not modified UTF-7. Malformed modified UTF-7 is odd but harmless (not unsafe).
 */
export function checkFolderDirName(dirName: string, utf8Names: boolean): FolderNameCheck {
  const raw = checkFileName(dirName);
  if (raw) return { ok: false, unsafe: true, problem: raw };
  try {
    if (!utf8Names) return { ok: true, name: maildirppToMailboxPath(dirName) };
    const levels = dirName.slice(1).split('.');
    for (const level of levels) {
      const problem = validateFolderLevel(level);
      if (problem) return { ok: false, unsafe: true, problem };
    }
    return { ok: true, name: levels.join('/') };
  } catch (err) {
    if (err instanceof FolderNameError) return { ok: false, unsafe: true, problem: err.message };
    return { ok: false, unsafe: false, problem: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * A name with its bytes that are not UTF-8 (U+FFFD once decoded) taken as ordinary letters: how copy judges a
 * Latin-1 name, which rsync carries byte for byte, so only what the rest of the name does (control characters, a
 * Maildir++ level that climbs) makes it unsafe.
 */
export function judgeUndecodableAsLetters(name: string): string {
  return isUndecodableName(name) ? name.replace(/\uFFFD/g, '_') : name;
}

/**
 * Whether a name's one fault is bytes that are not UTF-8: discover reports such a name as odd (it cannot open it by
 * a lossily decoded name), copy carries it. `isFolderDir`: a Maildir++ folder directory (".Name"), whose levels are
 * judged too.
 */
export function isOnlyUndecodable(name: string, isFolderDir: boolean): boolean {
  if (!isUndecodableName(name)) return false;
  const asLetters = judgeUndecodableAsLetters(name);
  if (checkFileName(asLetters)) return false;
  if (!isFolderDir) return true;
  const folder = checkFolderDirName(asLetters, false);
  return folder.ok || !folder.unsafe;
}

/**
 * A message whose name claims more than this (",S=") is stat'ed even where names are trusted for sizes: few real
 * messages are that large, and a hostile or broken one (",S=34359738368" on an empty sparse file) must not be
 * taken at its word.
 */
export const sizeClaimCheckBytes = 64 * 1024 * 1024;

export interface AllocationProblem {
  readonly kind: 'sparse-file' | 'size-mismatch';
  readonly detail: string;
}

/**
 * A message file as stat sees it. Sparse: 1 MiB or longer with less than a sixteenth of it allocated (mail is
 * written front to back, never with holes, and a copy would write every hole as zeros; the wide margin keeps a
 * message on a compressing filesystem (ZFS, btrfs), which can hold fewer blocks than its length, from being taken
 * for one). Mismatched: its name claims more than sizeClaimCheckBytes and its length is not that claim.
 */
export function checkMessageAllocation(fileName: string, sizeBytes: number, allocatedBytes: number): AllocationProblem | undefined {
  if (sizeBytes >= 1024 * 1024 && allocatedBytes < sizeBytes / 16) {
    return { kind: 'sparse-file', detail: `${sizeBytes} bytes long but only ${allocatedBytes} allocated (a sparse file); a copy would write the full length` };
  }
  const claimed = maildirSizeFromName(fileName);
  if (claimed !== undefined && claimed > sizeClaimCheckBytes && claimed !== sizeBytes) {
    return { kind: 'size-mismatch', detail: `its name claims ${claimed} bytes (",S=") but it is ${sizeBytes} bytes long` };
  }
  return undefined;
}
