import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../../src/core/exit-codes.js';
import { runTreeCopy } from '../../../src/engine/tree/run-tree-copy.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { generate, makeTargetRoot, messageBaseNames, ownerOf, type GeneratedTree } from './helpers.js';

/**
 * The tree copy as one engine call (engine/tree/run-tree-copy.ts): copy, then chown as its last step with the
 * owner ids resolved once, and the exit code the CLI used to compute itself.
 */
const manifest = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../../fixtures/cpanel/basic.json'), 'utf8')) as { accounts: unknown[] };

let temp: TempDir;
let tree: GeneratedTree;

beforeAll(async () => {
  temp = await makeTempDir('run-tree-copy', { mode: 0o755 });
  tree = generate(manifest, path.join(temp.path, 'gen'));
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('runTreeCopy', () => {
  it("copies a whole account and gives it to the target's user, reporting the chown with the copy", async () => {
    const target = path.join(temp.path, 'with-chown');
    await makeTargetRoot(target, [{ user: 'alice', uid: 2001 }]);
    const result = await runTreeCopy(parseStoreSpec(`cpanel:${tree.root}#alice`), parseStoreSpec(`cpanel:${target}#alice`), { chown: true });
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(result.report.exitCode).toBe(ExitCode.ok);
    expect(result.chown?.user).toBe('alice');
    expect(result.chown?.ids).toBe('2001:2001 mail=8');
    expect(result.chown?.failed).toEqual([]);
    expect(await messageBaseNames(path.join(target, 'home/alice/mail'))).toEqual(await messageBaseNames(path.join(tree.root, 'home/alice/mail')));
    expect(await ownerOf(path.join(target, 'home/alice/mail/alice.example/info/cur'))).toBe('2001:2001 0751');
  });

  it('takes --uid, --gid and --mail-gid over the target passwd, for the copy and the chown alike', async () => {
    const target = path.join(temp.path, 'overrides');
    await makeTargetRoot(target, [{ user: 'alice', uid: 2001 }]);
    const result = await runTreeCopy(parseStoreSpec(`cpanel:${tree.root}#alice`), parseStoreSpec(`cpanel:${target}#alice`), {
      chown: true,
      idOverrides: { uid: 2600, gid: 2601, mailGid: 12 },
    });
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(result.chown?.ids).toBe('2600:2601 mail=12');
    expect(await ownerOf(path.join(target, 'home/alice/mail/alice.example/info/cur'))).toBe('2600:2601 0751');
  });

  it('leaves owners alone without chown, and reports none', async () => {
    const target = path.join(temp.path, 'no-chown');
    await makeTargetRoot(target, [{ user: 'alice', uid: 2001 }]);
    const result = await runTreeCopy(parseStoreSpec(`cpanel:${tree.root}#alice`), parseStoreSpec(`cpanel:${target}#alice`), { chown: false });
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(result.chown).toBeUndefined();
    expect(result.report.cpanelTarget?.user).toBe('alice');
  });

  it('runs no chown on a dry run', async () => {
    const target = path.join(temp.path, 'dry');
    await makeTargetRoot(target, [{ user: 'alice', uid: 2001 }]);
    const result = await runTreeCopy(parseStoreSpec(`cpanel:${tree.root}#alice`), parseStoreSpec(`cpanel:${target}#alice`), { chown: true, dryRun: true });
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(result.report.dryRun).toBe(true);
    expect(result.chown).toBeUndefined();
  });
});
