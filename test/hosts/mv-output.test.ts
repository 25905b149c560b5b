import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildRenameInput, buildRenameNoClobberArgv, parseRenamedIndexes } from '../../src/hosts/mv-output.js';
import { runExec } from '../../src/hosts/exec.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('mv-output');
});
afterEach(async () => {
  await tmp.cleanup();
});

describe('the no-clobber rename command', () => {
  it('is a fixed script run through xargs -0, with mv -n -T and never -f', () => {
    const argv = buildRenameNoClobberArgv();
    expect(argv.slice(0, 5)).toEqual(['xargs', '-0', '-r', 'sh', '-c']);
    expect(argv[5]).toContain('mv -n -T -- "$f" "$t"');
    expect(argv[5]).not.toMatch(/mv [^;\n]*-f/);
  });

  it('sends each pair as one word: its index, the old path, //, the new path', () => {
    expect(buildRenameInput([{ from: '/m/cur/1:2,', to: '/m/cur/1:2,S' }, { from: '/m/a', to: '/m/b' }]).toString('utf8')).toBe('0/m/cur/1:2,///m/cur/1:2,S\u00001/m/a///m/b\u0000');
    expect(() => buildRenameInput([{ from: 'cur/1', to: '/m/cur/1' }])).toThrow(/absolute/);
    expect(() => buildRenameInput([{ from: '/m//cur/1', to: '/m/cur/2' }])).toThrow(/normalised/);
  });

  it('reads the indexes of the pairs it renamed', () => {
    expect(parseRenamedIndexes('0\u00002\u0000')).toEqual(new Set([0, 2]));
    expect(parseRenamedIndexes('')).toEqual(new Set());
  });

  it('says exactly which pairs it renamed, whatever their names hold, and never replaces a file (run here)', async () => {
    const dir = path.join(tmp.path, 'cur');
    await mkdir(dir);
    const odd = [`it's $(touch canary) "q"\nline:2,`, 'caf\u00e9 \u2603:2,', '-n:2,', 'tab\there:2,'];
    for (const name of [...odd, 'taken-src', 'taken']) await writeFile(path.join(dir, name), name);
    const pairs = [
      ...odd.map((name) => ({ from: path.join(dir, name), to: path.join(dir, `${name}S`) })),
      { from: path.join(dir, 'taken-src'), to: path.join(dir, 'taken') },
      { from: path.join(dir, 'vanished'), to: path.join(dir, 'vanished2') },
    ];
    const result = await runExec({}, buildRenameNoClobberArgv(), { input: buildRenameInput(pairs) });
    expect(parseRenamedIndexes(result.stdout.toString('utf8'))).toEqual(new Set([0, 1, 2, 3]));
    expect((await readdir(dir)).sort()).toEqual([...odd.map((n) => `${n}S`), 'taken', 'taken-src'].sort());
    expect(await readFile(path.join(dir, 'taken'), 'utf8')).toBe('taken');
    expect(existsSync(path.join(tmp.path, 'canary')) || existsSync(path.join(dir, 'canary'))).toBe(false);
  });
});
