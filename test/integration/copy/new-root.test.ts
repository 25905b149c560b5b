import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { generate, messageBaseNames, ownerOf, type GeneratedTree } from './helpers.js';

/**
 * The README's own example: a whole account copied into a cPanel root that does not exist yet, ids given on the
 * command line. The account files of the target used to be read while the mailbox jobs were still creating that root
 * (about one run in two failed: exit 1, half-copied mail, no merge, no chown). Run it enough times to catch the race.
 */
const manifest = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../../fixtures/cpanel/basic.json'), 'utf8')) as { accounts: unknown[] };
const runs = 8;

let temp: TempDir;
let tree: GeneratedTree;

beforeAll(async () => {
  temp = await makeTempDir('copy-new-root', { mode: 0o755 });
  tree = generate(manifest, path.join(temp.path, 'gen'));
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('copy of a whole account into a cPanel root that does not exist yet', () => {
  it(`copies the mail, merges the account files and chowns, every time (${runs} runs)`, async () => {
    const source = await messageBaseNames(path.join(tree.root, 'home/alice/mail'));
    const tmpdir = path.join(temp.path, 'tmp');
    await mkdir(tmpdir);
    for (let i = 0; i < runs; i++) {
      const target = path.join(temp.path, `new-root-${i}`);
      const result = await runCli(['--json', 'copy', `cpanel:${tree.root}#alice`, `cpanel:${target}#alice`, '--uid', '2001', '--gid', '2001', '--mail-gid', '8'], { env: { TMPDIR: tmpdir } });
      expect(result.code, `run ${i}: ${result.stderr}`).toBe(0);
      const report = JSON.parse(result.stdout) as { merges: { path: string; action: string }[]; chown: { failed: unknown[]; applied: number } };
      expect(report.merges.find((m) => m.path === 'home/alice/etc/alice.example/passwd')?.action, `run ${i}`).toBe('written');
      expect(report.chown.failed).toEqual([]);
      expect(await messageBaseNames(path.join(target, 'home/alice/mail'))).toEqual(source);
      expect(await readFile(path.join(target, 'home/alice/etc/alice.example/passwd'), 'utf8')).toMatch(/^info:x:/m);
      expect(await ownerOf(path.join(target, 'home/alice/mail/alice.example/info'))).toBe('2001:2001 0751');
      expect(await readdir(tmpdir), `run ${i}: staging left behind`).toEqual([]);
    }
  });
});
