import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let temp: TempDir;

beforeAll(async () => {
  temp = await makeTempDir('escaped-errors');
  for (const end of ['source', 'target']) for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(temp.path, end, sub), { recursive: true });
  // Loaded into the CLI's process before it starts: an error nobody catches, thrown while `watch` is running.
  await writeFile(path.join(temp.path, 'throw-later.mjs'), 'setTimeout(() => { throw new Error("escaped on purpose"); }, 1500);\n');
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('an error that escapes every caller', () => {
  it('is reported like any failure (--json on stdout, exit 1), never as a bare stack trace with nothing on stdout', async () => {
    const result = await runCli(['watch', path.join(temp.path, 'source'), path.join(temp.path, 'target'), '--json'], {
      env: { NODE_OPTIONS: `--import=${path.join(temp.path, 'throw-later.mjs')}` },
    });
    expect(result.code, result.stderr).toBe(1);
    expect(JSON.parse(result.stdout.slice(result.stdout.indexOf('{\n')))).toMatchObject({ ok: false, error: { code: 'MAILSHIFT_INTERNAL', message: 'escaped on purpose' } });
    expect(result.stderr).toMatch(/mailshift: escaped on purpose\n {2}hint: this is a bug in mailshift/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
