import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let temp: TempDir;

beforeAll(async () => {
  temp = await makeTempDir('copy-source-errors');
  await writeFile(path.join(temp.path, 'notes.txt'), 'Remember to migrate the mail.\nThis is not a mailbox.\n');
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('a source that is a plain text file', () => {
  it('copy, resync and watch call a plain text file a file, not "mbox"', async () => {
    for (const command of ['copy', 'resync', 'watch']) {
      const result = await runCli([command, path.join(temp.path, 'notes.txt'), path.join(temp.path, 'never')]);
      expect(result.stderr, command).not.toMatch(/is mbox/);
      expect(result.stderr, command).toMatch(new RegExp(`notes\\.txt is a file, neither a maildir nor an mbox: ${command} moves maildir directories`));
      expect(result.stderr, command).toMatch(/hint: give the maildir directory/);
      expect(result.code, command).toBe(2);
    }
  });
});
