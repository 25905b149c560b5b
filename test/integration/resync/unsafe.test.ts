import { existsSync } from 'node:fs';
import { readdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { sshOptionsFor } from '../copy/helpers.js';

/**
 * resync refuses what discover reports as unsafe, like copy: folders named "..hidden" or ".bad<ESC>[31mname" and
 * message files whose names hold control characters are neither created nor copied on the target; each is listed
 * and the run exits 3. It used to carry them all with exit 0.
 */
let temp: TempDir;
let sshd: Sshd;

beforeAll(async () => {
  temp = await makeTempDir('resync-unsafe', { mode: 0o755 });
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
  await temp?.cleanup();
});

describe('resync and unsafe items', () => {
  it.each([['a local source', false], ['a source over ssh', true]])('does not carry "..hidden", ".bad<ESC>[31mname", a message name with a newline nor a sparse message; lists them and exits 3 (%s)', async (name, remote) => {
    const src = path.join(temp.path, `src-${remote ? 'remote' : 'local'}`);
    const dst = path.join(temp.path, `dst-${remote ? 'remote' : 'local'}`);
    const msg = (i: number) => ({ content: `Subject: m${i}\n\nbody ${i}\n`, mtime: 1717000000 + i });
    await writeTree(src, {
      'cur/1717000001.M1P1.host:2,S': msg(1),
      'cur/1717000002.M2P1.host\nX-Injected: yes:2,S': msg(2),
      'new/1717000003.M3P1.host': msg(3),
      tmp: { type: 'dir' },
      '..hidden/cur/1717000004.M4P1.host:2,S': msg(4),
      '.bad\u001b[31mname/cur/1717000005.M5P1.host:2,S': msg(5),
      '.Sent/cur/1717000006.M6P1.host:2,S': msg(6),
    });
    // A sparse message (256 MiB, nothing allocated): resync lists by name only, so it stats what it is about to copy.
    const sparse = path.join(src, '.Sent/cur/1717000007.M7P1.host,S=268435456:2,S');
    await writeFile(sparse, '');
    await truncate(sparse, 268435456);
    await writeTree(dst, { cur: { type: 'dir' }, new: { type: 'dir' }, tmp: { type: 'dir' } });

    const result = await runCli(['--json', 'resync', ...(remote ? [...sshOptionsFor(sshd), `ssh://root@127.0.0.1:${sshd.port}${src}`] : [src]), dst]);
    expect(result.code, result.stdout + result.stderr).toBe(3);
    const report = JSON.parse(result.stdout) as { skippedFolders: { folder: string; reason: string }[] };
    const reasons = report.skippedFolders.map((s) => s.reason).join('\n');
    expect(reasons).toContain('empty hierarchy level in ..hidden');
    expect(reasons).toContain('1717000002.M2P1.host\\nX-Injected');
    expect(reasons).toMatch(/1717000007\.M7P1\.host,S=268435456:2,S.*sparse/);
    expect(report.skippedFolders.some((s) => /control characters/.test(s.reason) && !s.reason.startsWith('message'))).toBe(true);

    expect(existsSync(path.join(dst, '..hidden'))).toBe(false);
    expect(existsSync(path.join(dst, '.bad\u001b[31mname'))).toBe(false);
    expect((await readdir(path.join(dst, 'cur'))).sort()).toEqual(['1717000001.M1P1.host:2,S']);
    expect(await readdir(path.join(dst, 'new'))).toEqual(['1717000003.M3P1.host']);
    expect(await readdir(path.join(dst, '.Sent/cur'))).toEqual(['1717000006.M6P1.host:2,S']);
  });
});
