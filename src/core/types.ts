/**
 * Shared vocabulary. A MailboxPath is '/'-separated UTF-8 with INBOX canonical ("INBOX", "Work/Projects"):
 * drivers translate to and from their on-disk or on-server names.
 */
export type MailboxPath = string;

import type { SystemFlag } from '../../converters/flags.js';

export { systemFlags, type SystemFlag } from '../../converters/flags.js';

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged' | '\\Important';

/** Message metadata as a store lists it: enough to decide what is missing, without reading bodies. */
export interface MessageRef {
  /** Store-specific locator (a maildir file name, an mbox byte offset, an IMAP UID). */
  readonly id: string;
  /** Identity comparable across stores of the same kind (maildir base name). */
  readonly key?: string;
  readonly flags: ReadonlySet<SystemFlag>;
  readonly keywords: ReadonlySet<string>;
  readonly internalDate?: Date;
  readonly sizeBytes?: number;
  readonly uid?: number;
}

/** A message on its way into a store. */
export interface IncomingMessage {
  readonly content: Buffer;
  readonly flags: ReadonlySet<SystemFlag>;
  readonly keywords: ReadonlySet<string>;
  readonly internalDate?: Date;
  readonly uid?: number;
  /**
   * A stable name for the message at its source, when it has one (IMAP: account, folder, UIDVALIDITY and UID). A
   * maildir target derives the file name from it instead of hashing the content: appending the same source message
   * again still leaves one file, at a fraction of the cost.
   */
  readonly sourceKey?: string;
  /** RFC822.SIZE (every line end counted as CRLF), when the source already knows it. */
  readonly virtualSizeBytes?: number;
  /**
   * The source folder's UIDVALIDITY and next UID, with `uid`: a maildir target keeps the source's UIDs when it can
   * (a fresh folder adopts the UIDVALIDITY), so clients of the new server need not download everything again.
   */
  readonly uidSource?: { readonly uidValidity: number; readonly nextUid: number };
}
