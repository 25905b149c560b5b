import { maildirBaseName } from '../../../converters/maildir/filename.js';
import { parseDovecotKeywords } from '../../../converters/maildir/keywords.js';
import { parseUidlist } from '../../../converters/maildir/uidlist.js';
import { formatSubscriptionsV2, parseSubscriptions } from '../../../converters/folders/subscriptions.js';

/**
 * What to do with a Dovecot control file that the target already has when a copy brings the source's version.
 * Pure. The rule: never lose what the target knows.
 *
 * - dovecot-uidlist: the source's list replaces the target's only when the target's is an older state of the same
 *   list (same UIDVALIDITY, every message the target lists is in the source's list with the same UID). Otherwise the
 *   target keeps its own: it has messages (or a UIDVALIDITY) the source does not know, and two uidlists cannot be
 *   merged by file copy (maildir-format.md §5). The copied messages then get new UIDs from the target's Dovecot.
 * - dovecot-keywords: replaced only when the source maps every letter the target uses to the same name.
 * - subscriptions: the union of both (a subscription is never dropped).
 * - anything else (maildirsize, dovecot-uidvalidity): the target's stays.
 */
export type ControlDecision =
  | { readonly action: 'keep-target'; readonly reason: string }
  | { readonly action: 'take-source'; readonly reason: string }
  | { readonly action: 'write'; readonly text: string; readonly reason: string };

export function decideControlFile(name: string, sourceText: string, targetText: string): ControlDecision {
  if (sourceText === targetText) return { action: 'keep-target', reason: 'identical' };
  if (name === 'dovecot-uidlist') return decideUidlist(sourceText, targetText);
  if (name === 'dovecot-keywords') return decideKeywords(sourceText, targetText);
  if (name === 'subscriptions') return decideSubscriptions(sourceText, targetText);
  return { action: 'keep-target', reason: 'the target already has its own' };
}

export function decideUidlist(sourceText: string, targetText: string): ControlDecision {
  let source;
  let target;
  try {
    target = parseUidlist(targetText);
  } catch (err) {
    return { action: 'keep-target', reason: `target's dovecot-uidlist is not readable (${(err as Error).message}); left as it is` };
  }
  try {
    source = parseUidlist(sourceText);
  } catch (err) {
    return { action: 'keep-target', reason: `source's dovecot-uidlist is not readable (${(err as Error).message})` };
  }
  if (source.uidValidity !== target.uidValidity) {
    return {
      action: 'keep-target',
      reason: `target has its own UIDVALIDITY ${target.uidValidity} (source ${source.uidValidity}); copied messages get new UIDs there`,
    };
  }
  const sourceUidByBase = new Map<string, number>();
  for (const record of source.records) sourceUidByBase.set(maildirBaseName(record.fileName), record.uid);
  let unknown = 0;
  for (const record of target.records) {
    if (sourceUidByBase.get(maildirBaseName(record.fileName)) !== record.uid) unknown += 1;
  }
  if (unknown > 0) {
    return { action: 'keep-target', reason: `target lists ${unknown} message(s) the source does not have under the same UID` };
  }
  if (target.nextUid > source.nextUid) {
    return { action: 'keep-target', reason: `target already handed out UIDs up to ${target.nextUid - 1}` };
  }
  return { action: 'take-source', reason: 'target list is an older state of the source list' };
}

export function decideKeywords(sourceText: string, targetText: string): ControlDecision {
  const source = parseDovecotKeywords(sourceText);
  const target = parseDovecotKeywords(targetText);
  for (const [index, name] of target) {
    if (source.get(index) !== name) {
      return { action: 'keep-target', reason: `keyword letter ${String.fromCharCode(97 + index)} means "${name}" on the target but "${source.get(index) ?? '(none)'}" on the source` };
    }
  }
  return { action: 'take-source', reason: 'source keywords extend the target ones' };
}

export function decideSubscriptions(sourceText: string, targetText: string): ControlDecision {
  const merged = new Set([...parseSubscriptions(targetText), ...parseSubscriptions(sourceText)]);
  const text = formatSubscriptionsV2(merged);
  if (text === targetText) return { action: 'keep-target', reason: 'target already subscribes to everything' };
  return { action: 'write', text, reason: 'union of both subscription lists' };
}

/** The control files this decision covers, by file name. */
export const controlFileNames = ['dovecot-uidlist', 'dovecot-keywords', 'subscriptions'] as const;
