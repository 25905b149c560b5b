import { isInbox, validateFolderLevel } from './maildirpp.js';
import { decodeMutf7 } from './mutf7.js';

/**
 * IMAP folder names <-> mailbox paths, and the folder mapping plan of an IMAP copy. Pure.
 *
 * A mailbox path is '/'-separated UTF-8 with INBOX canonical ("INBOX", "Work/Projects"). On a server the same folder
 * is a name with the namespace prefix and the server's hierarchy delimiter ("INBOX.Work.Projects" on cPanel,
 * "Work/Projects" on Gmail), sent in modified UTF-7 to IMAP4rev1 clients. The plan then decides, per source folder,
 * which target folder receives its mail: SPECIAL-USE roles first (the source's \Sent folder goes to the target's
 * \Sent folder whatever either is called), then `--map`, `--exclude` and the Gmail defaults.
 */

export type FolderRole = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged' | '\\Important';

export interface ImapNamespace {
  /** Personal namespace prefix ("INBOX." on cPanel/Courier, "" on most servers). */
  readonly prefix: string;
  /** Hierarchy delimiter; null for a flat namespace (RFC 2342 NIL). */
  readonly delimiter: string | null;
}

export class FolderMappingError extends Error {}

/** What replaces a hierarchy delimiter found inside one level of a name (a "v1.2" folder going to a '.' server). */
export const delimiterReplacement = '_';

/** A LIST name as sent on the wire -> UTF-8 (modified UTF-7 unless the session enabled UTF-8 names). */
export function decodeListedName(listed: string, isUtf8Session: boolean): string {
  return isUtf8Session ? listed : decodeMutf7(listed);
}

/**
 * A server folder name (UTF-8, with prefix and delimiter) -> mailbox path. "INBOX.Sent" -> "Sent" under the prefix
 * "INBOX."; "[Gmail]/Sent Mail" -> "[Gmail]/Sent Mail". A '/' inside a level (possible on servers whose delimiter is
 * '.') becomes '_': a mailbox path has no other way to say it. Throws FolderMappingError for names that are not safe
 * as folders (empty levels, "..", control characters).
 */
export function imapNameToMailboxPath(name: string, namespace: ImapNamespace): string {
  if (isInbox(name)) return 'INBOX';
  let rest = name;
  const { prefix, delimiter } = namespace;
  if (prefix !== '' && startsWithPrefix(rest, prefix)) rest = rest.slice(prefix.length);
  if (rest === '') throw new FolderMappingError(`folder "${name}" is the namespace prefix itself`);
  const levels = delimiter ? rest.split(delimiter) : [rest];
  const cleaned = levels.map((level) => (delimiter === '/' ? level : level.replaceAll('/', delimiterReplacement)));
  for (const level of cleaned) {
    const problem = validateFolderLevel(level);
    if (problem) throw new FolderMappingError(`${problem}: "${name}"`);
  }
  if (cleaned.length === 1 && isInbox(cleaned[0]!)) return 'INBOX';
  return cleaned.join('/');
}

/**
 * Mailbox path -> the server's folder name (UTF-8; the IMAP client encodes it for the wire). A level that contains
 * the server's delimiter has it replaced by '_', so one source folder never turns into two levels. INBOX stays INBOX.
 */
export function mailboxPathToImapName(path: string, namespace: ImapNamespace): string {
  if (isInbox(path)) return 'INBOX';
  const levels = path.split('/');
  for (const level of levels) {
    const problem = validateFolderLevel(level);
    if (problem) throw new FolderMappingError(`${problem}: "${path}"`);
  }
  const { prefix, delimiter } = namespace;
  // "INBOX/Sub" under the prefix "INBOX." is the folder "INBOX.Sub" (the prefix already says INBOX).
  if (levels.length > 1 && isInbox(levels[0]!) && prefix !== '' && isInbox(prefix.slice(0, -1))) levels.shift();
  if (!delimiter) {
    if (levels.length > 1) return prefix + levels.join(delimiterReplacement);
    return prefix + levels[0]!;
  }
  return prefix + levels.map((level) => level.replaceAll(delimiter, delimiterReplacement)).join(delimiter);
}

function startsWithPrefix(name: string, prefix: string): boolean {
  // INBOX is case-insensitive (RFC 3501 §5.1), so "inbox.Sent" is under the prefix "INBOX." too.
  if (name.startsWith(prefix)) return true;
  return /^inbox/i.test(prefix) && name.toUpperCase().startsWith(prefix.toUpperCase());
}

// -----------------------------------------------------------------------------------------------------------------
// The mapping plan

export interface FolderEntry {
  readonly path: string;
  readonly specialUse?: FolderRole;
}

export interface FolderMapRule {
  readonly pattern: RegExp;
  /** Target path; `$1`... refer to the pattern's groups. */
  readonly replacement: string;
  /** The rule as the user wrote it, for the table. */
  readonly text: string;
}

export interface FolderMappingOptions {
  readonly maps?: readonly FolderMapRule[];
  readonly excludes?: readonly RegExp[];
  /** Skip virtual folders (\All, \Important, \Flagged: Gmail's All Mail, Important, Starred). Default true. */
  readonly skipVirtual?: boolean;
}

export type FolderMappingRow =
  | { readonly action: 'copy'; readonly source: string; readonly target: string; readonly reason: string }
  | { readonly action: 'skip'; readonly source: string; readonly reason: string };

/** Roles whose folders are real homes of mail and are matched across servers. */
const mappedRoles: readonly FolderRole[] = ['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive'];
/** Roles of folders that only show mail that lives elsewhere (Gmail: All Mail, Important, Starred). */
const virtualRoles: readonly FolderRole[] = ['\\All', '\\Important', '\\Flagged'];

/** Well-known names per role, best first: used when a server marks nothing. */
export const roleNames: Readonly<Record<string, readonly string[]>> = {
  '\\Sent': ['Sent', 'Sent Items', 'Sent Messages', 'Sent Mail'],
  '\\Drafts': ['Drafts'],
  '\\Trash': ['Trash', 'Deleted Items', 'Deleted Messages'],
  '\\Junk': ['Junk', 'Spam', 'Junk E-mail', 'spam'],
  '\\Archive': ['Archive', 'Archives'],
};

const gmailVirtualNames = /^\[(Gmail|Google Mail)\]\/(All Mail|Important|Starred)$/i;

/** Parses `--map 'REGEX=>NAME'`. */
export function parseFolderMapRule(text: string): FolderMapRule {
  const arrow = text.lastIndexOf('=>');
  if (arrow <= 0) throw new FolderMappingError(`--map "${text}": write REGEX=>NAME, e.g. '^Sent Items$=>Sent'`);
  const source = text.slice(0, arrow);
  const replacement = text.slice(arrow + 2);
  if (replacement.trim() === '') throw new FolderMappingError(`--map "${text}" names no target folder`);
  return { pattern: compilePattern(source, '--map'), replacement, text };
}

/** Parses `--exclude REGEX`. */
export function parseFolderExclude(text: string): RegExp {
  return compilePattern(text, '--exclude');
}

function compilePattern(source: string, option: string): RegExp {
  try {
    return new RegExp(source, 'u');
  } catch (err) {
    throw new FolderMappingError(`${option} "${source}" is not a valid regular expression: ${(err as Error).message}`);
  }
}

/**
 * Decides where each source folder goes. Order: `--exclude` (always wins), `--map` (first match), virtual folders
 * skipped, SPECIAL-USE role (when exactly one source folder has the role), INBOX, else the same path.
 */
export function planFolderMapping(
  sources: readonly FolderEntry[],
  targets: readonly FolderEntry[],
  options: FolderMappingOptions = {},
): FolderMappingRow[] {
  const skipVirtual = options.skipVirtual ?? true;
  const sourcesByRole = new Map<FolderRole, FolderEntry[]>();
  for (const folder of sources) {
    if (!folder.specialUse) continue;
    const list = sourcesByRole.get(folder.specialUse) ?? [];
    list.push(folder);
    sourcesByRole.set(folder.specialUse, list);
  }
  const rows: FolderMappingRow[] = [];
  for (const folder of sources) {
    rows.push(planOne(folder));
  }
  return rows;

  function planOne(folder: FolderEntry): FolderMappingRow {
    const source = folder.path;
    const excluded = options.excludes?.find((pattern) => pattern.test(source));
    if (excluded) return { action: 'skip', source, reason: `--exclude ${excluded.source}` };
    const rule = options.maps?.find((each) => each.pattern.test(source));
    if (rule) return checked(source, source.replace(rule.pattern, rule.replacement), `--map ${rule.text}`);
    if (skipVirtual && folder.specialUse && virtualRoles.includes(folder.specialUse)) {
      return { action: 'skip', source, reason: `virtual folder (${folder.specialUse}): its mail is in the other folders` };
    }
    if (skipVirtual && gmailVirtualNames.test(source)) {
      return { action: 'skip', source, reason: 'Gmail virtual folder: its mail is in the label folders' };
    }
    if (isInbox(source)) return { action: 'copy', source, target: 'INBOX', reason: 'INBOX' };
    const role = folder.specialUse;
    if (role && mappedRoles.includes(role)) {
      const peers = sourcesByRole.get(role) ?? [];
      // Two source folders with one role (cPanel marks both "Sent" and "Sent Messages" \Sent): the one whose name is
      // best known takes the role; the others keep their names rather than being merged into it silently.
      if (peers.length === 1 || pickByName(peers, role) === folder) {
        return { action: 'copy', source, target: targetForRole(role, source), reason: `SPECIAL-USE ${role}` };
      }
    }
    return checked(source, source, 'same name');
  }

  function targetForRole(role: FolderRole, fallback: string): string {
    const marked = targets.find((target) => target.specialUse === role);
    if (marked) return marked.path;
    for (const name of roleNames[role] ?? []) {
      const byName = targets.find((target) => target.path.toLowerCase() === name.toLowerCase());
      if (byName) return byName.path;
    }
    // Nothing on the target yet: the plain well-known name ("Sent"), not the source's ("[Gmail]/Sent Mail").
    return roleNames[role]?.[0] ?? fallback;
  }
}

function pickByName(peers: readonly FolderEntry[], role: FolderRole): FolderEntry | undefined {
  for (const name of roleNames[role] ?? []) {
    const found = peers.find((peer) => peer.path.toLowerCase() === name.toLowerCase());
    if (found) return found;
  }
  return peers[0];
}

function checked(source: string, target: string, reason: string): FolderMappingRow {
  const levels = target.split('/');
  const problem = levels.map(validateFolderLevel).find((each) => each !== undefined);
  if (problem) return { action: 'skip', source, reason: `target name "${target}" is not usable: ${problem}` };
  return { action: 'copy', source, target: isInbox(target) ? 'INBOX' : target, reason };
}
