import { describe, expect, it } from 'vitest';
import { buildRefusalRule, classifyMaildirEntry, createMaildirScanner } from '../../../src/engine/tree/copy-safety.js';
import { isOnlyUndecodable } from '../../../src/cpanel/unsafe.js';
import type { TreeEntry } from '../../../src/hosts/find.js';

const entry = (p: string, type: TreeEntry['type'] = 'file', extra: Partial<TreeEntry> = {}): TreeEntry => ({
  type, path: p, sizeBytes: 5, allocatedBytes: 4096, uid: 0, gid: 0, mode: 0o644, nlink: 1, mtimeMs: 0, ctimeMs: 0, device: 1, inode: 1, ...extra,
});

describe('classifyMaildirEntry (the rules discover reports as unsafe)', () => {
  it('refuses folders that climb or hold control characters, and message names with control characters', () => {
    expect(classifyMaildirEntry(entry('..hidden', 'dir'))?.kind).toBe('unsafe-name');
    expect(classifyMaildirEntry(entry('.bad\u001b[31mname', 'dir'))?.kind).toBe('unsafe-name');
    expect(classifyMaildirEntry(entry('cur/1.M1P1.host\nX-Injected: yes,S=3:2,S'))?.kind).toBe('unsafe-name');
    expect(classifyMaildirEntry(entry('.Sent', 'dir'))).toBeUndefined();
    expect(classifyMaildirEntry(entry('.a b [c] * ?', 'dir'))).toBeUndefined();
    expect(classifyMaildirEntry(entry('.Sent/cur/1.M1P1.host,S=5:2,S'))).toBeUndefined();
  });

  it('carries a name whose only fault is bytes that are not UTF-8, and says so by the rule discover uses', () => {
    // Bytes that were not UTF-8 reach us as U+FFFD.
    expect(classifyMaildirEntry(entry('.caf\uFFFD latin1', 'dir'))).toBeUndefined();
    expect(classifyMaildirEntry(entry('.caf\uFFFD latin1/cur/1.M1P1.host,S=5:2,S'))).toBeUndefined();
    expect(isOnlyUndecodable('.caf\uFFFD latin1', true)).toBe(true);
    // Undecodable bytes do not hide what else the name does: a level that climbs, a control character.
    for (const name of ['..caf\uFFFD', '.caf\uFFFD\u001b[31m']) {
      expect(classifyMaildirEntry(entry(name, 'dir'))?.kind).toBe('unsafe-name');
      expect(isOnlyUndecodable(name, true)).toBe(false);
    }
  });

  it('refuses sparse messages and messages whose huge ,S= their length does not have', () => {
    expect(classifyMaildirEntry(entry('cur/1.M1P1.host,S=34359738368:2,S', 'file', { sizeBytes: 34359738368, allocatedBytes: 0 }))?.kind).toBe('sparse-file');
    expect(classifyMaildirEntry(entry('.Sent/new/1.M1P1.host,S=34359738368', 'file', { sizeBytes: 5, allocatedBytes: 4096 }))?.kind).toBe('size-mismatch');
    expect(classifyMaildirEntry(entry('cur/1.M1P1.host,S=104857600:2,S', 'file', { sizeBytes: 104857600, allocatedBytes: 104857600 }))).toBeUndefined();
  });

  it('lists links out of the tree and special files, which rsync leaves behind anyway', () => {
    expect(classifyMaildirEntry(entry('.Leak', 'symlink', { linkTarget: '/etc' }))?.kind).toBe('symlink-outside-tree');
    expect(classifyMaildirEntry(entry('a.example/stolen', 'symlink', { linkTarget: '../../victim' }))?.kind).toBe('symlink-outside-tree');
    expect(classifyMaildirEntry(entry('.info@a_example', 'symlink', { linkTarget: 'a.example/info' }))).toBeUndefined();
    expect(classifyMaildirEntry(entry('new/fifo', 'other'))?.kind).toBe('special-file');
  });
});

describe('buildRefusalRule', () => {
  it('matches exactly the refused path, wildcards in the name taken literally', () => {
    expect(buildRefusalRule('..hidden', true)).toEqual({ action: 'exclude', pattern: '/..hidden/' });
    expect(buildRefusalRule('cur/a*b', false)).toEqual({ action: 'exclude', pattern: '/cur/a[*]b' });
    // Bytes that were not UTF-8 reached us as U+FFFD: they match as '*'.
    expect(buildRefusalRule('cur/caf\uFFFD x', false)).toEqual({ action: 'exclude', pattern: '/cur/caf* x' });
  });
});

describe('createMaildirScanner', () => {
  it('does not look below a refused folder, another job\'s tree or tmp/, and sums the rest', () => {
    const scanner = createMaildirScanner({ label: 'm', sourceRoot: '/src', skipDirs: ['a.example/info'] });
    for (const e of [
      entry('..hidden', 'dir'), entry('..hidden/cur/1.M1P1.h\u0001x'),
      entry('a.example/info/cur/2.M1P1.h\u0001x'), entry('tmp/3.M1P1.h\u0001x'),
      entry('cur/4.M1P1.h,S=5:2,S'),
    ]) scanner.add(e);
    expect(scanner.refused.map((r) => r.path)).toEqual(['/src/..hidden']);
    expect(scanner.rules).toEqual([{ action: 'exclude', pattern: '/..hidden/' }]);
    expect(scanner.totals).toEqual({ bytes: 5, files: 1 });
  });
});
