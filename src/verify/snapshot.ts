import type { MailboxPath, MessageRef } from '../core/types.js';

/**
 * What verify compares: per folder, every message's identity (maildir base name, or a store's key), flags, size and
 * UID, plus the folder's UIDVALIDITY. Produced from the store interface (local stores) or from a find listing (the
 * fast path for maildirs over ssh); compare.ts does not care which.
 */
export interface MessageMeta {
  readonly key: string;
  /** System flags and keywords, sorted and joined: two messages have the same flags when these are equal. */
  readonly flags: string;
  readonly sizeBytes: number;
  readonly uid?: number;
}

export interface FolderSnapshot {
  /** Which mailbox of an account ("" for a plain maildir, "alice" for a default mailbox, "info@example.com"). */
  readonly mailbox: string;
  readonly folder: MailboxPath;
  readonly uidValidity?: number;
  readonly messages: readonly MessageMeta[];
}

export interface SkippedFolder {
  readonly mailbox: string;
  readonly directory: string;
  readonly reason: string;
  /** Left out because the user asked (`--exclude`, virtual folders): not a gap in the check. */
  readonly isChosen?: boolean;
}

export function formatFlagSet(flags: Iterable<string>, keywords: Iterable<string>): string {
  return [...[...flags].sort(), ...[...keywords].sort()].join(' ');
}

export function messageMetaFromRef(ref: MessageRef): MessageMeta {
  return {
    key: ref.key ?? ref.id,
    flags: formatFlagSet(ref.flags, ref.keywords),
    sizeBytes: ref.sizeBytes ?? 0,
    ...(ref.uid !== undefined ? { uid: ref.uid } : {}),
  };
}
