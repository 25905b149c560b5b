import { spawnSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFileSide } from '../../src/hosts/local.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let work: TempDir;
beforeEach(async () => {
  work = await makeTempDir('local-side');
});
afterEach(async () => {
  await work.cleanup();
});

describe('LocalFileSide.writeAtomic', () => {
  it("removes the temporary names a killed run left beside the file (.NAME.mailshift-PID, PID gone), not a live run's nor other names", async () => {
    const root = work.path;
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const left = `.dovecot-keywords.mailshift-${gone}`;
    const kept = [`.dovecot-keywords.mailshift-${process.ppid}`, `.subscriptions.mailshift-${gone}`, `.dovecot-keywords.mailshift-${gone}x`];
    for (const name of [left, ...kept]) await writeFile(path.join(root, name), 'partial');
    await new LocalFileSide().writeAtomic(path.join(root, 'dovecot-keywords'), '0 Personal\n', { within: root });
    expect(await readFile(path.join(root, 'dovecot-keywords'), 'utf8')).toBe('0 Personal\n');
    expect((await readdir(root)).sort()).toEqual(['dovecot-keywords', ...kept].sort());
  });
});
