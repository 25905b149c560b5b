import { describe, expect, it } from 'vitest';
import { classifyWatchedPath, isWatchedPath } from '../../src/watch/tree-watch.js';

describe('classifyWatchedPath', () => {
  it('maps message files in new/ and cur/ to their folder', () => {
    expect(classifyWatchedPath('new/1.a', 'maildir')).toEqual({ folder: '', isMessage: true });
    expect(classifyWatchedPath('cur/1.a:2,S', 'maildir')).toEqual({ folder: '', isMessage: true });
    expect(classifyWatchedPath('.Work.Projects/new/2.b', 'maildir')).toEqual({ folder: '.Work.Projects', isMessage: true });
  });

  it('maps a new folder directory and its new/ or cur/ to the folder', () => {
    expect(classifyWatchedPath('.Archive', 'maildir')).toEqual({ folder: '.Archive', isMessage: false });
    expect(classifyWatchedPath('.Archive/cur', 'maildir')).toEqual({ folder: '.Archive', isMessage: false });
  });

  it('ignores tmp/, Dovecot files, dot files and anything deeper', () => {
    for (const rel of ['tmp/1.partial', '.Sent/tmp/2', 'dovecot.index.log', '.Sent/dovecot-uidlist', 'cur/.1.a.XyZ12', '.Sent/cur/x/y', 'tmp']) {
      expect(classifyWatchedPath(rel, 'maildir'), rel).toBeUndefined();
    }
  });

  it('knows cPanel DOMAIN/LOCAL mailboxes', () => {
    expect(classifyWatchedPath('example.com/info/new/1', 'cpanel-mail')).toEqual({ folder: 'example.com/info', isMessage: true });
    expect(classifyWatchedPath('example.com/info/.Sent/cur/2:2,S', 'cpanel-mail')).toEqual({ folder: 'example.com/info/.Sent', isMessage: true });
    expect(classifyWatchedPath('new/3', 'cpanel-mail')).toEqual({ folder: '', isMessage: true });
    expect(classifyWatchedPath('example.com/info/tmp/4', 'cpanel-mail')).toBeUndefined();
  });
});

describe('isWatchedPath', () => {
  it('lets chokidar descend only into the root, folders, new/ and cur/', () => {
    expect(isWatchedPath('', 'maildir')).toBe(true);
    expect(isWatchedPath('.Sent', 'maildir')).toBe(true);
    expect(isWatchedPath('.Sent/new', 'maildir')).toBe(true);
    expect(isWatchedPath('tmp', 'maildir')).toBe(false);
    expect(isWatchedPath('.Sent/tmp', 'maildir')).toBe(false);
    expect(isWatchedPath('example.com', 'maildir')).toBe(false);
    expect(isWatchedPath('example.com', 'cpanel-mail')).toBe(true);
  });
});
