/**
 * `dovecot-keywords`: one line per keyword, `<index> <name>`, index 0..25 <-> letters a..z in file names.
 * The table is per folder (maildir-format.md §1.5).
 */

export type KeywordTable = ReadonlyMap<number, string>;

export function parseDovecotKeywords(text: string): Map<number, string> {
  const table = new Map<number, string>();
  for (const line of text.split('\n')) {
    const match = /^(\d+) (.+)$/.exec(line.trimEnd());
    if (!match) continue;
    const index = Number(match[1]);
    if (index <= 25) table.set(index, match[2]!);
  }
  return table;
}

export function formatDovecotKeywords(table: KeywordTable): string {
  return [...table.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, name]) => `${index} ${name}\n`)
    .join('');
}

/** IMAP keyword atoms may not contain these (RFC 3501 atom-specials, plus '\' which marks system flags). */
export function isValidKeyword(name: string): boolean {
  return name.length > 0 && name.length <= 200 && !/[\u0000-\u0020\u007f(){%*"\\\]]/.test(name);
}

/**
 * Assigns letters to keywords, reusing existing assignments; returns undefined for a keyword when all 26 letters
 * are taken (Dovecot keeps further keywords only in its index, which we cannot write).
 */
export class KeywordAllocator {
  private readonly byName = new Map<string, number>();
  private readonly byIndex: Map<number, string>;
  private changed = false;

  constructor(existing: KeywordTable = new Map()) {
    this.byIndex = new Map(existing);
    for (const [index, name] of existing) this.byName.set(name, index);
  }

  indexOf(name: string): number | undefined {
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    for (let index = 0; index < 26; index++) {
      if (!this.byIndex.has(index)) {
        this.byIndex.set(index, name);
        this.byName.set(name, index);
        this.changed = true;
        return index;
      }
    }
    return undefined;
  }

  get hasChanged(): boolean {
    return this.changed;
  }

  table(): KeywordTable {
    return this.byIndex;
  }
}
