import { isMailshiftError, throwIfAborted } from '../../core/errors.js';
import type { MessageRef } from '../../core/types.js';
import type { ListedMessage, Mailbox } from '../../stores/store.js';
import { buildContentHash, buildIdentity, identityHeaderFields } from '../identity.js';
import type { Candidate, FolderContext, TargetEntry } from './context.js';
import { readAll, readHead } from './read.js';

/**
 * Pairing source messages with what the target holds, by identity (Message-ID + normalised header hash), each target
 * message claimed at most once: identical messages are counted, never collapsed.
 */

/**
 * Source messages at or below the watermark (copied by earlier runs) that share an identity with a new candidate the
 * target holds: they are on the target already and hold their copies there before any new message is matched.
 * Listed only when some new message's identity is on the target at all, which new mail seldom is.
 */
export async function listEarlierNamesakes(
  context: FolderContext,
  sourceBox: Mailbox,
  afterUid: number,
  candidates: readonly Candidate[],
  index: ReadonlyMap<string, TargetEntry[]>,
): Promise<Candidate[]> {
  const wanted = new Set<string>();
  for (const candidate of candidates) if (candidate.identity && index.has(candidate.identity.key)) wanted.add(candidate.identity.key);
  if (wanted.size === 0) return [];
  const { signal } = context;
  const earlier: Candidate[] = [];
  for await (const ref of sourceBox.list(signal, { headerFields: identityHeaderFields })) {
    if (ref.uid === undefined || ref.uid > afterUid || ref.problem) continue;
    const identity = buildIdentity(ref.headers ?? (await readHead(sourceBox, ref, signal)));
    if (wanted.has(identity.key)) earlier.push({ ref, identity });
  }
  earlier.sort((a, b) => a.ref.uid! - b.ref.uid!);
  return earlier;
}

/**
 * Pairs source messages (in this order) with target messages of the same identity, each target message claimed at
 * most once: an identity the source holds n times and the target m times pairs min(n, m) of them, and the rest of
 * the source's are to be copied. A target message written from a source message (a maildir names it from the source
 * UID) goes to that message first, so what an interrupted run wrote is recognised as exactly what it is.
 */
export async function claimTargetMessages(
  context: FolderContext,
  index: ReadonlyMap<string, TargetEntry[]>,
  sources: readonly Candidate[],
  sourceBox: Mailbox,
  targetBox: Mailbox | undefined,
  sourceKeyPrefix: string | undefined,
): Promise<Map<Candidate, TargetEntry>> {
  const claims = new Map<Candidate, TargetEntry>();
  if (targetBox?.sourceKeyFingerprint && sourceKeyPrefix !== undefined) {
    const byWrittenFrom = new Map<string, TargetEntry>();
    for (const entries of index.values()) for (const entry of entries) if (entry.ref.writtenFrom !== undefined) byWrittenFrom.set(entry.ref.writtenFrom, entry);
    for (const candidate of byWrittenFrom.size > 0 ? sources : []) {
      if (!candidate.identity || candidate.ref.uid === undefined) continue;
      const entry = byWrittenFrom.get(targetBox.sourceKeyFingerprint(`${sourceKeyPrefix}${candidate.ref.uid}`));
      if (!entry || entry.isTaken || entry.identity.key !== candidate.identity.key) continue;
      entry.isTaken = true;
      claims.set(candidate, entry);
    }
  }
  // Content hashes read once: a message the pairing by content read is not read again by takeMatch.
  const contentHashes = new Map<ListedMessage, string>();
  if (targetBox) await claimSameContent(context, index, sources, claims, sourceBox, targetBox, contentHashes);
  for (const candidate of sources) {
    throwIfAborted(context.signal);
    if (claims.has(candidate) || !candidate.identity) continue;
    const entry = await takeMatch(context, index, candidate, sourceBox, targetBox, contentHashes);
    if (entry) claims.set(candidate, entry);
  }
  return claims;
}

/**
 * Where one identity stands for several messages on either side, pairs those of the same content before any are
 * paired in order. One identity can hold different messages: a message and its copy from a mailing list share
 * Message-ID, Date, From, To and Subject, and differ in the list's footer (often not even in length). Paired in
 * order, the source's first could take the target's copy of the second; the second would then be copied again and
 * the first never, a message lost with the counts all right. Content and flags that agree pair first, then content
 * alone: of identical copies, the one copied earlier keeps its target copy (a source without UIDs lists a copy
 * delivered later, under a name that sorts first, before it) and the later one is copied with its own flags. What
 * does not pair up (a server that rewrites what it stores, a message gone meanwhile) is left to the pairing in order,
 * as before. Reads only the messages of such groups, which are few: new mail seldom shares an identity.
 */
async function claimSameContent(
  context: FolderContext,
  index: ReadonlyMap<string, TargetEntry[]>,
  sources: readonly Candidate[],
  claims: Map<Candidate, TargetEntry>,
  sourceBox: Mailbox,
  targetBox: Mailbox,
  contentHashes: Map<ListedMessage, string>,
): Promise<void> {
  const byKey = new Map<string, Candidate[]>();
  for (const candidate of sources) {
    const identity = candidate.identity;
    if (claims.has(candidate) || !identity || !index.has(identity.key)) continue;
    const group = byKey.get(identity.key);
    if (group) group.push(candidate);
    else byKey.set(identity.key, [candidate]);
  }
  const { signal } = context;
  for (const [key, group] of byKey) {
    const entries = index.get(key)!.filter((entry) => !entry.isTaken);
    // One against one is takeMatch's (by size where comparable, by content for a message without Message-ID).
    if (entries.length === 0 || (group.length < 2 && entries.length < 2)) continue;
    const entryHashes: (string | undefined)[] = [];
    for (const entry of entries) entryHashes.push(await hashContentIfReadable(targetBox, entry.ref, signal, contentHashes));
    const hashes = new Map<Candidate, string | undefined>();
    for (const candidate of group) {
      throwIfAborted(signal);
      hashes.set(candidate, await hashContentIfReadable(sourceBox, candidate.ref, signal, contentHashes));
    }
    for (const isFlagged of [true, false]) {
      for (const candidate of group) {
        if (claims.has(candidate)) continue;
        const hash = hashes.get(candidate);
        if (hash === undefined) continue;
        const at = entries.findIndex((entry, i) => !entry.isTaken && entryHashes[i] === hash && (!isFlagged || hasSameFlags(entry.ref, candidate.ref)));
        if (at < 0) continue;
        entries[at]!.isTaken = true;
        claims.set(candidate, entries[at]!);
      }
    }
  }
}

function hasSameFlags(a: ListedMessage, b: ListedMessage): boolean {
  const same = (x: ReadonlySet<string>, y: ReadonlySet<string>) => x.size === y.size && [...x].every((each) => y.has(each));
  return same(a.flags, b.flags) && same(a.keywords, b.keywords);
}

/**
 * The message's content hash with line ends as CRLF (equal for the same message in a maildir and on an IMAP server),
 * read once per run of the pairing (`known`).
 */
async function hashContent(box: Mailbox, ref: ListedMessage, signal: AbortSignal, known: Map<ListedMessage, string>): Promise<string> {
  let hash = known.get(ref);
  if (hash === undefined) {
    hash = buildContentHash(await readAll(await box.read(ref, signal)));
    known.set(ref, hash);
  }
  return hash;
}

/** hashContent, or undefined for a message that cannot be read now (renamed or removed since it was listed). */
async function hashContentIfReadable(box: Mailbox, ref: ListedMessage, signal: AbortSignal, known: Map<ListedMessage, string>): Promise<string | undefined> {
  try {
    return await hashContent(box, ref, signal, known);
  } catch (err) {
    if (isMailshiftError(err) && err.scope === 'message') return undefined;
    throw err;
  }
}

/** True when the target store wrote `target` from the source message `source` (it keeps a fingerprint of its source key). */
export function isWrittenFrom(targetBox: Mailbox, target: ListedMessage, sourceKeyPrefix: string | undefined, source: MessageRef): boolean {
  if (!targetBox.sourceKeyFingerprint || target.writtenFrom === undefined || sourceKeyPrefix === undefined || source.uid === undefined) return false;
  return target.writtenFrom === targetBox.sourceKeyFingerprint(`${sourceKeyPrefix}${source.uid}`);
}

/**
 * Finds an unclaimed target message with the same identity and claims it. Sizes must agree when both sides count
 * them alike; a message without Message-ID must also have the same content (its key rests on few headers).
 */
async function takeMatch(
  context: FolderContext,
  index: ReadonlyMap<string, TargetEntry[]>,
  candidate: Candidate,
  sourceBox: Mailbox,
  targetBox: Mailbox | undefined,
  contentHashes: Map<ListedMessage, string>,
): Promise<TargetEntry | undefined> {
  const identity = candidate.identity!;
  const entries = index.get(identity.key);
  if (!entries) return undefined;
  for (const entry of entries) {
    if (entry.isTaken) continue;
    if (context.sizeIsComparable && candidate.ref.sizeBytes !== undefined && entry.ref.sizeBytes !== undefined && candidate.ref.sizeBytes !== entry.ref.sizeBytes) continue;
    if (identity.isWeak && targetBox) {
      const sourceHash = await hashContent(sourceBox, candidate.ref, context.signal, contentHashes);
      if (sourceHash !== (await hashContent(targetBox, entry.ref, context.signal, contentHashes))) continue;
    }
    entry.isTaken = true;
    return entry;
  }
  return undefined;
}
