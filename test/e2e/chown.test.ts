import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { writeTree } from '../support/tree.js';
import { runCli } from './cli.js';

/**
 * chown of a plain maildir (no cPanel root) for a user: the README promises cPanel's modes there too (directories
 * 0751, messages 0640, maildirsize 0600), not only the owners. Left at root's 0755/0644, Dovecot running as the user
 * could not write into the top directory.
 */
let temp: TempDir;

beforeAll(async () => {
  temp = await makeTempDir('chown-plain', { mode: 0o755 });
});
afterAll(async () => {
  await temp?.cleanup();
});

const modeOf = async (p: string) => {
  const s = await lstat(p);
  return `${s.uid}:${s.gid} ${(s.mode & 0o7777).toString(8).padStart(4, '0')}`;
};

describe('mailshift chown PATH --user USER', () => {
  it('gives a plain maildir the promised modes, its top directory included, not only the owners', async () => {
    const maildir = path.join(temp.path, 'Maildir');
    await writeTree(maildir, {
      'cur/1700000000.M1P1.host,S=5:2,S': { content: 'hello', mode: 0o644 },
      'new/1700000001.M2P1.host,S=5': { content: 'hello', mode: 0o644 },
      tmp: { type: 'dir', mode: 0o755 },
      '.Sent/cur/1700000002.M3P1.host,S=5:2,S': { content: 'hello', mode: 0o644 },
      maildirsize: { content: '0S,0C\n', mode: 0o644 },
      'dovecot-uidlist': { content: '3 V1 N1\n', mode: 0o600 },
    });
    const passwd = await readFile('/etc/passwd', 'utf8');
    const nobody = /^nobody:[^:]*:(\d+):(\d+):/m.exec(passwd);
    expect(nobody, 'this machine has a nobody user').not.toBeNull();
    const ids = `${nobody![1]}:${nobody![2]}`;

    const result = await runCli(['--json', 'chown', maildir, '--user', 'nobody']);
    expect(result.code, result.stderr).toBe(0);
    expect(await modeOf(maildir)).toBe(`${ids} 0751`);
    for (const dir of ['cur', 'new', 'tmp', '.Sent', '.Sent/cur']) expect(await modeOf(path.join(maildir, dir)), dir).toBe(`${ids} 0751`);
    for (const file of ['cur/1700000000.M1P1.host,S=5:2,S', 'new/1700000001.M2P1.host,S=5', '.Sent/cur/1700000002.M3P1.host,S=5:2,S']) {
      expect(await modeOf(path.join(maildir, file)), file).toBe(`${ids} 0640`);
    }
    expect((await modeOf(path.join(maildir, 'maildirsize'))).endsWith(' 0600')).toBe(true);
    // Dovecot's own files keep their mode (it chooses them).
    expect(await modeOf(path.join(maildir, 'dovecot-uidlist'))).toBe(`${ids} 0600`);

    const again = await runCli(['--json', 'chown', maildir, '--user', 'nobody']);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { planned: number }).planned).toBe(0);
  });
});
