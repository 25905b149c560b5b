import { createHash } from 'node:crypto';
import { decodeInfo, parseMaildirName, resolveKeywords } from '../../converters/maildir/filename.js';
import { FolderNameError, readMaildirppDirName } from '../../converters/folders/maildirpp.js';
import { Mutf7Error } from '../../converters/folders/mutf7.js';
import { planFolderMapping, type FolderEntry, type FolderMappingOptions, type FolderMappingRow } from '../../converters/folders/imap-mapping.js';
import type { SystemFlag } from '../../converters/flags.js';
import type { MessageIdentity } from '../engine/identity.js';
import { guessSpecialUse } from '../stores/special-use.js';

/**
 * The decisions of a backup restored into an IMAP account (imap-writer.ts does the I/O), pure: which IMAP folder a
 * Maildir++ folder of the backup goes to, which flags and keywords a message's file name gives it, and the
 * exactly-once ledger that pairs the backup's messages with what the target folder holds.
 */

/** Where one Maildir++ folder of the backup goes: a mapping row as a messages copy makes it, or a name not readable. */
export type ImapFolderDecision =
  | { readonly kind: 'row'; readonly entry: FolderEntry; readonly row: FolderMappingRow; readonly note?: string }
  | { readonly kind: 'unreadable'; readonly reason: string };

/**
 * A folder's directory name (`''` for INBOX, `.Sent`, `.Entwürfe` in raw UTF-8 as cPanel stores it) read as the
 * maildir store reads it, then mapped as a messages copy maps folders: --exclude, --map, SPECIAL-USE (guessed from
 * the name, as for any maildir), INBOX, else the same path. A stream cannot know the folders still to come, so when
 * two folders share a role (Sent and "Sent Messages"), the one met first takes it (`rolesTaken`: roles given to
 * earlier folders) and a later one keeps its own name: a decision, once messages went by it, never changes.
 */
export function decideImapFolder(dirName: string, rolesTaken: ReadonlySet<string>, targets: readonly FolderEntry[], options: FolderMappingOptions): ImapFolderDecision {
  let read: { path: string; notes: string[] };
  try {
    read = readMaildirppDirName(dirName);
  } catch (err) {
    if (!(err instanceof FolderNameError) && !(err instanceof Mutf7Error)) throw err;
    return { kind: 'unreadable', reason: `folder ${JSON.stringify(dirName)}: ${err.message}; not restored` };
  }
  const specialUse = guessSpecialUse(read.path);
  const entry: FolderEntry = { path: read.path, ...(specialUse && !rolesTaken.has(specialUse) ? { specialUse } : {}) };
  const [row] = planFolderMapping([entry], targets, options);
  return { kind: 'row', entry, row: row!, ...(read.notes.length > 0 ? { note: read.notes.join('; ') } : {}) };
}

/** What a message's file name says: its flags, the keywords its letters name, and letters no table resolved yet. */
export interface MessageFlags {
  readonly flags: ReadonlySet<SystemFlag>;
  readonly keywords: ReadonlySet<string>;
  /** Keyword letters (a..z as 0..25) read before the folder's dovecot-keywords was: to be set once it is. */
  readonly pendingIndexes: readonly number[];
}

/**
 * Flags from the `:2,` info of a maildir file name; keyword letters through the folder's dovecot-keywords when the
 * archive has shown it already (`table`), else kept as letters for later. P (passed) is $Forwarded either way.
 */
export function decideMessageFlags(fileName: string, table: ReadonlyMap<number, string> | undefined): MessageFlags {
  const info = decodeInfo(parseMaildirName(fileName).info);
  const keywords = resolveKeywords(info, table ?? new Map());
  return { flags: info.flags, keywords, pendingIndexes: table ? [] : info.keywordIndexes };
}

/**
 * The key two messages are paired by: the identity (Message-ID and normalised header hash), and for a message without
 * Message-ID its content hash too, as the messages engine confirms such matches by content. Not the size: a message
 * from a file is counted by its bytes and the server's RFC822.SIZE by what it stored, which a server that rewrites
 * messages (line ends, headers) changes; the messages engine does not compare them for a maildir source either. A
 * size in the key would make every re-run against such a server append everything again.
 */
export function buildClaimKey(identity: MessageIdentity, contentHash: string | undefined): string {
  return buildCompactKey(identity.isWeak ? `${identity.key}:${contentHash ?? ''}` : identity.key);
}

/**
 * 120 bits of a SHA-256 as 20 base64 characters: what the writer keeps per message (a claim key, a file's base name)
 * is held in as few bytes as V8 allows, since a mailbox may have a million messages; two different texts share one
 * with a probability of about n^2 / 2^121 (1e-24 for a million).
 */
export function buildCompactKey(text: string): string {
  return createHash('sha256').update(text).digest('base64').slice(0, 20);
}

/**
 * Exactly once, one message at a time, for one target folder. The target's messages are counted by claim key when the
 * folder is first met (their UIDs kept); each message of the backup then either claims one the target has and no
 * other message of this run claimed ('present'), or is to be appended. Identical messages are counted, never
 * collapsed: an identity the backup holds n times and the target m times is appended n - m times.
 *
 * An append whose answer was lost (a dropped connection) may or may not have stored its message: `relist` takes a new
 * listing of the folder, and `settleUnknown` then decides each such message against what is unaccounted for: the
 * target's count for its key minus what this run claimed or saw appended.
 */
export class ClaimLedger {
  /** Claim key -> the UIDs the target listing had, in listing order. */
  private listed = new Map<string, number[]>();
  /** Claim key -> messages of this run accounted for on the target: claimed, or appended with an OK answer. */
  private readonly accounted = new Map<string, number>();

  constructor(listing: Iterable<{ readonly key: string; readonly uid: number | undefined }> = []) {
    this.relist(listing);
  }

  /** A new listing of the folder (after a reconnect): what this run accounted for stays accounted for. */
  relist(listing: Iterable<{ readonly key: string; readonly uid: number | undefined }>): void {
    this.listed = new Map();
    for (const { key, uid } of listing) {
      const uids = this.listed.get(key) ?? [];
      uids.push(uid ?? 0);
      this.listed.set(key, uids);
    }
  }

  /** Target messages of this key that no message of this run stands for. */
  unclaimed(key: string): number {
    return Math.max(0, (this.listed.get(key)?.length ?? 0) - (this.accounted.get(key) ?? 0));
  }

  /**
   * A message of the backup: 'present' with the UID of the target message it pairs with (0 when the listing had
   * none), or 'append' when the target has no unclaimed message of its key.
   */
  claim(key: string): { readonly outcome: 'present'; readonly uid: number | undefined } | { readonly outcome: 'append' } {
    if (this.unclaimed(key) === 0) return { outcome: 'append' };
    const taken = this.accounted.get(key) ?? 0;
    this.accounted.set(key, taken + 1);
    const uid = this.listed.get(key)?.[taken];
    return { outcome: 'present', uid: uid === 0 ? undefined : uid };
  }

  /** An append of this key the server answered OK: the message is on the target now, and stands for itself. */
  confirmAppended(key: string): void {
    this.accounted.set(key, (this.accounted.get(key) ?? 0) + 1);
  }

  /** A UID the target has for this key (a hard link's first copy, found again after a listing). */
  anyUid(key: string): number | undefined {
    const uid = this.listed.get(key)?.find((each) => each !== 0);
    return uid;
  }

  /**
   * After `relist`, one message whose append has an unknown outcome: 'landed' when the new listing holds a copy no
   * message of this run stands for (the lost answer was an OK), else 'resend'. Decided in the order the messages
   * were sent, so two identical messages of which one landed send exactly one again.
   */
  settleUnknown(key: string): { readonly outcome: 'landed'; readonly uid: number | undefined } | { readonly outcome: 'resend' } {
    const decided = this.claim(key);
    return decided.outcome === 'present' ? { outcome: 'landed', uid: decided.uid } : { outcome: 'resend' };
  }
}
