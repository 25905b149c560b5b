import { decodeListedName, FolderMappingError, imapNameToMailboxPath, type ImapNamespace } from '../../../converters/folders/imap-mapping.js';
import { showControlChars } from '../../../converters/folders/maildirpp.js';
import { throwIfAborted } from '../../core/errors.js';
import type { MailboxPath, SpecialUse } from '../../core/types.js';
import type { MailboxInfo, SkippedFolderName } from '../store.js';
import type { ListedStatus } from './mailbox.js';

/** One LIST entry as imapflow gives it (the fields this planner reads). */
export interface ListedFolderEntry {
  readonly path: string;
  readonly pathAsListed: string;
  readonly flags: Iterable<string>;
  readonly specialUse?: string;
  /** LIST-STATUS's answer for the folder, as imapflow gives it (UIDVALIDITY as a BigInt). */
  readonly status?: { readonly uidNext?: number; readonly uidValidity?: bigint | number; readonly highestModseq?: bigint | number };
}

/**
 * The folders an IMAP account offers, from its LIST entries: selectable folders of this account's namespace, each
 * under its mailbox path, INBOX first. A folder that cannot be offered (a name no path can hold, or the name of
 * another folder once read) is listed in `skipped` with its reason, never dropped. `statuses`: each offered folder's
 * UIDVALIDITY and UIDNEXT, where the listing carried both (LIST-STATUS). Pure.
 *
 * Folders of other namespaces are not this account's mail and are left out, named in `outside`: those outside the
 * personal prefix, and those under the prefix of another user's or a shared namespace (`foreignPrefixes`, from
 * NAMESPACE) more specific than the personal one. The latter matters where the personal prefix is empty: a
 * Dovecot "Public/" namespace or Cyrus's "Other Users/" lists beside the account's own folders, and was copied as if
 * it were the account's.
 */
export function planListedFolders(
  entries: readonly ListedFolderEntry[],
  namespace: ImapNamespace,
  isUtf8: boolean,
  signal?: AbortSignal,
  foreignPrefixes: readonly string[] = [],
): { found: MailboxInfo[]; skipped: SkippedFolderName[]; outside: string[]; statuses: Map<MailboxPath, ListedStatus> } {
  const found: MailboxInfo[] = [];
  const skipped: SkippedFolderName[] = [];
  const outside: string[] = [];
  const statuses = new Map<MailboxPath, ListedStatus>();
  /** The server's name of each folder found, by the path it is offered under. */
  const listedAs = new Map<MailboxPath, string>();
  const { prefix } = namespace;
  for (const entry of entries) {
    throwIfAborted(signal);
    const flags = new Set([...entry.flags].map((flag) => flag.toLowerCase()));
    if (flags.has('\\noselect') || flags.has('\\nonexistent')) continue;
    let name: string;
    try {
      name = decodeListedName(entry.pathAsListed, isUtf8);
    } catch {
      name = entry.path;
    }
    // Other users' and shared namespaces are not this account's mail.
    const isInbox = name.toUpperCase() === 'INBOX';
    if (!isInbox && ((prefix !== '' && !name.toUpperCase().startsWith(prefix.toUpperCase())) || isInForeignNamespace(name, prefix, foreignPrefixes))) {
      outside.push(showControlChars(name));
      continue;
    }
    let path: MailboxPath;
    try {
      path = imapNameToMailboxPath(name, namespace);
    } catch (err) {
      if (!(err instanceof FolderMappingError)) throw err;
      // Said by the caller (copy warns, verify lists), with control characters shown as symbols.
      skipped.push({ directory: showControlChars(name), reason: showControlChars(err.message) });
      continue;
    }
    const twin = listedAs.get(path);
    if (twin !== undefined) {
      // The same folder listed twice is one folder; another folder whose name reads the same ("INBOX.INBOX" under an
      // "INBOX." prefix, "a/b" beside "a_b" under a "." delimiter) cannot be offered under it: said, never dropped.
      if (twin !== name && !(isInbox && twin.toUpperCase() === 'INBOX')) {
        skipped.push({ directory: showControlChars(name), reason: `its name reads as "${showControlChars(path)}", the name of folder "${showControlChars(twin)}"; not offered` });
      }
      continue;
    }
    listedAs.set(path, name);
    const status = toListedStatus(entry.status);
    if (status) statuses.set(path, status);
    const specialUse = [...entry.flags].map(toSpecialUse).find((each) => each !== undefined) ?? toSpecialUse(entry.specialUse);
    found.push(specialUse ? { path, specialUse } : { path });
  }
  // INBOX always exists (RFC 3501 §5.1), listed or not.
  if (!found.some((each) => each.path === 'INBOX')) found.push({ path: 'INBOX' });
  found.sort((a, b) => (a.path === 'INBOX' ? -1 : b.path === 'INBOX' ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { found, skipped, outside, statuses };
}

/**
 * Under another namespace's prefix, or that namespace's root itself ("Public" for "Public/"), where that prefix is
 * more specific than the personal one (a personal "" holds every name; "INBOX." against a shared "INBOX.shared."
 * would lose to the shared one).
 */
export function isInForeignNamespace(name: string, personalPrefix: string, foreignPrefixes: readonly string[]): boolean {
  const upper = name.toUpperCase();
  return foreignPrefixes.some((foreign) => {
    if (foreign === '' || foreign.length <= personalPrefix.length) return false;
    const prefix = foreign.toUpperCase();
    return upper.startsWith(prefix) || upper === prefix.slice(0, -1);
  });
}

/** Both numbers, as numbers, or nothing: half a status cannot tell that a folder is unchanged. */
function toListedStatus(status: ListedFolderEntry['status']): ListedStatus | undefined {
  const uidValidity = status?.uidValidity !== undefined ? Number(status.uidValidity) : undefined;
  const uidNext = status?.uidNext;
  if (uidValidity === undefined || !Number.isSafeInteger(uidValidity) || uidValidity <= 0) return undefined;
  if (uidNext === undefined || !Number.isSafeInteger(uidNext) || uidNext <= 0) return undefined;
  const highestModseq = status?.highestModseq !== undefined ? Number(status.highestModseq) : undefined;
  return { uidValidity, uidNext, ...(highestModseq !== undefined && Number.isSafeInteger(highestModseq) && highestModseq > 0 ? { highestModseq } : {}) };
}

const specialUses: readonly SpecialUse[] = ['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged', '\\Important'];

function toSpecialUse(value: string | undefined): SpecialUse | undefined {
  if (!value) return undefined;
  return specialUses.find((each) => each.toLowerCase() === value.toLowerCase());
}
