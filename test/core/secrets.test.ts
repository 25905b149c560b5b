import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { findUrlSecrets, maskUrlSecrets, passwordEnvNames, readPassword } from '../../src/core/secrets.js';

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

describe('maskUrlSecrets', () => {
  it('masks the password of any scheme://user:password@host in a text, and nothing else', () => {
    expect(maskUrlSecrets('"imap://alice:s3cret@mail.example.com" carries a password')).toBe('"imap://alice:***@mail.example.com" carries a password');
    expect(maskUrlSecrets('cannot read ssh://root:p@ss:w0rd@h:22/srv/mail: ENOENT')).toBe('cannot read ssh://root:***@h:22/srv/mail: ENOENT');
    expect(maskUrlSecrets('"cpanel:ssh://r:x yz@h/#a" no', findUrlSecrets('cpanel:ssh://r:x yz@h/#a'))).toBe('"cpanel:ssh://r:***@h/#a" no');
    expect(maskUrlSecrets('a: imap://u:one@h and ssh://v:two@k/p')).toBe('a: imap://u:***@h and ssh://v:***@k/p');
    // No password: left as it is (a port, an account in the cPanel fragment, a user alone).
    for (const text of ['ssh://host:2222/srv/mail', 'cpanel:ssh://h:22/#alice@example.com', 'imaps://alice@mail.example.com:993', 'plain text: 10:30 @home']) {
      expect(maskUrlSecrets(text)).toBe(text);
    }
  });

  it('is applied to every log line', () => {
    const lines: string[] = [];
    createLogger({ level: 'debug', write: (line) => lines.push(line) }).warn('opening imap://alice:hunter22@h failed');
    expect(lines).toEqual(['warn: opening imap://alice:***@h failed\n']);
  });
});
