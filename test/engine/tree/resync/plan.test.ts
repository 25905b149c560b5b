import { describe, expect, it } from 'vitest';
import {
  diffSourceListings,
  indexByBase,
  messagePath,
  planResync,
  type FolderListing,
  type MessageFile,
  type TreeListing,
} from '../../../../src/engine/tree/resync/plan.js';

function folder(dir: string, messages: MessageFile[] = [], extra: Partial<FolderListing> = {}): FolderListing {
  return { dir, subdirs: new Set(['cur', 'new', 'tmp']), messages, hasKeywordsFile: false, hasMaildirfolderFile: dir !== '', ...extra };
}

function tree(...folders: FolderListing[]): TreeListing {
  return { folders: new Map(folders.map((f) => [f.dir, f])), blocked: new Map(), ignoredEntries: 0 };
}

const cur = (name: string): MessageFile => ({ sub: 'cur', name });
const nw = (name: string): MessageFile => ({ sub: 'new', name });

describe('planResync', () => {
  it('never copies a message twice when only its flags changed on the source', () => {
    const plan = planResync({
      source: tree(folder('', [cur('1.M1.h,S=10:2,RS')])),
      target: tree(folder('', [cur('1.M1.h,S=10:2,S')])),
      flags: 'target',
    });
    const inbox = plan.folders[0]!;
    expect(inbox.copies).toEqual([]);
    expect(inbox.alreadyPresent).toBe(1);
    expect(inbox.flagDifferences).toEqual([{ base: '1.M1.h,S=10', sourceName: '1.M1.h,S=10:2,RS', targetName: '1.M1.h,S=10:2,S' }]);
    expect(inbox.renames).toEqual([]);
  });

  it('recognises a message the source moved from new/ to cur/ as already present', () => {
    const plan = planResync({ source: tree(folder('', [cur('2.M1.h:2,S')])), target: tree(folder('', [nw('2.M1.h')])), flags: 'target' });
    expect(plan.folders[0]!.copies).toEqual([]);
    expect(plan.folders[0]!.alreadyPresent).toBe(1);
  });

  it('copies only base names the target lacks in both new/ and cur/, keeping the sub-directory', () => {
    const plan = planResync({
      source: tree(folder('', [nw('3.a'), cur('4.b:2,S'), cur('5.c:2,')])),
      target: tree(folder('', [cur('5.c:2,'), nw('9.target-only')])),
      flags: 'target',
    });
    const inbox = plan.folders[0]!;
    expect(inbox.copies).toEqual([
      { sub: 'new', name: '3.a', targetName: '3.a' },
      { sub: 'cur', name: '4.b:2,S', targetName: '4.b:2,S' },
    ]);
    expect(inbox.targetOnly).toEqual([nw('9.target-only')]);
  });

  it('plans a folder that exists only on the source as new, and never plans target-only folders', () => {
    const plan = planResync({
      source: tree(folder('', []), folder('.Work', [cur('1.x:2,S')])),
      target: tree(folder(''), folder('.OnlyThere', [cur('2.y:2,S')])),
      flags: 'target',
    });
    expect(plan.folders.map((f) => [f.dir, f.isNew])).toEqual([
      ['', false],
      ['.Work', true],
    ]);
  });

  it('refuses to plan a folder whose target directory is blocked (a symlink), and folders under a blocked mailbox', () => {
    const target: TreeListing = { folders: new Map(), blocked: new Map([['.Evil', 'a symlink (not followed)'], ['example.com/info', 'symlink']]), ignoredEntries: 0 };
    const plan = planResync({ source: tree(folder('.Evil', [cur('1.x:2,S')]), folder('example.com/info/.Sent', [cur('2.x:2,S')])), target, flags: 'target' });
    expect(plan.folders).toEqual([]);
    expect(plan.skippedFolders.map((s) => s.dir)).toEqual(['.Evil', 'example.com/info/.Sent']);
  });

  it('lists a source folder whose name is not UTF-8 as not written, but not the source\'s symlinked folders', () => {
    const source: TreeListing = {
      ...tree(folder('', [])),
      blocked: new Map([['.caf\ufffd latin1', 'its name is not valid UTF-8'], ['.alice@example_com', 'a symlink (not followed)']]),
    };
    const plan = planResync({ source, target: tree(folder('')), flags: 'target' });
    expect(plan.skippedFolders).toEqual([{ dir: '.caf\ufffd latin1', reason: 'its name is not valid UTF-8' }]);
  });

  it('lists missing subdirectories of an existing target folder', () => {
    const plan = planResync({ source: tree(folder('.A', [])), target: tree(folder('.A', [], { subdirs: new Set(['cur']) })), flags: 'target' });
    expect(plan.folders[0]!.missingSubdirs).toEqual(['new', 'tmp']);
  });

  it('with --flags=source renames the target file to the source flags, moving it to cur/ when it gains flags', () => {
    const plan = planResync({
      source: tree(folder('', [cur('1.a:2,FS'), cur('2.b:2,S'), nw('3.c')])),
      target: tree(folder('', [cur('1.a:2,S'), nw('2.b'), cur('3.c:2,S')])),
      flags: 'source',
    });
    expect(plan.folders[0]!.renames).toEqual([
      { from: cur('1.a:2,S'), to: cur('1.a:2,FS') },
      { from: nw('2.b'), to: cur('2.b:2,S') },
      { from: cur('3.c:2,S'), to: cur('3.c:2,') },
    ]);
  });

  it('with --flags=merge takes the union and keeps the target\'s non-standard fields', () => {
    const plan = planResync({ source: tree(folder('', [cur('1.a:2,F')])), target: tree(folder('', [cur('1.a:2,S,XYZ')])), flags: 'merge' });
    expect(plan.folders[0]!.renames).toEqual([{ from: cur('1.a:2,S,XYZ'), to: cur('1.a:2,FS,XYZ') }]);
  });

  it('does not count the same keywords under different letters as a flag difference', () => {
    const plan = planResync({
      source: tree(folder('', [cur('1.a:2,Sa')])),
      target: tree(folder('', [cur('1.a:2,Sc')])),
      flags: 'source',
      keywords: { source: new Map([['', new Map([[0, 'Work']])]]), target: new Map([['', new Map([[2, 'Work']])]]) },
    });
    expect(plan.folders[0]!.flagDifferences).toEqual([]);
    expect(plan.folders[0]!.renames).toEqual([]);
  });

  it('translates keyword letters of copied messages to the target folder\'s table, allocating free letters', () => {
    const plan = planResync({
      source: tree(folder('', [cur('1.a:2,Sab')])),
      target: tree(folder('', [])),
      flags: 'target',
      keywords: { source: new Map([['', new Map([[0, '$Junk'], [1, 'Work']])]]), target: new Map([['', new Map([[0, 'Work']])]]) },
    });
    const inbox = plan.folders[0]!;
    expect(inbox.copies).toEqual([{ sub: 'cur', name: '1.a:2,Sab', targetName: '1.a:2,Sab' }]);
    expect([...(inbox.keywordUpdate ?? new Map())]).toEqual([
      [0, 'Work'],
      [1, '$Junk'],
    ]);
  });

  it('renames a copy whose keyword letter means another keyword on the target', () => {
    const plan = planResync({
      source: tree(folder('', [cur('1.a:2,Sb')])),
      target: tree(folder('', [])),
      flags: 'target',
      keywords: { source: new Map([['', new Map([[1, 'Work']])]]), target: new Map([['', new Map([[1, 'Private'], [3, 'Work']])]]) },
    });
    expect(plan.folders[0]!.copies).toEqual([{ sub: 'cur', name: '1.a:2,Sb', targetName: '1.a:2,Sd' }]);
    expect(plan.folders[0]!.keywordUpdate).toBeUndefined();
  });

  it('keeps a base name that appears twice on the source once, preferring cur/', () => {
    const indexed = indexByBase([nw('1.a'), cur('1.a:2,S')]);
    expect(indexed.duplicateBases).toBe(1);
    expect(indexed.byBase.get('1.a')).toEqual(cur('1.a:2,S'));
    const plan = planResync({ source: tree(folder('', [nw('1.a'), cur('1.a:2,S')])), target: tree(folder('', [])), flags: 'target' });
    expect(plan.folders[0]!.copies).toHaveLength(1);
    expect(plan.folders[0]!.sourceDuplicateBases).toBe(1);
  });

  it('plans only the folders asked for (watch mode)', () => {
    const plan = planResync({ source: tree(folder('', [nw('1')]), folder('.A', [nw('2')])), target: tree(folder(''), folder('.A')), flags: 'target', onlyFolders: new Set(['.A']) });
    expect(plan.folders.map((f) => f.dir)).toEqual(['.A']);
  });

  it('plans 100,000 messages (1% new, 5% with changed flags) by base name', () => {
    const messages: MessageFile[] = [];
    const target: MessageFile[] = [];
    for (let i = 0; i < 100_000; i++) {
      messages.push(cur(`${1_600_000_000 + i}.M${i}P1.host,S=1000:2,${i % 20 === 0 ? 'RS' : 'S'}`));
      if (i % 100 !== 0) target.push(cur(`${1_600_000_000 + i}.M${i}P1.host,S=1000:2,S`));
    }
    const plan = planResync({ source: tree(folder('', messages)), target: tree(folder('', target)), flags: 'target' });
    expect(plan.folders[0]!.copies).toHaveLength(1000);
    expect(plan.folders[0]!.alreadyPresent).toBe(99_000);
    expect(plan.folders[0]!.flagDifferences).toHaveLength(4000);
  });
});

describe('diffSourceListings', () => {
  it('counts new, renamed and vanished base names', () => {
    const before = tree(folder('', [nw('1'), cur('2:2,S'), cur('3:2,S')]));
    const after = tree(folder('', [cur('1:2,S'), cur('2:2,S'), nw('4')]), folder('.New', [nw('5')]));
    expect(diffSourceListings(before, after)).toEqual({ added: 2, renamed: 1, removed: 1 });
  });

  it('reports no change for identical listings', () => {
    const listing = tree(folder('', [nw('1'), cur('2:2,S')]));
    expect(diffSourceListings(listing, listing)).toEqual({ added: 0, renamed: 0, removed: 0 });
  });
});

describe('messagePath', () => {
  it('joins folder, sub-directory and name', () => {
    expect(messagePath('', cur('1:2,S'))).toBe('cur/1:2,S');
    expect(messagePath('example.com/info/.Sent', nw('1'))).toBe('example.com/info/.Sent/new/1');
  });
});
