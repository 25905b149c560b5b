import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { runCli } from './cli.js';

/**
 * A password typed into a URL (`imap://user:secret@host`, `ssh://user:secret@host/path`) is refused, and the refusal
 * used to print it back. The README promises passwords are masked everywhere: in every command's refusal, in text
 * and in --json, on stdout and stderr.
 */

const secret = 'Sw0rdf1sh-42';
let work: TempDir;

beforeAll(async () => {
  work = await makeTempDir('secrets-in-urls');
});

afterAll(async () => {
  await work?.cleanup();
});

describe('a password in a URL on the command line', () => {
  const cases = (dir: string): string[][] => [
    ['copy', `imap://alice:${secret}@127.0.0.1`, `${dir}/a`],
    ['copy', `${dir}/a`, `imaps://alice:${secret}@127.0.0.1:993`],
    ['copy', `ssh://root:${secret}@mail.example.com/home/alice/mail`, `${dir}/b`],
    ['copy', `ssh://root:${secret}@mail.example.com`, `${dir}/b`],
    ['copy', `cpanel:ssh://root:${secret}@mail.example.com/#alice`, `cpanel:${dir}/c#alice`],
    ['resync', `imap://alice:${secret}@127.0.0.1`, `${dir}/a`],
    ['resync', `maildir:ssh://root:${secret}@mail.example.com/x`, `${dir}/a`],
    ['verify', `imap://alice:${secret}@127.0.0.1`, `${dir}/a`],
    ['watch', `imaps://alice:${secret}@bad_host!`, `${dir}/a`],
    ['convert', `ssh://root:${secret}@mail.example.com/var/mail/alice`, `${dir}/d`],
    ['discover', `ssh://root:${secret}@mail.example.com/`],
    ['chown', `ssh://root:${secret}@mail.example.com/x`],
    ['copy', `imap://alice:${secret} and spaces@127.0.0.1`, `${dir}/a`],
    ['copy', '--imap-fallback', `imap://alice:${secret}@127.0.0.1`, `${dir}/e`, `${dir}/f`],
  ];

  it('is never printed back, in text or --json, on stdout or stderr, whatever the command', async () => {
    for (const args of cases(work.path)) {
      for (const json of [[], ['--json']]) {
        const result = await runCli([...json, ...args]);
        const shown = `${args.join(' ')} ${json.join('')}`;
        expect(result.code, `${shown}\n${result.stderr}`).not.toBe(0);
        expect(result.stdout + result.stderr, shown).not.toContain(secret);
        expect(result.stdout + result.stderr, shown).not.toContain('Sw0rdf1sh');
      }
    }
  });

  it('is refused with a hint, the URL shown with the password masked', async () => {
    const result = await runCli(['copy', `imap://alice:${secret}@127.0.0.1`, `${work.path}/a`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"imap://alice:***@127.0.0.1" carries a password');
    expect(result.stderr).toMatch(/hint: passwords never go on the command line/);
  });
});
