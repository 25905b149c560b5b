import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

/** Folder names with a raw newline and an ESC sequence (a hostile or broken source): the tables stay one row each. */
let temp: TempDir;

beforeAll(async () => {
  temp = await makeTempDir('control-names');
  for (const folder of ['', '.line\nbreak', '.bad\u001b[31mname']) {
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(temp.path, 'src', folder, sub), { recursive: true });
    await writeFile(path.join(temp.path, 'src', folder, 'cur', `${1700000000 + folder.length}.M1P1.host,S=14:2,S`), 'Subject: x\n\nb\n');
  }
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(temp.path, 'dst', sub), { recursive: true });
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('raw control characters in folder names', () => {
  it('resync shows a newline or an ESC in a folder name escaped, without breaking its table', async () => {
    const result = await runCli(['resync', path.join(temp.path, 'src'), path.join(temp.path, 'dst')]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toMatch(/\u001b/);
    const rows = result.stdout.split('\n');
    expect(rows.some((row) => /^\.line\\x0abreak +1 +0 /.test(row))).toBe(true);
    expect(rows.some((row) => /^\.bad\\x1b\[31mname +1 +0 /.test(row))).toBe(true);
    expect(rows).not.toContain('break       1        0           0             0              0  folder added');
  });

  it('copy --dry-run lists a newline or an ESC in a name escaped, one line per item', async () => {
    const result = await runCli(['copy', '--dry-run', path.join(temp.path, 'src'), path.join(temp.path, 'dry')]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toMatch(/\u001b/);
    const lines = result.stdout.split('\n').filter((line) => line.startsWith('would copy file'));
    expect(lines).toHaveLength(3);
    expect(lines.some((line) => line.includes('.line\\x0abreak/cur/'))).toBe(true);
    expect(lines.some((line) => line.includes('.bad\\x1b[31mname/cur/'))).toBe(true);
  });
});
