import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/core/errors.js';
import { resolveCopy } from '../../../src/engine/tree/resolve-copy.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';

/** What a file-level copy refuses before it touches either end. */

async function refusal(source: string, target: string): Promise<UsageError> {
  const err = await resolveCopy(parseStoreSpec(source), parseStoreSpec(target), {}).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UsageError);
  return err as UsageError;
}

describe('resolving a tree copy', () => {
  it('sends an IMAP end to the commands that really exist (there is no "imap-copy")', async () => {
    const err = await refusal('imaps://alice@mail.example', '/srv/target');
    expect(err.message).toBe('copy moves file trees with rsync; IMAP is not a file tree');
    expect(err.hint).not.toMatch(/imap-copy/);
    expect(err.hint).toMatch(/mailshift copy imaps:\/\//);
    expect(err.hint).toMatch(/--imap-fallback/);
  });

  it('refuses two remote ends, and a whole account into a single mailbox', async () => {
    expect((await refusal('ssh://a.example/srv/a', 'ssh://b.example/srv/b')).message).toMatch(/both ends are remote/);
    expect((await refusal('cpanel:/srv/src#alice', '/srv/target')).message).toMatch(/whole cPanel account can only be copied into a cPanel root/);
  });

  it('plans one maildir job between two plain trees', async () => {
    const resolved = await resolveCopy(parseStoreSpec('/srv/a'), parseStoreSpec('ssh://root@b.example:2222/srv/b'), {});
    expect(resolved.jobs.map((j) => [j.label, j.source, j.target])).toEqual([['maildir', { path: '/srv/a' }, { path: '/srv/b', ssh: { host: 'b.example', user: 'root', port: 2222 } }]]);
    expect(resolved.mailboxes).toEqual(['(maildir)']);
  });
});
