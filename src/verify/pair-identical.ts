import type { FolderSnapshot, MessageMeta } from './snapshot.js';

/**
 * Cross-format verify keys a message by its identity (Message-ID + header hash), which identical messages share: a
 * folder holding the same message three times (a mailing-list copy, mail resent) has three messages under one key.
 * compareFolder pairs messages by key, so each occurrence needs a key of its own (KEY, KEY#2, KEY#3) and the two
 * sides must number the same message alike, or a correct copy shows "other flags" and "UIDs changed".
 *
 * Pure. Within each identity, a target message is paired with a source message by UID first (same UIDVALIDITY on
 * both sides, so the UID names the same message), then by equal flags, then in listing order; paired messages get
 * the same number, the source's own. Target messages left over (the target holds the identity more often) get the
 * numbers after the source's and show up as duplicates, as before.
 */
export function numberIdenticalMessages(source: FolderSnapshot, target: FolderSnapshot | undefined): { source: FolderSnapshot; target: FolderSnapshot | undefined } {
  const sourceGroups = groupByKey(source.messages);
  const sourceKeys = new Map<MessageMeta, string>();
  for (const [key, group] of sourceGroups) group.forEach((message, index) => sourceKeys.set(message, numbered(key, index)));
  const numberedSource = { ...source, messages: source.messages.map((message) => ({ ...message, key: sourceKeys.get(message)! })) };
  if (!target) return { source: numberedSource, target };

  const sameUidValidity = source.uidValidity !== undefined && source.uidValidity === target.uidValidity;
  const targetKeys = new Map<MessageMeta, string>();
  for (const [key, group] of groupByKey(target.messages)) {
    const sources = sourceGroups.get(key) ?? [];
    const pairedSource = new Set<number>();
    // Each pass pairs a target message with the first source message still unpaired that has the same match key,
    // through a queue per key: linear in the group, which can be one message held thousands of times.
    const pair = (matchKeyOf: (message: MessageMeta) => string | undefined) => {
      const unpaired = new Map<string, number[]>();
      sources.forEach((from, at) => {
        const matchKey = pairedSource.has(at) ? undefined : matchKeyOf(from);
        if (matchKey === undefined) return;
        const queue = unpaired.get(matchKey);
        if (queue) queue.push(at);
        else unpaired.set(matchKey, [at]);
      });
      for (const message of group) {
        if (targetKeys.has(message)) continue;
        const matchKey = matchKeyOf(message);
        const index = matchKey === undefined ? undefined : unpaired.get(matchKey)?.shift();
        if (index === undefined) continue;
        pairedSource.add(index);
        targetKeys.set(message, numbered(key, index));
      }
    };
    if (sameUidValidity) pair((message) => (message.uid !== undefined ? String(message.uid) : undefined));
    pair((message) => message.flags);
    pair(() => '');
    let extra = sources.length;
    for (const message of group) if (!targetKeys.has(message)) targetKeys.set(message, numbered(key, extra++));
  }
  return { source: numberedSource, target: { ...target, messages: target.messages.map((message) => ({ ...message, key: targetKeys.get(message)! })) } };
}

function numbered(key: string, index: number): string {
  return index === 0 ? key : `${key}#${index + 1}`;
}

function groupByKey(messages: readonly MessageMeta[]): Map<string, MessageMeta[]> {
  const groups = new Map<string, MessageMeta[]>();
  for (const message of messages) {
    const group = groups.get(message.key);
    if (group) group.push(message);
    else groups.set(message.key, [message]);
  }
  return groups;
}
