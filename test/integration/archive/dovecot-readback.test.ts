import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { aliceFiles, packCpmove, writeCpmoveTree, type CpmoveTree, type PackOptions } from '../../support/cpmove.js';
import { createDoveadm, type Doveadm, type DovecotMessage } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

/**
 * The definition of a correct restore: a real Dovecot serves the restored maildir with the messages, flags,
 * keywords, UIDs and received dates it served from the tree the backup was made of.
 */
let tmp: TempDir;
let doveadm: Doveadm;
let tree: CpmoveTree;
let expected: ReturnType<typeof summary>[];

const summary = (m: DovecotMessage) => ({ mailbox: m.mailbox, uid: m.uid, flags: m.flags, keywords: m.keywords, receivedUnix: m.receivedUnix, messageId: m.messageId, sha256: m.sha256 });

/** Every message Dovecot serves from a maildir; `:UTF-8` because cPanel stores folder names as raw UTF-8. */
async function readBack(dir: string): Promise<ReturnType<typeof summary>[]> {
  const opened = await doveadm.openMaildir(dir);
  return (await doveadm.at(`${opened.location}:UTF-8`).readMessages({ hashes: true })).map(summary);
}

beforeAll(async () => {
  tmp = await makeTempDir('archive-dovecot', { mode: 0o755 });
  doveadm = await createDoveadm({ separator: '/' });
  tree = await writeCpmoveTree(path.join(tmp.path, 'src'));
  expected = await readBack(tree.alice);
});

afterAll(async () => {
  await doveadm?.close();
  await tmp?.cleanup();
});

describe('Dovecot reads a restored backup back', () => {
  const formats: [string, PackOptions][] = [
    ['gnu.tar.gz', { format: 'gnu', gzip: true }],
    ['posix.tar', { format: 'posix', gzip: false }],
    ['nested-posix.tar.gz', { format: 'posix', gzip: true, nestedHome: true }],
  ];
  for (const [name, options] of formats) {
    it(`${name}: the same messages, flags, keywords, UIDs, dates and bytes as the tree it was made of`, async () => {
      const archive = path.join(tmp.path, name);
      await packCpmove(tree, archive, options);
      const target = path.join(tmp.path, `restored-${name}`);
      const result = await runCli(['copy', `cpmove:${archive}#alice@example.com`, target]);
      expect(result.code, result.stderr).toBe(0);
      const restored = await readBack(target);
      expect(restored.map((m) => m.mailbox)).toEqual(['Archive', 'Entw\u00fcrfe', 'INBOX', 'INBOX', 'INBOX', 'Sent', 'Sent']);
      expect(restored).toEqual(expected);
      // The UIDs are the archived dovecot-uidlist's, not new ones.
      expect(restored.filter((m) => m.mailbox === 'INBOX').map((m) => [m.messageId, m.uid])).toEqual([
        ['<m1@example.com>', 1],
        ['<m2@example.com>', 2],
        ['<m3@example.com>', 3],
      ]);
      expect(restored.find((m) => m.messageId === '<m2@example.com>')).toMatchObject({ flags: ['\\Flagged', '\\Seen'], keywords: ['$Important'] });
    });
  }
});
