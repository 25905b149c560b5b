import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from './cli.js';
import { runCommand } from '../support/process.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

/**
 * The progress bar is drawn only on a terminal: `script` gives the CLI one. Its last line must count every message,
 * not the last figure reported while reading (it ended at "100% 18640 msgs" for 20,000).
 */
let temp: TempDir;
const messages = 20_000;

beforeAll(async () => {
  temp = await makeTempDir('progress');
  const parts: string[] = [];
  for (let i = 0; i < messages; i++) parts.push(`From a@example.com Mon Jan  1 00:00:00 2024\nSubject: m${i}\nMessage-ID: <${i}@example.com>\n\nbody ${i}\n\n`);
  await writeFile(path.join(temp.path, 'inbox.mbox'), parts.join(''));
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('the progress bar', () => {
  it('ends at 100% with every converted message counted, not the last count seen while reading', async () => {
    // script(1) runs its command through a shell: the paths are our own temp paths, quoted.
    const command = [process.execPath, cliPath, 'convert', path.join(temp.path, 'inbox.mbox'), path.join(temp.path, 'Maildir')].map((a) => `'${a}'`).join(' ');
    const result = await runCommand('script', ['-qec', command, '/dev/null'], { allowFailure: true, timeoutMs: 120_000 });
    const output = result.stdout.toString('utf8');
    expect(result.code, output).toBe(0);
    expect(output).toMatch(new RegExp(`Converted ${messages} messages`));
    const lines = output.split(/[\r\n]/).filter((line) => line.includes(' msgs '));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatch(new RegExp(`100% ${messages} msgs`));
  });
});
