import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailshiftError } from '../../src/core/errors.js';
import { planChownTrees, resolveOwnerIds } from '../../src/cpanel/chown.js';
import { openFileSide } from '../../src/hosts/open.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

/**
 * chown for a cPanel account on a FileSide (here this machine over a scratch root): whose ids, which trees. The
 * machine's own /etc/passwd and /etc/group are the fallback, so the tests only rely on what every Linux has there
 * (root is 0:0).
 */

let temp: TempDir;
let root: string;
const side = openFileSide({ type: 'local' });

beforeAll(async () => {
  temp = await makeTempDir('cpanel-chown');
  root = temp.path;
  await mkdir(path.join(root, 'etc/valiases'), { recursive: true });
  await writeFile(path.join(root, 'etc/passwd'), 'alice:x:3001:3001::/home/alice:/bin/bash\n');
  await writeFile(path.join(root, 'etc/group'), 'mail:x:12:\n');
  for (const dir of ['home/alice/mail/a.example/info/cur', 'home/alice/etc/a.example', 'home/alice/.spamassassin', 'home/alice/.cpanel']) {
    await mkdir(path.join(root, dir), { recursive: true });
  }
  await writeFile(path.join(root, 'home/alice/.cpanel/filter.yaml'), '');
  await writeFile(path.join(root, 'etc/valiases/a.example'), '*: alice\n');
  await symlink('/etc/passwd', path.join(root, 'etc/valiases/b.example'));
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('owner ids for chown', () => {
  it("takes the user and the mail group from the target root's passwd and group", async () => {
    expect(await resolveOwnerIds(side, root, 'alice')).toEqual({ uid: 3001, gid: 3001, mailGid: 12, source: `${path.join(root, 'etc/passwd')}, ${path.join(root, 'etc/group')}` });
  });

  it("falls back to the machine's own files for a user the root does not know", async () => {
    const ids = await resolveOwnerIds(side, root, 'root');
    expect({ uid: ids.uid, gid: ids.gid, mailGid: ids.mailGid }).toEqual({ uid: 0, gid: 0, mailGid: 12 });
    expect(ids.source).toBe(`${path.join(root, 'etc/group')}, /etc/passwd`);
  });

  it('lets --uid, --gid and --mail-gid win without reading anything', async () => {
    expect(await resolveOwnerIds(side, root, 'nobody-at-all', { uid: 5, gid: 6, mailGid: 7 })).toEqual({ uid: 5, gid: 6, mailGid: 7, source: 'command line' });
  });

  it('says what to create or pass when the user is nowhere', async () => {
    const err = await resolveOwnerIds(side, root, 'no-such-user-here').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailshiftError);
    expect((err as MailshiftError).code).toBe('MAILSHIFT_CHOWN_NO_USER');
    expect((err as MailshiftError).hint).toMatch(/--uid N --gid N/);
  });
});

describe('trees chown walks', () => {
  it("covers ~/mail, ~/etc, the home items (~/.cpanel/filter.yaml, and ~/.cpanel but not what else it holds) and the domain's routing tables, never a linked one", async () => {
    const trees = await planChownTrees(side, { location: { type: 'local' }, root, home: path.join(root, 'home/alice'), user: 'alice', domains: ['a.example', 'b.example'] });
    expect(trees.map((t) => [path.relative(root, t.root), t.area, Boolean(t.rootOnly)])).toEqual([
      ['home/alice/mail', 'mail', false],
      ['home/alice/etc', 'etc', false],
      ['home/alice/.spamassassin', 'home-item', false],
      ['home/alice/.cpanel/filter.yaml', 'home-item', false],
      ['home/alice/.cpanel', 'home-item', true],
      ['etc/valiases/a.example', 'system-etc', true],
    ]);
  });

  it("asks only for the account's own files in the routing tables, which hold one per domain of the whole server", async () => {
    const listed: { root: string; names?: readonly string[] }[] = [];
    const recording: typeof side = {
      ...side,
      list: (dir, onEntry, options) => {
        listed.push({ root: path.relative(root, dir), ...(options?.names ? { names: options.names } : {}) });
        return side.list(dir, onEntry, options);
      },
    };
    await writeFile(path.join(root, 'etc/valiases/other-account.example'), '*: bob\n');
    const trees = await planChownTrees(recording, { location: { type: 'local' }, root, home: path.join(root, 'home/alice'), user: 'alice', domains: ['a.example'] });
    expect(listed.filter((each) => each.root.startsWith('etc/'))).toEqual([
      { root: 'etc/valiases', names: ['a.example'] },
      { root: 'etc/vfilters', names: ['a.example'] },
      { root: 'etc/vdomainaliases', names: ['a.example'] },
    ]);
    expect(trees.filter((t) => t.area === 'system-etc').map((t) => path.relative(root, t.root))).toEqual(['etc/valiases/a.example']);
  });

  it('walks only the one mailbox of a single-mailbox target', async () => {
    const trees = await planChownTrees(side, { location: { type: 'local' }, root, home: path.join(root, 'home/alice'), user: 'alice', domains: ['a.example'], mailboxDir: 'a.example/info' });
    expect(trees.map((t) => [path.relative(root, t.root), t.area])).toEqual([['home/alice/mail/a.example/info', 'mail']]);
  });
});
