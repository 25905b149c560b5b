import fs, { realpathSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
// @ts-ignore -- plain .mjs script without type declarations (scripts run without a build step)
import { generateCpanelTree } from '../../../scripts/gen-cpanel-tree.mjs';

/**
 * "Nothing outside the tree was read", checked by recording every file system call the reader makes (node:fs and
 * node:fs/promises, including fast-glob's, which goes through node:fs) on the hostile fixture, then checking each
 * path against the real tree: a call that opens or lists must name a path with no symlink anywhere in it, and a
 * call that only looks at a name (lstat, readlink) must have a link-free parent. Any followed link would show up
 * as a path whose realpath differs. The e2e test checks the same from outside the process with strace.
 */

type Call = { op: string; path: string; flags?: unknown };

describe('the cPanel reader on a hostile tree', () => {
  let temp: TempDir;
  let truth: { root: string; outside: string };
  const calls: Call[] = [];

  beforeAll(async () => {
    temp = await makeTempDir('cpanel-no-escape');
    truth = generateCpanelTree(JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../../fixtures/cpanel/hostile.json'), 'utf8')), temp.path);
    // Load the code first: module loading reads files too, and is not what is being checked.
    const { listCpanelAccounts, readCpanelAccount } = await import('../../../src/cpanel/inventory/index.js');
    const record = <T extends object>(target: T, ops: string[], prefix: string) => {
      for (const op of ops) {
        const original = (target as Record<string, unknown>)[op] as (...args: unknown[]) => unknown;
        vi.spyOn(target as Record<string, (...args: unknown[]) => unknown>, op).mockImplementation(function (this: unknown, ...args: unknown[]) {
          const first = args[0];
          if (typeof first === 'string' || first instanceof URL || Buffer.isBuffer(first)) calls.push({ op: `${prefix}${op}`, path: String(first), flags: args[1] });
          return original.apply(this, args);
        });
      }
    };
    record(fsp, ['readdir', 'opendir', 'open', 'readFile', 'lstat', 'stat', 'readlink', 'realpath', 'access'], 'promises.');
    record(fs, ['readdir', 'opendir', 'open', 'readFile', 'lstat', 'stat', 'readlink', 'realpath', 'access', 'readdirSync', 'opendirSync', 'lstatSync', 'statSync', 'openSync', 'readFileSync', 'readlinkSync', 'realpathSync', 'accessSync', 'existsSync'], '');
    const listing = await listCpanelAccounts(truth.root);
    for (const a of listing.accounts) await readCpanelAccount(truth.root, a.user, { statEveryMessage: true });
    vi.restoreAllMocks();
  });
  afterAll(() => temp.cleanup());

  const within = (p: string, base: string) => p === base || p.startsWith(`${base}/`);
  const realRoot = () => realpathSync(truth.root);

  it('made calls at all, fast-glob included (the recording works)', () => {
    expect(calls.filter((c) => c.op === 'readdirSync').length).toBeGreaterThan(20);
    expect(calls.filter((c) => c.op === 'readdir').length).toBeGreaterThan(0);
  });

  it('never named a path outside the tree', () => {
    const root = realRoot();
    const outside = calls.filter((c) => !within(c.path, root) && c.path !== truth.root);
    expect(outside).toEqual([]);
  });

  it('never opened, listed or stat-followed a path with a symlink in it', () => {
    const following = calls.filter((c) => /(^|\.)(readdir|opendir|open|readFile|stat|access|readdirSync|opendirSync|statSync|openSync|readFileSync|accessSync|existsSync)$/.test(c.op));
    expect(following.length).toBeGreaterThan(0);
    const throughLinks = following.filter((c) => {
      let real: string;
      try {
        real = realpathSync(c.path);
      } catch {
        return false; // missing: nothing was there to follow (the call failed with ENOENT)
      }
      if (real === c.path) return false;
      // An open of a link itself is fine only with O_NOFOLLOW (it fails with ELOOP) and a link-free parent.
      const isOpenNoFollow = (c.op === 'promises.open' || c.op === 'openSync') && typeof c.flags === 'number' && (c.flags & fs.constants.O_NOFOLLOW) !== 0;
      return !(isOpenNoFollow && realpathSync(path.dirname(c.path)) === path.dirname(c.path));
    });
    expect(throughLinks).toEqual([]);
  });

  it('only looked at link names (lstat, readlink) through link-free parents', () => {
    const looking = calls.filter((c) => /lstat|readlink/.test(c.op));
    const badParents = looking.filter((c) => {
      try {
        return realpathSync(path.dirname(c.path)) !== path.dirname(c.path);
      } catch {
        return false;
      }
    });
    expect(badParents).toEqual([]);
  });

  it('opened every file with O_NOFOLLOW and O_NONBLOCK, so neither a link nor a FIFO is ever read', () => {
    const opens = calls.filter((c) => c.op === 'promises.open' || c.op === 'openSync');
    expect(opens.length).toBeGreaterThan(10);
    const required = fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
    expect(opens.filter((c) => typeof c.flags !== 'number' || (c.flags & required) !== required)).toEqual([]);
  });
});
