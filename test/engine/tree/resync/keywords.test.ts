import { spawnSync } from 'node:child_process';
import { existsSync, lutimesSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { foldersNeedingKeywords, isStaleDotlock, writeKeywordTable } from '../../../../src/engine/tree/resync/keywords.js';
import { LocalFileSide } from '../../../../src/hosts/local.js';
import { makeTempDir, type TempDir } from '../../../support/tmp.js';
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

describe('isStaleDotlock (Dovecot\'s rules for a lock left behind)', () => {
  const now = 1_800_000_000_000;
  const alive = (pid: number) => pid === 4242;
  it('is stale when it names a process of this host that is gone', () => {
    expect(isStaleDotlock('777:mail1', now, now, 'mail1', alive)).toBe(true);
    expect(isStaleDotlock('4242:mail1', now, now, 'mail1', alive)).toBe(false);
  });
  it('is not judged by a pid of another host, nor by an empty lock, until it is older than two minutes', () => {
    expect(isStaleDotlock('777:mail2', now, now, 'mail1', alive)).toBe(false);
    expect(isStaleDotlock('', now - 60_000, now, 'mail1', alive)).toBe(false);
    expect(isStaleDotlock('', now - 121_000, now, 'mail1', alive)).toBe(true);
    expect(isStaleDotlock('4242:mail1', now - 121_000, now, 'mail1', alive)).toBe(true);
  });
});

describe('writeKeywordTable', () => {
  let work: TempDir;
  beforeEach(async () => {
    work = await makeTempDir('resync-keywords');
  });
  afterEach(async () => {
    await work.cleanup();
  });

  it('takes over a dovecot-uidlist.lock left by a run that was killed, and leaves no lock behind', async () => {
    const root = work.path;
    mkdirSync(path.join(root, '.Work'));
    writeFileSync(path.join(root, '.Work', 'dovecot-keywords'), '0 Personal\n');
    // The pid of a process that has ended, on this host: what a resync killed while holding the lock leaves.
    const ended = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const { hostname } = await import('node:os');
    writeFileSync(path.join(root, '.Work', 'dovecot-uidlist.lock'), `${ended.stdout}:${hostname()}`);
    const side = { root, host: new LocalFileSide() };
    const owner = { uid: process.getuid!(), gid: process.getgid!(), mode: 0o700, canChown: false };
    const planned = new Map([[0, 'Personal']]);
    const written = await writeKeywordTable(side, '.Work', planned, new Map([[0, 'Personal'], [1, 'Urgent']]), owner, {});
    expect(written).toBe(true);
    expect(readFileSync(path.join(root, '.Work', 'dovecot-keywords'), 'utf8')).toMatch(/^1 Urgent$/m);
    expect(existsSync(path.join(root, '.Work', 'dovecot-uidlist.lock'))).toBe(false);
  });

  it('never reads or writes through a link planted at the lock name; an old one is removed as stale, its target untouched', async () => {
    const root = work.path;
    mkdirSync(path.join(root, '.Work'));
    writeFileSync(path.join(root, '.Work', 'dovecot-keywords'), '0 Personal\n');
    const outside = path.join(root, 'outside.txt');
    writeFileSync(outside, 'not a lock');
    const lock = path.join(root, '.Work', 'dovecot-uidlist.lock');
    symlinkSync(outside, lock);
    const longAgo = new Date(Date.now() - 10 * 60_000);
    lutimesSync(lock, longAgo, longAgo);
    const side = { root, host: new LocalFileSide() };
    const owner = { uid: process.getuid!(), gid: process.getgid!(), mode: 0o700, canChown: false };
    expect(await writeKeywordTable(side, '.Work', new Map([[0, 'Personal']]), new Map([[0, 'Personal'], [1, 'Urgent']]), owner, {})).toBe(true);
    expect(readFileSync(outside, 'utf8')).toBe('not a lock');
    expect(existsSync(lock)).toBe(false);
  });
});
