import { mkdir, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyTreeEntries, decideChangedFolders, listMaildirTree, readTreeStamps } from '../../../../src/engine/tree/resync/list.js';
import { makeTempDir, type TempDir } from '../../../support/tmp.js';
import { writeTree } from '../../../support/tree.js';
import { LocalFileSide } from '../../../../src/hosts/local.js';

const local = new LocalFileSide();

const f = (path: string) => ({ type: 'file' as const, path });
const d = (path: string) => ({ type: 'dir' as const, path });
const l = (path: string) => ({ type: 'symlink' as const, path });

describe('classifyTreeEntries', () => {
  it('reads INBOX and Maildir++ folders from find-style entries', () => {
    const listing = classifyTreeEntries(
      [d('cur'), d('new'), d('tmp'), f('cur/1.a:2,S'), f('new/2.b'), f('tmp/3.partial'), f('dovecot-uidlist'), d('.Sent'), d('.Sent/cur'), f('.Sent/cur/4.c:2,S'), f('.Sent/maildirfolder'), f('.Sent/dovecot-keywords')],
      [''],
    );
    expect([...listing.folders.keys()].sort()).toEqual(['', '.Sent']);
    expect(listing.folders.get('')!.messages).toEqual([
      { sub: 'cur', name: '1.a:2,S' },
      { sub: 'new', name: '2.b' },
    ]);
    const sent = listing.folders.get('.Sent')!;
    expect(sent.messages).toEqual([{ sub: 'cur', name: '4.c:2,S' }]);
    expect(sent.hasKeywordsFile).toBe(true);
    expect([...sent.subdirs]).toEqual(['cur']);
  });

  it('never takes a symlink for a folder, a cur/ or a message', () => {
    const listing = classifyTreeEntries([d('cur'), l('cur/1.evil'), f('cur/.hidden'), l('.Escape'), d('.Odd'), l('.Odd/cur')], ['']);
    expect(listing.folders.get('')!.messages).toEqual([]);
    expect(listing.ignoredEntries).toBe(2);
    expect(listing.blocked.get('.Escape')).toMatch(/symlink/);
    expect(listing.blocked.get('.Odd')).toMatch(/cur\/ is a symlink/);
    expect(listing.folders.has('.Escape')).toBe(false);
    expect(listing.folders.has('.Odd')).toBe(false);
  });

  it('splits a cPanel ~/mail into the default mailbox and DOMAIN/LOCAL mailboxes', () => {
    const listing = classifyTreeEntries(
      [d('cur'), f('cur/1:2,S'), d('example.com'), d('example.com/info'), d('example.com/info/cur'), f('example.com/info/cur/2:2,S'), d('example.com/info/.Sent'), d('example.com/info/.Sent/new'), f('example.com/info/.Sent/new/3')],
      ['', 'example.com/info'],
    );
    expect([...listing.folders.keys()].sort()).toEqual(['', 'example.com/info', 'example.com/info/.Sent']);
    expect(listing.folders.get('example.com/info/.Sent')!.messages).toEqual([{ sub: 'new', name: '3' }]);
  });

  it('keeps only the folders in scope', () => {
    const listing = classifyTreeEntries([d('cur'), f('cur/1'), d('.A'), d('.A/cur'), f('.A/cur/2')], [''], { folders: new Set(['.A']) });
    expect([...listing.folders.keys()]).toEqual(['.A']);
  });
});

describe('listMaildirTree (local)', () => {
  let temp: TempDir | undefined;
  afterEach(async () => {
    await temp?.cleanup();
    temp = undefined;
  });

  it('lists names with readdir and agrees with the find-style classifier', async () => {
    temp = await makeTempDir('resync-list');
    await writeTree(temp.path, {
      'cur/1.a,S=3:2,S': 'abc',
      'new/2.b': 'x',
      tmp: { type: 'dir' },
      '.Sent/cur/3.c:2,RS': 'y',
      '.Sent/new': { type: 'dir' },
      '.Sent/maildirfolder': '',
      '.Link': { type: 'symlink', target: '/etc' },
      'cur/4.link': { type: 'symlink', target: '/etc/passwd' },
    });
    const listing = await listMaildirTree(local, temp.path, 'maildir');
    expect(listing.exists).toBe(true);
    expect(listing.folders.get('')!.messages).toEqual([
      { sub: 'cur', name: '1.a,S=3:2,S' },
      { sub: 'new', name: '2.b' },
    ]);
    expect(listing.folders.get('.Sent')!.messages).toEqual([{ sub: 'cur', name: '3.c:2,RS' }]);
    expect(listing.blocked.has('.Link')).toBe(true);
    expect(listing.ignoredEntries).toBe(1);
  });

  it('lists a folder whose name is not UTF-8 as blocked, instead of taking it for a U+FFFD folder that does not exist', async () => {
    temp = await makeTempDir('resync-list');
    await writeTree(temp.path, { 'cur/1.a': 'a', new: { type: 'dir' }, tmp: { type: 'dir' } });
    const latin1 = Buffer.concat([Buffer.from(`${temp.path}/`), Buffer.from('.caf\xe9', 'latin1')]);
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(Buffer.concat([latin1, Buffer.from(`/${sub}`)]), { recursive: true });
    await writeFile(Buffer.concat([latin1, Buffer.from('/cur/2.b')]), 'b');
    const listing = await listMaildirTree(local, temp.path, 'maildir');
    expect([...listing.folders.keys()]).toEqual(['']);
    expect([...listing.blocked]).toEqual([['.caf\ufffd', expect.stringMatching(/not valid UTF-8/)]]);
  });

  it('finds cPanel DOMAIN/LOCAL mailboxes without following links', async () => {
    temp = await makeTempDir('resync-list');
    await writeTree(temp.path, {
      'cur/1:2,S': 'a',
      'example.com/info/cur/2:2,S': 'b',
      'example.com/info/.Sent/cur/3:2,S': 'c',
      '.info@example_com': { type: 'symlink', target: 'example.com/info' },
    });
    const listing = await listMaildirTree(local, temp.path, 'cpanel-mail');
    expect(listing.mailboxRoots).toEqual(['', 'example.com/info']);
    expect([...listing.folders.keys()].sort()).toEqual(['', 'example.com/info', 'example.com/info/.Sent']);
  });

  it('says when the root does not exist', async () => {
    temp = await makeTempDir('resync-list');
    expect((await listMaildirTree(local, `${temp.path}/nope`, 'maildir')).exists).toBe(false);
  });
});

describe('decideChangedFolders', () => {
  it('names the folders whose new/ or cur/ mtime moved, appeared or went', () => {
    const before = new Map([
      ['cur', 1],
      ['new', 2],
      ['.Sent/cur', 3],
      ['.Sent/new', 4],
      ['.Gone/new', 5],
    ]);
    const after = new Map([
      ['cur', 1],
      ['new', 2],
      ['.Sent/cur', 3],
      ['.Sent/new', 9],
      ['.Fresh/new', 1],
    ]);
    expect([...decideChangedFolders(before, after)].sort()).toEqual(['.Fresh', '.Gone', '.Sent']);
    expect(decideChangedFolders(before, new Map(before)).size).toBe(0);
  });
});

describe('readTreeStamps (local)', () => {
  let temp: TempDir | undefined;
  afterEach(async () => {
    await temp?.cleanup();
    temp = undefined;
  });

  it('sees a delivery and a new folder without reading message names', async () => {
    temp = await makeTempDir('resync-stamps');
    await writeTree(temp.path, { 'cur/1:2,S': 'a', new: { type: 'dir' }, '.Sent/cur/2:2,S': 'b', '.Sent/new': { type: 'dir' } });
    const listing = await listMaildirTree(local, temp.path, 'maildir');
    expect([...listing.stamps.keys()].sort()).toEqual(['.Sent/cur', '.Sent/new', 'cur', 'new']);
    expect(decideChangedFolders(listing.stamps, await readTreeStamps(local, temp.path, 'maildir')).size).toBe(0);
    await writeTree(temp.path, { '.Sent/new/3': 'c', '.Later/new/4': 'd' });
    expect([...decideChangedFolders(listing.stamps, await readTreeStamps(local, temp.path, 'maildir'))].sort()).toEqual(['.Later', '.Sent']);
  });
});
