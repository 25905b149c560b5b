import type { FolderSnapshot, MessageMeta } from './snapshot.js';

/**
 * Compares one folder on both sides. Pure. Identity is the key (maildir base name): a message whose flags changed
 * is the same message; a key twice on the target is a duplicate (a flag-renamed copy next to the original, as a
 * second plain rsync leaves it).
 */

export interface FolderComparison {
  readonly mailbox: string;
  readonly folder: string;
  readonly source: { readonly messages: number; readonly bytes: number };
  readonly target: { readonly messages: number; readonly bytes: number };
  /** Keys on the source that the target lacks. */
  readonly missing: string[];
  /**
   * The source UIDs of those that have one (an IMAP or maildir source with UIDs), by key: what lets a campaign tell a
   * message its copy skipped on purpose (listed by folder and UID, e.g. `--max-size`) from one that went missing.
   */
  readonly missingSourceUids: Readonly<Record<string, number>>;
  /** Keys on the target more than once. */
  readonly duplicates: string[];
  /** Messages only on the target (mail that arrived there, not a problem). */
  readonly extraOnTarget: number;
  readonly flagDifferences: { readonly key: string; readonly source: string; readonly target: string }[];
  readonly sizeDifferences: { readonly key: string; readonly source: number; readonly target: number }[];
  readonly uids: UidComparison;
}

export interface UidComparison {
  readonly sourceUidValidity?: number;
  readonly targetUidValidity?: number;
  /** Messages present on both sides whose source UID is known. */
  readonly checked: number;
  readonly kept: number;
  /** Target has another UID for the message, or none yet (Dovecot will give it a new one). */
  readonly changed: number;
  /** 'kept': UIDVALIDITY and every checked UID equal; 'changed': clients will re-sync; 'unknown': no UIDs on the source. */
  readonly verdict: 'kept' | 'changed' | 'unknown';
}

export function compareFolder(source: FolderSnapshot | undefined, target: FolderSnapshot | undefined): FolderComparison {
  const mailbox = source?.mailbox ?? target?.mailbox ?? '';
  const folder = source?.folder ?? target?.folder ?? '';
  const sourceMessages = source?.messages ?? [];
  const targetMessages = target?.messages ?? [];
  const targetByKey = new Map<string, MessageMeta>();
  const duplicates = new Set<string>();
  for (const message of targetMessages) {
    if (targetByKey.has(message.key)) duplicates.add(message.key);
    else targetByKey.set(message.key, message);
  }
  const missing: string[] = [];
  const missingSourceUids: Record<string, number> = {};
  const flagDifferences: FolderComparison['flagDifferences'] = [];
  const sizeDifferences: FolderComparison['sizeDifferences'] = [];
  const seen = new Set<string>();
  let checked = 0;
  let kept = 0;
  for (const message of sourceMessages) {
    if (seen.has(message.key)) continue;
    seen.add(message.key);
    const there = targetByKey.get(message.key);
    if (!there) {
      missing.push(message.key);
      if (message.uid !== undefined) missingSourceUids[message.key] = message.uid;
      continue;
    }
    if (there.flags !== message.flags) flagDifferences.push({ key: message.key, source: message.flags, target: there.flags });
    if (there.sizeBytes !== message.sizeBytes) sizeDifferences.push({ key: message.key, source: message.sizeBytes, target: there.sizeBytes });
    if (message.uid !== undefined) {
      checked += 1;
      if (there.uid === message.uid) kept += 1;
    }
  }
  let extraOnTarget = 0;
  for (const key of targetByKey.keys()) if (!seen.has(key)) extraOnTarget += 1;
  const sameValidity = source?.uidValidity !== undefined && source.uidValidity === target?.uidValidity;
  const verdict: UidComparison['verdict'] = checked === 0 ? 'unknown' : sameValidity && kept === checked ? 'kept' : 'changed';
  return {
    mailbox,
    folder,
    source: { messages: sourceMessages.length, bytes: sum(sourceMessages) },
    target: { messages: targetMessages.length, bytes: sum(targetMessages) },
    missing,
    missingSourceUids,
    duplicates: [...duplicates],
    extraOnTarget,
    flagDifferences,
    sizeDifferences,
    uids: {
      ...(source?.uidValidity !== undefined ? { sourceUidValidity: source.uidValidity } : {}),
      ...(target?.uidValidity !== undefined ? { targetUidValidity: target.uidValidity } : {}),
      checked,
      kept,
      changed: checked - kept,
      verdict,
    },
  };
}

function sum(messages: readonly MessageMeta[]): number {
  let total = 0;
  for (const m of messages) total += m.sizeBytes;
  return total;
}
