import { decodeInfo } from '../../../../converters/maildir/filename.js';
import type { KeywordAllocator, KeywordTable } from '../../../../converters/maildir/keywords.js';

/**
 * The info part of a maildir file name (after ':2,') as resync compares and rewrites it: flag letters, Dovecot's
 * keyword letters (a-z, which mean different keywords in different folders and on different servers: dovecot-keywords
 * is per folder) and non-standard fields after a further ','. Pure.
 */

/** The text after ':2,' (undefined for a name without it, as in new/). */
export function infoOf(name: string): string | undefined {
  const colon = name.indexOf(':');
  if (colon < 0) return undefined;
  const rest = name.slice(colon + 1);
  return rest.startsWith('2,') ? rest.slice(2) : undefined;
}

export function hasLowercase(info: string | undefined): boolean {
  if (info === undefined) return false;
  for (let i = 0; i < info.length; i++) {
    const c = info.charCodeAt(i);
    if (c >= 97 && c <= 122) return true;
  }
  return false;
}

/** The flag letters of an info part, without Dovecot's non-standard fields after a further ','. */
export function lettersOf(info: string | undefined): string {
  return (info ?? '').split(',')[0] ?? '';
}

/** Non-standard fields after the letters (',...'), kept verbatim on a rename (maildir-format.md §1.4). */
export function extrasOf(info: string | undefined): string {
  const comma = (info ?? '').indexOf(',');
  return comma < 0 ? '' : (info ?? '').slice(comma);
}

/**
 * A comparable description of a message's flags: its upper-case letters (system flags, P, unknown ones) plus the
 * NAMES of its keywords. Equal descriptions mean equal flags even when the two folders use different letters.
 */
export function describeFlags(info: string | undefined, table: KeywordTable): string {
  const letters = lettersOf(info);
  const decoded = decodeInfo(letters);
  const upper = [...letters].filter((c) => !(c >= 'a' && c <= 'z'));
  const names = decoded.keywordIndexes.map((index) => table.get(index) ?? `?${String.fromCharCode(97 + index)}`);
  return `${[...new Set(upper)].sort().join('')}|${[...new Set(names)].sort().join(' ')}`;
}

/**
 * Translates the letters of an info part from the source folder's keyword table to the target's. Upper-case letters
 * pass unchanged; a keyword letter is looked up by name and given the target's letter for that name (allocated if the
 * target has none). A letter the source table does not name keeps its meaning only if the target does not name it
 * either. The result is sorted, as maildir requires.
 */
export function translateInfo(info: string, sourceTable: KeywordTable, targetTable: KeywordTable, allocator: KeywordAllocator, dropped: Set<string>): string {
  const letters = lettersOf(info);
  const out = new Set<string>();
  for (const letter of letters) {
    if (!(letter >= 'a' && letter <= 'z')) {
      out.add(letter);
      continue;
    }
    const index = letter.charCodeAt(0) - 97;
    const name = sourceTable.get(index);
    if (name === undefined) {
      if (!targetTable.has(index) && !allocatorUses(allocator, index)) out.add(letter);
      continue;
    }
    const targetIndex = allocator.indexOf(name);
    if (targetIndex === undefined) dropped.add(name);
    else out.add(String.fromCharCode(97 + targetIndex));
  }
  return `${[...out].sort().join('')}${extrasOf(info)}`;
}

function allocatorUses(allocator: KeywordAllocator, index: number): boolean {
  return allocator.table().has(index);
}

/** Union of two letter sets (target's extras kept). */
export function mergeLetters(targetInfo: string | undefined, sourceLetters: string): string {
  const letters = new Set([...lettersOf(targetInfo), ...lettersOf(sourceLetters)]);
  return `${[...letters].sort().join('')}${extrasOf(targetInfo)}`;
}
