import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCredentialsFile, writeCredentialsFile } from '../../src/campaign/credentials.js';
import { createLogger } from '../../src/core/logger.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let temp: TempDir;
beforeAll(async () => {
  temp = await makeTempDir('credentials');
});
afterAll(async () => {
  await temp?.cleanup();
});

function captureLogger() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line: string) => lines.push(line) });
  return { logger, lines };
}

describe('credentials file', () => {
  it('is written with mode 0600 and read back, every secret redacted from later logs', async () => {
    const file = path.join(temp.path, 'plan.credentials.json');
    await writeCredentialsFile(file, new Map([['alice.source', 'S3cret'], ['alice.target', 'p;w"x']]));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const { logger, lines } = captureLogger();
    const secrets = await readCredentialsFile(file, logger);
    expect([...secrets]).toEqual([['alice.source', 'S3cret'], ['alice.target', 'p;w"x']]);
    logger.info('login as alice with S3cret');
    expect(lines.join('\n')).not.toContain('S3cret');
  });

  it('never replaces an existing file', async () => {
    const file = path.join(temp.path, 'kept.json');
    await writeFile(file, 'hand-fixed');
    await expect(writeCredentialsFile(file, new Map([['a', 'b']]))).rejects.toMatchObject({ code: 'MAILSHIFT_USAGE', message: `${file} exists already: its credentials are kept` });
    expect(await readFile(file, 'utf8')).toBe('hand-fixed');
  });

  it('warns when others can read it, and refuses a file that is not one without quoting it', async () => {
    const open = path.join(temp.path, 'open.json');
    await writeFile(open, JSON.stringify({ version: 1, credentials: { a: 'b' } }));
    await chmod(open, 0o644);
    const { logger, lines } = captureLogger();
    await readCredentialsFile(open, logger);
    expect(lines.join('\n')).toMatch(/can be read by other users \(mode 644\): chmod 600/);
    const broken = path.join(temp.path, 'broken.json');
    await writeFile(broken, 'alice=TopSecret');
    const error = (await readCredentialsFile(broken, logger).catch((err: unknown) => err)) as Error;
    expect(error).toMatchObject({ code: 'MAILSHIFT_PASSWORD_FILE' });
    expect(error.message).not.toContain('TopSecret');
  });
});
