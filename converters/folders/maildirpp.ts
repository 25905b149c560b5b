import { isUtf8 } from 'node:buffer';
import { decodeMutf7, encodeMutf7, Mutf7Error } from './mutf7.js';

/**
 * Maildir++ folder directory names ("." + levels joined by ".") <-> MailboxPath ("Work/Projects", INBOX canonical).
 *
 * Levels are stored in modified UTF-7, as Dovecot does by default for Maildir++.
 *
 * The rule for a literal "." inside one level (a source folder called "v1.2"): Maildir++ uses "." as its hierarchy
 * separator, so writing it raw would silently turn "v1.2" into "v1" > "2" and merge it with a real "v1" folder.
 * Escaping it as modified UTF-7 of U+002E ("&AC4-", Courier's way) does not work with Dovecot: Dovecot 2.3 lists such
 * a directory under its raw name and then cannot open it (seen in test/integration/convert). So a literal "." is
 * stored as U+2024 ONE DOT LEADER ("․", "&ICQ-" on disk), which every client shows as a dot-like character and
 * which is a single level to every server. Callers that map many names check that no two map to one directory.
  */

export class FolderNameError extends Error {}

const controlChars = /[\u0000-\u001f\u007f]/;

/** Checks one hierarchy level from an untrusted source (a file name, an IMAP LIST reply). */
export function validateFolderLevel(level: string): string | undefined {
  if (level.length === 0) return 'empty folder name';
  if (level === '.' || level === '..') return `folder name "${level}" is a path traversal`;
  if (controlChars.test(level)) return 'folder name contains control characters';
  return undefined;
}

/** What a literal '.' in a folder name is stored as (see above). */
export const literalDotReplacement = '\u2024';

function encodeLevel(level: string): string {
  const problem = validateFolderLevel(level);
  if (problem) throw new FolderNameError(problem);
  return encodeMutf7(level.replaceAll('.', literalDotReplacement));
}

/** Maximum bytes of one directory name on the filesystems we write to (Dovecot says 254 for Maildir++). */
export const maxMaildirppNameBytes = 254;

/**
 * "Work/Projects" -> ".Work.Projects"; "INBOX" -> "" (the maildir root itself).
 * Throws FolderNameError for names that cannot be stored safely.
 */
export function mailboxPathToMaildirpp(path: string): string {
  if (isInbox(path)) return '';
  const levels = path.split('/');
  // "INBOX/Sent" is the same folder as "Sent" in the usual INBOX.-prefixed namespace
  if (levels.length > 1 && isInbox(levels[0]!)) levels.shift();
  const name = `.${levels.map(encodeLevel).join('.')}`;
  if (Buffer.byteLength(name) > maxMaildirppNameBytes) {
    throw new FolderNameError(`folder name is longer than ${maxMaildirppNameBytes} bytes on disk: ${path}`);
  }
  return name;
}

/** ".Work.Projects" -> "Work/Projects"; "" or "." -> "INBOX". Throws FolderNameError for names that are not folders. */
export function maildirppToMailboxPath(dirName: string): string {
  if (dirName === '' || dirName === '.') return 'INBOX';
  if (!dirName.startsWith('.') || dirName === '..') throw new FolderNameError(`not a Maildir++ folder: ${dirName}`);
  const levels = dirName.slice(1).split('.');
  const decoded = levels.map((level) => {
    if (level === '') throw new FolderNameError(`empty hierarchy level in ${dirName}`);
    return decodeMutf7(level);
  });
  for (const level of decoded) {
    const problem = validateFolderLevel(level);
    if (problem) throw new FolderNameError(`${problem}: ${dirName}`);
  }
  return decoded.join('/');
}

/**
 * A directory name found on disk -> MailboxPath, for a source: every name that can be read is read, and `notes` say
 * how when it is not Maildir++ as Dovecot writes it, so no folder is left behind for its name alone:
 * - a level that is not valid modified UTF-7 (a literal "&" written by another tool, "semi;colon&amp") is taken as
 *   written; an IMAP target then gets it encoded properly ("&" becomes "&-" on the wire);
 * - control characters (a newline in a name) become their visible Control Pictures (U+2400 + code, U+2421 for DEL),
 *   which no IMAP server refuses and every client shows.
 * Throws FolderNameError only for names that are not folders at all (empty levels, a level that is "." or "..").
 */
export function readMaildirppDirName(dirName: string): { path: string; notes: string[] } {
  if (dirName === '' || dirName === '.') return { path: 'INBOX', notes: [] };
  if (!dirName.startsWith('.') || dirName === '..') throw new FolderNameError(`not a Maildir++ folder: ${dirName}`);
  const notes: string[] = [];
  const levels = dirName.slice(1).split('.').map((level) => {
    if (level === '') throw new FolderNameError(`empty hierarchy level in ${JSON.stringify(dirName)}`);
    let decoded: string;
    try {
      decoded = decodeMutf7(level);
    } catch (err) {
      if (!(err instanceof Mutf7Error)) throw err;
      decoded = level;
      notes.push(`${JSON.stringify(level)} is not modified UTF-7: name taken as written`);
    }
    if (controlChars.test(decoded)) {
      decoded = showControlChars(decoded);
      notes.push('control characters in the name shown as their symbols (U+2400 block)');
    }
    const problem = validateFolderLevel(decoded);
    if (problem) throw new FolderNameError(`${problem}: ${JSON.stringify(dirName)}`);
    return decoded;
  });
  return { path: levels.length === 1 && isInbox(levels[0]!) ? 'INBOX' : levels.join('/'), notes };
}

/** Control characters -> Control Pictures: U+0000-U+001F -> U+2400-U+241F, DEL -> U+2421. */
export function showControlChars(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (ch) => String.fromCharCode(ch === '\u007f' ? 0x2421 : 0x2400 + ch.charCodeAt(0)));
}

/** A file or directory name held as bytes, for reports: bytes that are not UTF-8 as \xNN, control characters as symbols. */
export function formatRawName(raw: Buffer): string {
  if (isUtf8(raw)) return showControlChars(raw.toString('utf8'));
  let out = '';
  for (const byte of raw) out += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}

export function isInbox(name: string): boolean {
  return name.toUpperCase() === 'INBOX';
}
