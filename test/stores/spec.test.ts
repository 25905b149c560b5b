import { describe, expect, it } from 'vitest';
import { formatSpec, parseStoreSpec } from '../../src/stores/spec.js';
import { MailshiftError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-codes.js';

const cwd = '/work/here';
const parse = (text: string) => parseStoreSpec(text, { cwd });

function rejects(text: string, pattern: RegExp): void {
  let caught: unknown;
  try {
    parse(text);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected "${text}" to be rejected`).toBeInstanceOf(MailshiftError);
  expect((caught as MailshiftError).exitCode).toBe(ExitCode.usage);
  expect((caught as MailshiftError).message).toMatch(pattern);
}

describe('parseStoreSpec', () => {
  it('reads a plain path as a local path, resolved against the working directory', () => {
    expect(parse('Maildir')).toEqual({ kind: 'path', location: { type: 'local' }, path: '/work/here/Maildir' });
    expect(parse('/srv/mail/')).toEqual({ kind: 'path', location: { type: 'local' }, path: '/srv/mail' });
  });

  it('keeps a local file name with a colon local (never read as host:path)', () => {
    expect(parse('./a:b')).toEqual({ kind: 'path', location: { type: 'local' }, path: '/work/here/a:b' });
    expect(parse('backup:2024')).toMatchObject({ kind: 'path', location: { type: 'local' } });
  });

  it('reads maildir: and mbox: prefixes, local and over ssh', () => {
    expect(parse('maildir:/m')).toEqual({ kind: 'maildir', location: { type: 'local' }, path: '/m' });
    expect(parse('mbox:inbox.mbox')).toEqual({ kind: 'mbox', location: { type: 'local' }, path: '/work/here/inbox.mbox' });
    expect(parse('maildir:ssh://root@mx1.example.com:2222/home/u/mail')).toEqual({
      kind: 'maildir',
      location: { type: 'ssh', user: 'root', host: 'mx1.example.com', port: 2222 },
      path: '/home/u/mail',
    });
  });

  it('reads ssh:// URLs with and without user and port, path verbatim', () => {
    expect(parse('ssh://127.0.0.1/srv/x y/%41')).toEqual({
      kind: 'path',
      location: { type: 'ssh', host: '127.0.0.1' },
      path: '/srv/x y/%41',
    });
    expect(parse('ssh://[::1]:22/p')).toEqual({ kind: 'path', location: { type: 'ssh', host: '::1', port: 22 }, path: '/p' });
  });

  it('reads cPanel account and mailbox specs, with local and remote roots', () => {
    expect(parse('cpanel:/#alice')).toEqual({ kind: 'cpanel', location: { type: 'local' }, root: '/', user: 'alice' });
    expect(parse('cpanel:/srv/old#alice')).toEqual({ kind: 'cpanel', location: { type: 'local' }, root: '/srv/old', user: 'alice' });
    expect(parse('cpanel:ssh://root@127.0.0.1:2200/#bob')).toEqual({
      kind: 'cpanel',
      location: { type: 'ssh', user: 'root', host: '127.0.0.1', port: 2200 },
      root: '/',
      user: 'bob',
    });
    expect(parse('cpanel:/r#info@Example.COM')).toEqual({
      kind: 'cpanel',
      location: { type: 'local' },
      root: '/r',
      user: '',
      mailbox: { localPart: 'info', domain: 'example.com' },
    });
  });

  it('reads IMAP URLs whose user contains @, with default ports', () => {
    expect(parse('imap://info@example.com@127.0.0.1')).toEqual({
      kind: 'imap',
      tls: false,
      user: 'info@example.com',
      host: '127.0.0.1',
      port: 143,
    });
    expect(parse('imaps://info%40example.com@127.0.0.1:10993/INBOX')).toEqual({
      kind: 'imap',
      tls: true,
      user: 'info@example.com',
      host: '127.0.0.1',
      port: 10993,
      mailbox: 'INBOX',
    });
  });

  it("reads how to log in from RFC 5092's ;AUTH= after the user", () => {
    expect(parse('imaps://info@example.com;AUTH=XOAUTH2@outlook.office365.com')).toEqual({
      kind: 'imap',
      tls: true,
      user: 'info@example.com',
      auth: 'oauth2',
      host: 'outlook.office365.com',
      port: 993,
    });
    expect(parse('imaps://u;auth=oauthbearer@h')).toMatchObject({ user: 'u', auth: 'oauth2' });
    expect(parse('imaps://u;AUTH=PLAIN@h')).toMatchObject({ user: 'u', auth: 'plain' });
    expect(parse('imaps://u;AUTH=LOGIN@h')).toMatchObject({ user: 'u', auth: 'login' });
    expect(parse('imaps://u;AUTH=*@h')).toEqual({ kind: 'imap', tls: true, user: 'u', host: 'h', port: 993 });
    // Only the last ;AUTH= is the mechanism; an encoded ';' stays in the user name.
    expect(parse('imaps://a%3Bb;AUTH=XOAUTH2@h')).toMatchObject({ user: 'a;b', auth: 'oauth2' });
    rejects('imaps://u;AUTH=GSSAPI@h', /cannot log in with ;AUTH=GSSAPI/);
    rejects('imaps://;AUTH=XOAUTH2@h', /names no user/);
  });

  it('refuses passwords on the command line', () => {
    rejects('imap://bob:secret@127.0.0.1', /password/);
    rejects('ssh://bob:secret@127.0.0.1/p', /password/);
  });

  it('refuses hosts that ssh could read as an option or that are not host names', () => {
    rejects('ssh://-oProxyCommand=touch%20x/p', /not a valid host/);
    rejects('ssh://-oProxyCommand=x/p', /not a valid host/);
    rejects('ssh://a b/p', /not a valid host/);
    rejects('ssh://host;rm/p', /not a valid host/);
    rejects('ssh://[zz]/p', /IPv6/);
    rejects('ssh://-l@host/p', /ssh user/);
  });

  it('refuses bad ports, missing paths and unknown schemes', () => {
    rejects('ssh://h:0/p', /port/);
    rejects('ssh://h:99999/p', /port/);
    rejects('ssh://h', /no path/);
    rejects('ftp://h/p', /unsupported URL scheme/);
    rejects('maildir:', /no path/);
    rejects('', /empty/);
    rejects('a\u0000b', /NUL/);
  });

  it('refuses cPanel user names that could address another directory', () => {
    rejects('cpanel:/#../root', /not a valid cPanel user/);
    rejects('cpanel:/#a/b', /not a valid cPanel user/);
    rejects('cpanel:/#a*', /not a valid cPanel user/);
    rejects('cpanel:/#', /not a valid cPanel user/);
    rejects('cpanel:#alice', /no root/);
    rejects('cpanel:/srv', /no account/);
    rejects('cpanel:/#../x@example.com', /not a valid mailbox/);
    rejects('cpanel:/#x@exa mple.com', /not a valid domain/);
  });

  it('formats specs back into the text users type', () => {
    for (const text of ['/m', 'maildir:/m', 'cpanel:/r#alice', 'cpanel:ssh://root@127.0.0.1:2200/r#info@example.com', 'imaps://u@h:993']) {
      expect(formatSpec(parse(text))).toBe(text);
    }
  });
});

describe('parseStoreSpec with a password in the URL', () => {
  const secret = 'Tr0ub4dor&3';
  /** The refusal of `text`: a usage error whose message and hint never show the secret. */
  const refusalOf = (text: string): MailshiftError => {
    try {
      parseStoreSpec(text);
    } catch (err) {
      expect(err).toBeInstanceOf(MailshiftError);
      return err as MailshiftError;
    }
    throw new Error(`${text} was accepted`);
  };

  it.each([
    `imap://alice:${secret}@mail.example.com`,
    `imaps://alice:${secret}@mail.example.com:993/INBOX`,
    `imaps://alice:${secret}@bad_host!`,
    `imap://alice:${secret}@mail.example.com/%zz`,
    `imap://alice;AUTH=BOGUS:${secret}@mail.example.com`,
    `ssh://root:${secret}@mail.example.com/home/alice/mail`,
    `ssh://root:${secret}@mail.example.com`,
    `ssh://root:${secret}@mail.example.com:99999/x`,
    `maildir:ssh://root:${secret}@mail.example.com/x`,
    `mbox:ssh://root:${secret}@mail.example.com/x`,
    `cpanel:ssh://root:${secret}@mail.example.com/#alice`,
    `cpanel:ssh://root:${secret}@mail.example.com/`,
    `ftp://root:${secret}@mail.example.com/x`,
    `imap://alice:${secret} with spaces@mail.example.com`,
  ])('refuses %s without printing the password back', (text) => {
    const err = refusalOf(text);
    expect(err.exitCode).toBe(ExitCode.usage);
    expect(`${err.message}\n${err.hint ?? ''}\n${JSON.stringify(err.toJSON())}`).not.toContain(secret);
    expect(err.message).toMatch(/:\*\*\*@/);
  });
});

describe('parseStoreSpec: cpmove: backups', () => {
  it('reads a backup file, its account or one of its mailboxes, resolved against the working directory', () => {
    expect(parseStoreSpec('cpmove:backups/cpmove-bob.tar.gz', { cwd: '/srv' })).toEqual({ kind: 'archive', location: { type: 'local' }, path: '/srv/backups/cpmove-bob.tar.gz' });
    expect(parseStoreSpec('cpmove:/b/bob.tar#bob')).toMatchObject({ kind: 'archive', path: '/b/bob.tar', user: 'bob' });
    expect(parseStoreSpec('cpmove:/b/bob.tar#Alice@Example.COM')).toMatchObject({ mailbox: { localPart: 'Alice', domain: 'example.com' } });
  });

  it('formats back to what was typed', () => {
    for (const text of ['cpmove:/b/bob.tar', 'cpmove:/b/bob.tar#bob', 'cpmove:/b/bob.tar#alice@example.com']) expect(formatSpec(parseStoreSpec(text))).toBe(text);
  });

  it('refuses a remote backup, a missing file name and a mailbox name that could climb out', () => {
    expect(() => parseStoreSpec('cpmove:ssh://old/b/bob.tar')).toThrow(/read from this machine/);
    expect(() => parseStoreSpec('cpmove:#bob')).toThrow(/names no backup file/);
    expect(() => parseStoreSpec('cpmove:/b/bob.tar#../x@example.com')).toThrow(/not a valid mailbox name/);
  });

  it('leaves a plain path a path: whether it is a backup is looked at where it is used, not here', () => {
    expect(parseStoreSpec('/b/cpmove-bob.tar.gz')).toMatchObject({ kind: 'path' });
  });
});
