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
  it('resync shows a newline or an ESC in a folder name escaped, without breaking its lists', async () => {
    const result = await runCli(['resync', path.join(temp.path, 'src'), path.join(temp.path, 'dst')]);
    // Such folders are unsafe (discover says so) and left behind: listed, exit 3.
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).not.toMatch(/\u001b/);
    const rows = result.stdout.split('\n');
    expect(rows).toContain('  .line\\x0abreak: folder name is unsafe as a path (control characters in name); not copied');
    expect(rows).toContain('  .bad\\x1b[31mname: folder name is unsafe as a path (control characters in name); not copied');
    expect(rows).not.toContain('break: folder name is unsafe as a path (control characters in name); not copied');
  });

  it('copy --dry-run lists a newline or an ESC in a name escaped, one line per item', async () => {
    const result = await runCli(['copy', '--dry-run', path.join(temp.path, 'src'), path.join(temp.path, 'dry')]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout + result.stderr).not.toMatch(/\u001b/);
    expect(result.stdout.split('\n').filter((line) => line.startsWith('would copy file'))).toHaveLength(1);
    const refused = result.stdout.split('\n').filter((line) => line.includes('control characters in name; not copied'));
    expect(refused).toHaveLength(2);
    expect(refused.some((line) => line.includes('/src/.line\\nbreak"'))).toBe(true);
    expect(refused.some((line) => line.includes('/src/.bad\\u001b[31mname"'))).toBe(true);
  });
});
