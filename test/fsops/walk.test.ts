import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limiter } from '../../src/core/async.js';
import { isWithin, resolveLinkTarget, TreeReader } from '../../src/fsops/walk.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { writeTree } from '../support/tree.js';

describe('resolveLinkTarget', () => {
  it('resolves relative targets from the link directory', () => {
    expect(resolveLinkTarget('home/a/mail/.info@x_com', 'x.com/info')).toBe('home/a/mail/x.com/info');
    expect(resolveLinkTarget('home/a/mail/x.com/stolen', '../../../b/mail/x.com/ceo')).toBe('home/b/mail/x.com/ceo');
  });

  it('reads absolute targets as the server would: relative to ROOT', () => {
    expect(resolveLinkTarget('home/a/mail/.Leak', '/etc/shadow')).toBe('etc/shadow');
    expect(resolveLinkTarget('home/a/x', '/../../etc')).toBe('etc');
  });

  it('says a relative target that climbs above ROOT leaves the tree', () => {
    expect(resolveLinkTarget('home/a', '../../outside')).toBeUndefined();
    expect(resolveLinkTarget('x', '..')).toBeUndefined();
  });

  it('compares paths by component, not by prefix', () => {
    expect(isWithin('home/alice2/x', 'home/alice')).toBe(false);
    expect(isWithin('home/alice/x', 'home/alice')).toBe(true);
    expect(isWithin('anything', '')).toBe(true);
  });
});

describe('Limiter', () => {
  it('never runs more tasks at once than allowed', async () => {
    const limiter = new Limiter(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        limiter.run(async () => {
          active += 1;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 2));
          active -= 1;
        }),
      ),
    );
    expect(peak).toBe(3);
  });
});

describe('TreeReader on a tree with links', () => {
  let temp: TempDir;
  let root: string;
  let outside: string;
  let reader: TreeReader;

  beforeAll(async () => {
    temp = await makeTempDir('walk');
    root = path.join(temp.path, 'root');
    outside = path.join(temp.path, 'outside');
    await writeTree(temp.path, {
      'outside/secret': 'SECRET',
      'outside/dir/file': 'x',
      'root/data/home/alice/mail/cur/1.M1.h,S=1:2,S': 'a',
      'root/data/home/alice/mail/.Sent/cur/2.M2.h': 'bb',
      'root/data/home/alice/etc/quota': 'info:100\n',
      'root/home': { type: 'symlink', target: 'data/home' },
      'root/home2': { type: 'symlink', target: '../outside' },
      'root/home3': { type: 'symlink', target: '/data/home' },
      'root/data/home/alice/mail/.Evil': { type: 'symlink', target: `${outside}/dir` },
      'root/data/home/alice/mail/.Leak': { type: 'symlink', target: `${outside}/secret` },
      'root/data/home/alice/linked-etc': { type: 'symlink', target: `${outside}` },
    });
    execFileSync('mkfifo', [path.join(root, 'data/home/alice/mail/fifo')]);
    reader = await TreeReader.open(root);
  });
  afterAll(() => temp.cleanup());

  it('lists a directory with entry kinds from d_type, without following links', async () => {
    const listed = await reader.list('data/home/alice', 'mail');
    expect(listed.ok).toBe(true);
    if (!listed.ok) return;
    const kinds = Object.fromEntries(listed.entries.map((e) => [e.name, e.kind]));
    expect(kinds).toMatchObject({ cur: 'dir', '.Sent': 'dir', '.Evil': 'symlink', '.Leak': 'symlink', fifo: 'other' });
  });

  it('refuses to list through a link below a trusted directory and says where the link points', async () => {
    const listed = await reader.list('data/home/alice', 'mail/.Evil');
    expect(listed).toMatchObject({ ok: false, reason: 'symlink', at: 'data/home/alice/mail/.Evil', target: `${outside}/dir` });
    expect(await reader.list('data/home/alice', 'linked-etc')).toMatchObject({ ok: false, reason: 'symlink' });
  });

  it('refuses to open a link (O_NOFOLLOW) and a FIFO (without blocking)', async () => {
    expect(await reader.readText('data/home/alice', 'mail/.Leak')).toMatchObject({ ok: false, reason: 'symlink' });
    expect(await reader.readText('data/home/alice', 'mail/fifo')).toMatchObject({ ok: false, reason: 'not-a-file' });
    expect(await reader.readText('data/home/alice', 'linked-etc/secret')).toMatchObject({ ok: false, reason: 'symlink' });
  });

  it('reads a small regular file, and only up to maxBytes', async () => {
    expect(await reader.readText('data/home/alice', 'etc/quota')).toMatchObject({ ok: true, text: 'info:100\n', truncated: false });
    expect(await reader.readText('data/home/alice', 'etc/quota', 4)).toMatchObject({ ok: true, text: 'info', truncated: true });
  });

  it('follows system links that stay inside ROOT, chroot-style for absolute ones, and refuses the others', async () => {
    expect(await reader.resolveSystemPath('home/alice')).toEqual({ ok: true, rel: 'data/home/alice' });
    expect(await reader.resolveSystemPath('home3/alice')).toEqual({ ok: true, rel: 'data/home/alice' });
    expect(await reader.resolveSystemPath('home2/secret')).toMatchObject({ ok: false, reason: 'outside-root' });
  });

  it('globs without descending into linked directories and returns links as links', async () => {
    const found = await reader.globFiles('data/home/alice', ['mail/*', '*/dir/*']);
    const names = found.map((e) => `${e.kind} ${e.name}`);
    expect(names).toContain('symlink data/home/alice/mail/.Evil');
    expect(names).toContain('dir data/home/alice/mail/cur');
    expect(names.some((n) => n.includes('secret') || n.endsWith('/file'))).toBe(false);
  });

  it('refuses a glob whose static start is a link', async () => {
    expect(await reader.globFiles('data/home/alice', ['linked-etc/*'])).toEqual([]);
  });
});
