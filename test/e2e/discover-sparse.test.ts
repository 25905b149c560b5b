import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
// @ts-expect-error -- untyped .mjs script
import { generateCpanelTree } from '../../scripts/gen-cpanel-tree.mjs';

/**
 * A message file whose name claims 32 GiB (",S=34359738368") while nothing is allocated (a sparse file) used to be
 * taken at its word by discover (no finding, exit 0), and copied as 32 GiB of zeros. discover now stats the few
 * files whose name claims more than a sane size, even without --stat, and reports sparse or mismatched ones as unsafe.
 */
const claimed = 34359738368;
const sparseName = `1717000101.M1P1.host,S=${claimed}:2,S`;
const liarName = `1717000102.M2P1.host,S=${claimed}:2,S`;
let temp: TempDir;
let root: string;

beforeAll(async () => {
  temp = await makeTempDir('discover-sparse');
  const manifest = {
    seed: 19,
    now: '2024-06-01T12:00:00Z',
    accounts: [
      {
        user: 'sam',
        domains: ['sam.example'],
        defaultMailbox: {
          folders: {
            INBOX: { cur: 1, files: [{ name: sparseName, sparseBytes: claimed }, { name: liarName, content: 'hello' }] },
          },
        },
      },
    ],
  };
  root = (generateCpanelTree(manifest, temp.path) as { root: string }).root;
});
afterAll(() => temp.cleanup());

describe('discover and a message whose ",S=" claims a huge size', () => {
  it('stats it without --stat and reports a sparse one and a mismatched one as unsafe (exit 3)', async () => {
    const sparse = statSync(path.join(root, 'home/sam/mail/cur', sparseName));
    expect(sparse.size).toBe(claimed);
    expect(sparse.blocks).toBeLessThan(64);

    const result = await runCli(['discover', root, '--json']);
    expect(result.code, result.stderr).toBe(3);
    const doc = JSON.parse(result.stdout) as { warnings: { kind: string; severity: string; path: string }[] };
    expect(doc.warnings.filter((w) => w.severity === 'unsafe').map((w) => `${w.kind} ${w.path}`).sort()).toEqual([
      `size-mismatch home/sam/mail/cur/${liarName}`,
      `sparse-file home/sam/mail/cur/${sparseName}`,
    ]);
  });
});
