import path from 'node:path';
import type { Logger } from '../../../core/logger.js';
import type { ResyncOptions, ResyncTree } from './options.js';
import { messagePath, type ResyncPlan } from './plan.js';

/**
 * Step 2 of a resync, after the plan: mail delivered to both servers during the DNS split is on the target under
 * another name (each server named its own file). A candidate (a source message the target lacks) is dropped when a
 * message only on the target has the same Message-ID AND the same content (identity headers and body; see
 * dedupe-read.ts). Message-IDs are read first, for all candidates and target-only messages; content only for the few
 * that matched.
 */

/** The candidates (relative paths, as messagePath gives them) that are duplicates of mail only on the target. */
export async function findDuplicates(tree: ResyncTree, plan: ResyncPlan, staging: string, options: ResyncOptions, logger: Logger): Promise<Set<string>> {
  const candidates: string[] = [];
  const targetOnly: string[] = [];
  for (const folder of plan.folders) {
    for (const copy of folder.copies) candidates.push(messagePath(folder.dir, copy));
    for (const file of folder.targetOnly) targetOnly.push(messagePath(folder.dir, file));
  }
  if (candidates.length === 0 || targetOnly.length === 0) return new Set();
  // The readers (hashing, header parsing) are loaded only when there is something to compare: start-up time counts.
  const { readContentKeys, readMessageIds } = await import('./dedupe-read.js');
  const readOptions = { ...(options.ssh ? { ssh: options.ssh } : {}), ...(options.signal ? { signal: options.signal } : {}) };
  const [sourceIds, targetIds] = await Promise.all([
    readMessageIds(tree.source.host, tree.source.root, candidates, readOptions),
    readMessageIds(tree.target.host, tree.target.root, targetOnly, readOptions),
  ]);
  const candidateRecords = candidates.map((id) => ({ id, ...(sourceIds.get(id) ? { messageId: sourceIds.get(id)! } : {}) }));
  const targetRecords = targetOnly.map((id) => ({ id, ...(targetIds.get(id) ? { messageId: targetIds.get(id)! } : {}) }));
  const matched = matchByMessageId(candidateRecords, targetRecords);
  if (matched.candidates.size === 0) return new Set();
  logger.debug(`dedupe: ${matched.candidates.size} candidate(s) share a Message-ID with mail only on the target; comparing content`);
  const [sourceKeys, targetKeys] = await Promise.all([
    readContentKeys(tree.source.host, tree.source.root, [...matched.candidates], path.join(staging, 'dedupe-src'), readOptions),
    readContentKeys(tree.target.host, tree.target.root, [...matched.targets], path.join(staging, 'dedupe-dst'), readOptions),
  ]);
  const withKeys = (records: typeof candidateRecords, keys: Map<string, string>) =>
    records.map((r) => (keys.has(r.id) ? { ...r, contentKey: keys.get(r.id)! } : r));
  return decideDuplicates(withKeys(candidateRecords, sourceKeys), withKeys(targetRecords, targetKeys));
}

export interface DedupeCandidate {
  /** Anything unique (the message's relative path). */
  readonly id: string;
  readonly messageId?: string;
  /** Identity key (Message-ID and stable headers) plus body hash; only computed when a Message-ID matched. */
  readonly contentKey?: string;
}

/** Pairs of (source candidate, target-only message) sharing a Message-ID: only these need their content read. */
export function matchByMessageId(candidates: readonly DedupeCandidate[], targetOnly: readonly DedupeCandidate[]): { candidates: Set<string>; targets: Set<string> } {
  const targetIds = new Set<string>();
  for (const t of targetOnly) if (t.messageId) targetIds.add(t.messageId);
  const matchedIds = new Set<string>();
  const out = { candidates: new Set<string>(), targets: new Set<string>() };
  for (const c of candidates) {
    if (c.messageId && targetIds.has(c.messageId)) {
      out.candidates.add(c.id);
      matchedIds.add(c.messageId);
    }
  }
  for (const t of targetOnly) if (t.messageId && matchedIds.has(t.messageId)) out.targets.add(t.id);
  return out;
}

/**
 * Which candidates are duplicates of a message already on the target: same Message-ID AND same content key. Each
 * target message stands for at most one candidate (if the source holds the message twice and the target once, one
 * copy still goes over). Messages without a Message-ID or without a content key are never treated as duplicates.
 */
export function decideDuplicates(candidates: readonly DedupeCandidate[], targetOnly: readonly DedupeCandidate[]): Set<string> {
  const available = new Map<string, number>();
  for (const t of targetOnly) {
    if (!t.messageId || !t.contentKey) continue;
    const key = `${t.messageId}\u0000${t.contentKey}`;
    available.set(key, (available.get(key) ?? 0) + 1);
  }
  const duplicates = new Set<string>();
  for (const c of candidates) {
    if (!c.messageId || !c.contentKey) continue;
    const key = `${c.messageId}\u0000${c.contentKey}`;
    const left = available.get(key) ?? 0;
    if (left > 0) {
      available.set(key, left - 1);
      duplicates.add(c.id);
    }
  }
  return duplicates;
}