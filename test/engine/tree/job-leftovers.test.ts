import { describe, expect, it } from 'vitest';
import {
  buildLeftoverScope,
  finalNameOfPartial,
  findJobLeftovers,
  isJobLeftover,
  isRsyncPartialName,
  isUnderPruned,
  leftoverSlackMs,
} from '../../../src/engine/tree/job-leftovers.js';
import type { CopyJob } from '../../../src/engine/tree/plan-copy.js';
import type { TreeEntry } from '../../../src/hosts/find.js';
import type { FileSide } from '../../../src/hosts/side.js';

const startedMs = 1_765_000_000_000;

describe('isRsyncPartialName', () => {
  it("recognises rsync's temporary names and nothing that looks like a message", () => {
    expect(isRsyncPartialName('.1700000000.M1P1.host,S=5:2,S.aB3xYz')).toBe(true);
    expect(isRsyncPartialName('1700000000.M1P1.host,S=5:2,S')).toBe(false);
    expect(isRsyncPartialName('.Sent')).toBe(false);
    expect(isRsyncPartialName('.hidden.too-long-suffix')).toBe(false);
  });

  it('gives the final name a temporary name stands for', () => {
    expect(finalNameOfPartial('.1700000000.M1P1.host,S=5:2,S.aB3xYz')).toBe('1700000000.M1P1.host,S=5:2,S');
    expect(finalNameOfPartial('.user_prefs.Q1w2E3')).toBe('user_prefs');
    expect(finalNameOfPartial('..spamassassinenable.Q1w2E3')).toBe('.spamassassinenable');
    expect(finalNameOfPartial('user_prefs')).toBeUndefined();
  });
});

describe('isJobLeftover: what a sweep may remove', () => {
  const file = (path: string, ctimeMs: number, type: TreeEntry['type'] = 'file') => ({ type, path, ctimeMs });

  it('takes a temporary-named file changed at or after the start, however old its mtime says it is', () => {
    // rsync sets the source's mtime on the temporary file before renaming it: the ctime is what tells its age.
    expect(isJobLeftover(file('cur/.1.M1P1.h:2,S.aB3xYz', startedMs), startedMs)).toBe(true);
    expect(isJobLeftover(file('cur/.1.M1P1.h:2,S.aB3xYz', startedMs + 60_000), startedMs)).toBe(true);
  });

  it('allows the file system clock a second of coarseness before the recorded start, and no more', () => {
    expect(isJobLeftover(file('cur/.1.M1P1.h:2,S.aB3xYz', startedMs - leftoverSlackMs), startedMs)).toBe(true);
    expect(isJobLeftover(file('cur/.1.M1P1.h:2,S.aB3xYz', startedMs - leftoverSlackMs - 1), startedMs)).toBe(false);
  });

  it('never takes a message, a folder, a link, or a temporary-named file older than the start', () => {
    expect(isJobLeftover(file('cur/1.M1P1.h:2,S', startedMs + 5), startedMs)).toBe(false);
    expect(isJobLeftover(file('.Archive.abc123', startedMs + 5, 'dir'), startedMs)).toBe(false);
    expect(isJobLeftover(file('cur/.x.abc123', startedMs + 5, 'symlink'), startedMs)).toBe(false);
    expect(isJobLeftover(file('cur/.x.abc123', startedMs - 3_600_000), startedMs)).toBe(false);
  });
});

const job = (label: string, target: string, extra: Partial<CopyJob> = {}): CopyJob => ({
  label,
  kind: 'maildir',
  source: { path: `/src${target}` },
  target: { path: target },
  rules: [],
  ...extra,
});

describe('buildLeftoverScope: the places only one job writes', () => {
  const defaultBox = job('alice (default mailbox)', '/home/alice/mail', { skipDirs: ['a.example/info', 'virtual', 'mailshift-tmp'] });
  const info = job('info@a.example', '/home/alice/mail/a.example/info', { skipDirs: ['mailshift-tmp'] });
  const files = job('alice (account files)', '/home/alice', { kind: 'files', filesFrom: ['.spamassassinenable', '.cpanel/filter.yaml', 'etc'] });
  const renamed = job('alice (etc/old.rcube.db -> etc/new.rcube.db)', '/home/alice/etc/new.rcube.db', { kind: 'files', target: { path: '/home/alice/etc/new.rcube.db', isFile: true } });
  const jobs = [defaultBox, info, files, renamed];

  it("leaves the other mailboxes out of the default mailbox's tree", () => {
    expect(buildLeftoverScope(defaultBox, jobs)).toEqual({
      trees: [{ root: '/home/alice/mail', prune: ['a.example/info', 'mailshift-tmp', 'virtual'] }],
      files: [],
      foreignFiles: [],
    });
    expect(buildLeftoverScope(info, jobs).trees).toEqual([{ root: '/home/alice/mail/a.example/info', prune: ['mailshift-tmp'] }]);
  });

  it("gives the account-files job its items only, without the renamed file another job writes into etc/", () => {
    expect(buildLeftoverScope(files, jobs)).toEqual({
      trees: [
        { root: '/home/alice/.spamassassinenable', prune: [] },
        { root: '/home/alice/.cpanel/filter.yaml', prune: [] },
        { root: '/home/alice/etc', prune: [] },
      ],
      files: [
        { dir: '/home/alice', name: '.spamassassinenable' },
        { dir: '/home/alice/.cpanel', name: 'filter.yaml' },
        { dir: '/home/alice', name: 'etc' },
      ],
      foreignFiles: ['/home/alice/etc/new.rcube.db'],
    });
  });

  it('gives a one-file job the temporary names of that file only', () => {
    expect(buildLeftoverScope(renamed, jobs)).toEqual({ trees: [], files: [{ dir: '/home/alice/etc', name: 'new.rcube.db' }], foreignFiles: [] });
  });

  it('ignores jobs writing to another host', () => {
    const remote = job('remote', '/home/alice/mail/a.example/info', { target: { path: '/home/alice/mail/a.example/info', ssh: { host: 'b.example' } } });
    expect(buildLeftoverScope(defaultBox, [defaultBox, remote]).trees[0]!.prune).toEqual(['a.example/info', 'mailshift-tmp', 'virtual']);
    expect(buildLeftoverScope(job('plain', '/m'), [job('plain', '/m'), remote]).trees[0]!.prune).toEqual([]);
  });
});

describe('isUnderPruned', () => {
  it('matches a pruned directory and what is below it, not a sibling that shares a prefix', () => {
    expect(isUnderPruned('a.example/info', ['a.example/info'])).toBe(true);
    expect(isUnderPruned('a.example/info/cur/.x.abc123', ['a.example/info'])).toBe(true);
    expect(isUnderPruned('a.example/infobox/cur/.x.abc123', ['a.example/info'])).toBe(false);
  });
});

/** A side whose listings come from a table and ignore `prune`: the sweep must not rely on the listing for it. */
function fakeSide(listings: Record<string, Pick<TreeEntry, 'type' | 'path' | 'ctimeMs'>[]>): { side: FileSide; listed: string[] } {
  const listed: string[] = [];
  const side = {
    list: async (root: string, onEntry: (entry: TreeEntry) => void, options: { maxDepth?: number } = {}) => {
      listed.push(`${root}${options.maxDepth ? ` (depth ${options.maxDepth})` : ''}`);
      for (const entry of listings[root] ?? []) {
        if (options.maxDepth !== undefined && entry.path.split('/').length > options.maxDepth) continue;
        onEntry({ sizeBytes: 1, uid: 0, gid: 0, mode: 0o600, nlink: 1, mtimeMs: 0, device: 1, inode: 1, ...entry });
      }
      return { exists: true, errors: '' };
    },
  };
  return { side: side as unknown as FileSide, listed };
}

describe('findJobLeftovers', () => {
  const late = startedMs + 10;
  const early = startedMs - 86_400_000;

  it('finds exactly the temporary-named files changed since the start, outside other jobs\' trees and files', async () => {
    const { side } = fakeSide({
      '/home/alice/mail': [
        { type: 'file', path: 'cur/.1.M1P1.h:2,S.aB3xYz', ctimeMs: late },
        { type: 'file', path: 'cur/.2.M2P1.h:2,S.Zz9Yy8', ctimeMs: early },
        { type: 'file', path: 'cur/3.M3P1.h:2,S', ctimeMs: late },
        { type: 'file', path: '.Sent/new/.4.M4P1.h.Qq1Ww2', ctimeMs: late },
        // Another mailbox's job is writing this one right now.
        { type: 'file', path: 'a.example/info/cur/.5.M5P1.h:2,S.Ee3Rr4', ctimeMs: late },
      ],
      '/home/alice/etc': [
        { type: 'file', path: 'a.example/.passwd.Tt5Yy6', ctimeMs: late },
        { type: 'file', path: '.new.rcube.db.Uu7Ii8', ctimeMs: late },
      ],
      '/home/alice': [
        { type: 'file', path: '..spamassassinenable.Oo9Pp0', ctimeMs: late },
        { type: 'file', path: '.bashrc.Aa1Ss2', ctimeMs: late },
      ],
    });
    const mail = await findJobLeftovers(side, { trees: [{ root: '/home/alice/mail', prune: ['a.example/info'] }], files: [], foreignFiles: [] }, startedMs);
    expect(mail.sort()).toEqual(['/home/alice/mail/.Sent/new/.4.M4P1.h.Qq1Ww2', '/home/alice/mail/cur/.1.M1P1.h:2,S.aB3xYz']);
    const accountFiles = await findJobLeftovers(
      side,
      { trees: [{ root: '/home/alice/etc', prune: [] }], files: [{ dir: '/home/alice', name: '.spamassassinenable' }], foreignFiles: ['/home/alice/etc/new.rcube.db'] },
      startedMs,
    );
    // .bashrc.Aa1Ss2 has the shape, but no item of this job is called .bashrc.
    expect(accountFiles.sort()).toEqual(['/home/alice/..spamassassinenable.Oo9Pp0', '/home/alice/etc/a.example/.passwd.Tt5Yy6']);
  });

  it('keeps what the caller says is complete (a finished job\'s itemized files)', async () => {
    const { side } = fakeSide({ '/t': [{ type: 'file', path: '.spamassassin/.x.abc123', ctimeMs: late }, { type: 'file', path: 'cur/.1.M1.h.aB3xYz', ctimeMs: late }] });
    const found = await findJobLeftovers(side, { trees: [{ root: '/t', prune: [] }], files: [], foreignFiles: [] }, startedMs, { keep: (p) => p === '/t/.spamassassin/.x.abc123' });
    expect(found).toEqual(['/t/cur/.1.M1.h.aB3xYz']);
  });

  it('lists a directory of single files once, one level deep', async () => {
    const { side, listed } = fakeSide({});
    await findJobLeftovers(side, { trees: [], files: [{ dir: '/h', name: 'a' }, { dir: '/h', name: 'b' }, { dir: '/h/.cpanel', name: 'filter.yaml' }], foreignFiles: [] }, startedMs);
    expect(listed).toEqual(['/h (depth 1)', '/h/.cpanel (depth 1)']);
  });
});
