import { describe, expect, it } from 'vitest';
import { foldersNeedingKeywords } from '../../../../src/engine/tree/resync/keywords.js';
import type { FolderListing, MessageFile, TreeListing } from '../../../../src/engine/tree/resync/plan.js';

function listing(...folders: FolderListing[]): TreeListing {
  return { folders: new Map(folders.map((f) => [f.dir, f])), blocked: new Map(), ignoredEntries: 0 };
}

function folder(dir: string, names: string[], hasKeywordsFile: boolean): FolderListing {
  const messages: MessageFile[] = names.map((name) => ({ sub: 'cur', name }));
  return { dir, subdirs: new Set(['cur', 'new', 'tmp']), messages, hasKeywordsFile, hasMaildirfolderFile: dir !== '' };
}

describe('foldersNeedingKeywords', () => {
  it('reads a folder table only where a file name on either side uses a keyword letter and the table exists', () => {
    const source = listing(folder('', ['1:2,Sa'], true), folder('.Sent', ['2:2,S'], true), folder('.Work', ['3:2,b'], false));
    const target = listing(folder('.Sent', ['4:2,Sc'], true));
    expect([...foldersNeedingKeywords(source, target)].sort()).toEqual(['', '.Sent']);
  });

  it('ignores letters in the non-standard fields after a further comma', () => {
    expect(foldersNeedingKeywords(listing(folder('', ['1:2,S,xyz'], true)), listing()).size).toBe(0);
  });
});
