import { maildirppToMailboxPath } from '../../../../converters/folders/maildirpp.js';
import { formatSubscriptionsV2, parseSubscriptions } from '../../../../converters/folders/subscriptions.js';
import { readSmallFiles, writeSmallFile, type Owner, type SideOptions } from './ends.js';
import type { ResyncTree } from './options.js';

/**
 * Folders this run created are subscribed on the target when the source subscribes to them (the user made them on
 * the old server after the copy and expects to see them). Nothing else in the target's list changes: a folder the
 * user unsubscribed on the new server stays unsubscribed.
 */

/**
 * The target's subscriptions plus those of `newFolders` (mailbox paths) that the source subscribes to; undefined
 * when nothing is to be added. Nothing is removed and no other name is added. Pure.
 */
export function decideSubscriptionAdditions(sourceText: string, targetText: string, newFolders: readonly string[]): { text: string; added: string[] } | undefined {
  const source = new Set(parseSubscriptions(sourceText));
  const target = parseSubscriptions(targetText);
  const have = new Set(target);
  const added = newFolders.filter((name) => source.has(name) && !have.has(name));
  if (added.length === 0) return undefined;
  return { text: formatSubscriptionsV2([...target, ...added]), added };
}

/**
 * New folder dirs grouped by the mailbox whose subscriptions file lists them: '' for a plain maildir, DOMAIN/LOCAL
 * for a cPanel mailbox (its subscriptions sit at its root), each with its mailbox path. A new mailbox root (no
 * leading '.') and a name that does not decode are not folders to subscribe. Pure.
 */
export function groupNewFoldersByMailbox(newFolders: readonly string[]): Map<string, { dir: string; name: string }[]> {
  const byMailbox = new Map<string, { dir: string; name: string }[]>();
  for (const dir of newFolders) {
    const slash = dir.lastIndexOf('/');
    const mailbox = slash < 0 ? '' : dir.slice(0, slash);
    const folderDir = slash < 0 ? dir : dir.slice(slash + 1);
    if (!folderDir.startsWith('.')) continue;
    let name: string;
    try {
      name = maildirppToMailboxPath(folderDir);
    } catch {
      continue;
    }
    const list = byMailbox.get(mailbox) ?? [];
    list.push({ dir, name });
    byMailbox.set(mailbox, list);
  }
  return byMailbox;
}

/** Subscribes the new folders the source subscribes to; returns the folder dirs now subscribed. */
export async function subscribeNewFolders(
  tree: ResyncTree,
  newFolders: readonly string[],
  owner: Owner,
  options: SideOptions,
  warnings: string[],
): Promise<Set<string>> {
  const done = new Set<string>();
  for (const [mailbox, folders] of groupNewFoldersByMailbox(newFolders)) {
    const rel = mailbox === '' ? 'subscriptions' : `${mailbox}/subscriptions`;
    const [sourceTexts, targetTexts] = await Promise.all([readSmallFiles(tree.source, [rel], options), readSmallFiles(tree.target, [rel], options)]);
    const decision = decideSubscriptionAdditions(sourceTexts.get(rel) ?? '', targetTexts.get(rel) ?? '', folders.map((f) => f.name));
    if (!decision) continue;
    if (!(await writeSmallFile(tree.target, rel, decision.text, owner))) {
      warnings.push(`${rel}: could not add ${decision.added.join(', ')}; subscribe them in the mail client`);
      continue;
    }
    for (const f of folders) if (decision.added.includes(f.name)) done.add(f.dir);
  }
  return done;
}
