import { mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyAccountFiles } from '../../src/archive/account-files.js';
import type { HeldAccountFiles } from '../../src/archive/restore.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('account-files');
});
afterEach(async () => {
  await tmp.cleanup();
});

function held(): HeldAccountFiles {
  return {
    domainTables: new Map([
      ['example.com', new Map([['passwd', 'alice:x:500:500::/home/olduser/mail/example.com/alice:/bin/bash\n../evil:x:1:1::/x:/bin/sh\nzoe:x:500:500::/home/olduser/mail/example.com/zoe:/bin/bash\n']])],
      ['../etc', new Map([['passwd', 'x:x:1:1::/x:/bin/sh\n']])],
    ]),
    routing: new Map([['valiases', new Map([['example.com', 'info@example.com: olduser\n']])]]),
    homedirPaths: '/home/olduser\n',
  };
}

describe('applyAccountFiles', () => {
  it('merges the backup lines into the target tables (the target wins), rewritten for the new home and user', async () => {
    const root = tmp.path;
    const home = path.join(root, 'home/bob');
    await mkdir(path.join(home, 'etc/example.com'), { recursive: true });
    await writeFile(path.join(home, 'etc/example.com/passwd'), 'zoe:x:2001:2001::/home/bob/mail/example.com/zoe:/bin/false\n');
    const result = await applyAccountFiles(held(), { root, home, user: 'bob', uid: 2001, gid: 2001 }, { sourceUser: 'olduser', dryRun: false });
    expect(await readFile(path.join(home, 'etc/example.com/passwd'), 'utf8')).toBe(
      'zoe:x:2001:2001::/home/bob/mail/example.com/zoe:/bin/false\nalice:x:2001:2001::/home/bob/mail/example.com/alice:/bin/bash\n',
    );
    expect(await readFile(path.join(root, 'etc/valiases/example.com'), 'utf8')).toBe('info@example.com: bob\n');
    expect(result.merges.find((m) => m.path === 'home/bob/etc/example.com/passwd')).toMatchObject({ action: 'written', added: ['alice'], keptTarget: ['zoe'] });
    // A mailbox name that would climb out of ~/mail, and a domain that is not one: listed, not merged.
    expect(result.refused.map((r) => r.item)).toEqual(['homedir/etc/../etc', 'homedir/etc/example.com/passwd']);
  });

  it('with one mailbox selected, merges only its lines and leaves the routing tables alone', async () => {
    const root = tmp.path;
    const home = path.join(root, 'home/bob');
    await applyAccountFiles(held(), { root, home, user: 'bob' }, { sourceUser: 'olduser', mailbox: 'example.com/alice', dryRun: false });
    expect(await readFile(path.join(home, 'etc/example.com/passwd'), 'utf8')).toBe('alice:x:500:500::/home/bob/mail/example.com/alice:/bin/bash\n');
    await expect(readFile(path.join(root, 'etc/valiases/example.com'), 'utf8')).rejects.toThrow();
  });

  it('leaves a target table that is a symlink as it is, never merging through it, and lists it', async () => {
    const root = tmp.path;
    const home = path.join(root, 'home/bob');
    const outside = path.join(root, 'outside-passwd');
    await writeFile(outside, 'root:x:0:0::/root:/bin/bash\n');
    await mkdir(path.join(home, 'etc/example.com'), { recursive: true });
    await symlink(outside, path.join(home, 'etc/example.com/passwd'));
    const result = await applyAccountFiles(held(), { root, home, user: 'bob' }, { sourceUser: 'olduser', dryRun: false });
    expect(result.refused).toContainEqual({ item: 'home/bob/etc/example.com/passwd', reason: expect.stringContaining('not as a regular file') });
    expect(await readlink(path.join(home, 'etc/example.com/passwd'))).toBe(outside);
    expect(await readFile(outside, 'utf8')).toBe('root:x:0:0::/root:/bin/bash\n');
  });
});
