import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { openStore } from '../../src/stores/open.js';
import { parseStoreSpec } from '../../src/stores/spec.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { writeTree } from '../support/tree.js';

const fixtures = path.resolve(import.meta.dirname, '../../fixtures/mbox');
let work: TempDir;
beforeEach(async () => {
  work = await makeTempDir('open-store');
});
afterEach(async () => {
  await work.cleanup();
});

const open = (spec: string, mode: 'read' | 'write') => openStore(parseStoreSpec(spec, { cwd: work.path }), { mode, logger: silentLogger });

describe('openStore: local paths', () => {
  it('reads a plain path holding mbox (a file, a .gz, a tree) with the mbox store, and mbox:/p too', async () => {
    for (const spec of [path.join(fixtures, 'sample-account'), path.join(fixtures, 'spool/dovecot-inbox'), path.join(fixtures, 'variants/archive.mbox.gz'), `mbox:${path.join(fixtures, 'thunderbird')}`]) {
      expect((await open(spec, 'read')).store.kind, spec).toBe('mbox');
    }
  });

  it('reads a directory with cur/ as a maildir, and a missing one is a maildir target', async () => {
    await writeTree(work.path, { 'Maildir/cur': { type: 'dir' }, 'Maildir/new': { type: 'dir' } });
    expect((await open('Maildir', 'read')).store.kind).toBe('maildir');
    expect((await open('not-yet', 'write')).store.kind).toBe('maildir');
  });

  it('refuses mbox as a target with a hint, whether named by a plain path or mbox:', async () => {
    await writeTree(work.path, { 'legacy/inbox': await readFile(path.join(fixtures, 'sample-account/inbox')) });
    await expect(open('legacy', 'write')).rejects.toMatchObject({ code: 'MAILSHIFT_USAGE', message: expect.stringMatching(/mbox can be a source, not a target/), hint: expect.stringMatching(/convert/) });
    await expect(open(`mbox:${path.join(work.path, 'legacy')}`, 'write')).rejects.toMatchObject({ code: 'MAILSHIFT_USAGE' });
    await expect(open(path.join(fixtures, 'spool/dovecot-inbox'), 'write')).rejects.toMatchObject({ code: 'MAILSHIFT_USAGE' });
  });

  it('refuses a remote mbox', async () => {
    await expect(open('mbox:ssh://host.example.com/var/mail/alice', 'read')).rejects.toMatchObject({ code: 'MAILSHIFT_USAGE', message: expect.stringMatching(/remote mbox/) });
  });
});
