import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { passwordEnvNames, readPassword } from '../../src/core/secrets.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'secrets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function setup(overrides: { passwordFile?: string; env?: NodeJS.ProcessEnv; stdin?: string } = {}) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
  const source = {
    label: 'the source IMAP account',
    envNames: passwordEnvNames('source'),
    env: overrides.env ?? {},
    readStdin: async () => overrides.stdin ?? '',
    logger,
    ...(overrides.passwordFile !== undefined ? { passwordFile: overrides.passwordFile } : {}),
  };
  return { source, lines, logger };
}

describe('readPassword', () => {
  it('reads a file, drops one trailing newline and keeps everything else', async () => {
    const file = path.join(dir, 'pw');
    await writeFile(file, ' s3cret pass \n', { mode: 0o600 });
    const { source } = setup({ passwordFile: file });
    expect(await readPassword(source)).toBe(' s3cret pass ');
  });

  it('reads standard input for "-"', async () => {
    const { source } = setup({ passwordFile: '-', stdin: 'from-stdin\r\n' });
    expect(await readPassword(source)).toBe('from-stdin');
  });

  it('prefers the side-specific environment variable over the shared one', async () => {
    const { source } = setup({ env: { MAILSHIFT_IMAP_PASSWORD: 'shared', MAILSHIFT_SOURCE_PASSWORD: 'mine' } });
    expect(await readPassword(source)).toBe('mine');
    const shared = setup({ env: { MAILSHIFT_IMAP_PASSWORD: 'shared' } });
    expect(await readPassword(shared.source)).toBe('shared');
  });

  it('masks the password in every later log line', async () => {
    const { source, lines, logger } = setup({ env: { MAILSHIFT_IMAP_PASSWORD: 'hunter2' } });
    await readPassword(source);
    logger.info('LOGIN alice hunter2');
    expect(lines.join('')).not.toContain('hunter2');
    expect(lines.join('')).toContain('********');
  });

  it('warns about a password file other users can read', async () => {
    const file = path.join(dir, 'open');
    await writeFile(file, 'pw\n');
    await chmod(file, 0o644);
    const { source, lines } = setup({ passwordFile: file });
    await readPassword(source);
    expect(lines.join('')).toMatch(/can be read by other users/);
  });

  it('fails with a configuration error and a hint when there is no password anywhere', async () => {
    const { source } = setup();
    await expect(readPassword(source)).rejects.toMatchObject({ code: 'MAILSHIFT_NO_PASSWORD', exitCode: 78 });
    await expect(readPassword(source)).rejects.toHaveProperty('hint', expect.stringContaining('MAILSHIFT_SOURCE_PASSWORD'));
  });

  it('refuses an empty password and a missing or non-regular file', async () => {
    const empty = path.join(dir, 'empty');
    await writeFile(empty, '\n', { mode: 0o600 });
    await expect(readPassword(setup({ passwordFile: empty }).source)).rejects.toMatchObject({ code: 'MAILSHIFT_EMPTY_PASSWORD' });
    await expect(readPassword(setup({ passwordFile: path.join(dir, 'nope') }).source)).rejects.toMatchObject({ code: 'MAILSHIFT_PASSWORD_FILE' });
    await expect(readPassword(setup({ passwordFile: dir }).source)).rejects.toMatchObject({ code: 'MAILSHIFT_PASSWORD_FILE' });
  });
});
