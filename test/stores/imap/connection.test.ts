import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { buildImapFlowOptions, buildImapLogger, buildSaslPayloads, formatLogEntry, isLoopbackHost, toConnectError } from '../../../src/stores/imap/connection.js';
import type { ImapSpec } from '../../../src/stores/spec.js';

const spec = (over: Partial<ImapSpec> = {}): ImapSpec => ({ kind: 'imap', tls: true, user: 'alice', host: 'mail.example.com', port: 993, ...over });
const lines: string[] = [];
const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });

describe('buildImapFlowOptions', () => {
  it('verifies certificates by default and adds --ca-file certificates to the system roots', () => {
    const options = buildImapFlowOptions({ spec: spec(), password: 'pw', logger, caPem: '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n' });
    expect(options.secure).toBe(true);
    expect(options.tls?.rejectUnauthorized).toBe(true);
    const ca = options.tls?.ca as string[];
    expect(ca.length).toBeGreaterThan(1);
    expect(ca.at(-1)).toContain('BEGIN CERTIFICATE');
  });

  it('requires STARTTLS for imap:// to another machine, and only --insecure lifts that', () => {
    expect(buildImapFlowOptions({ spec: spec({ tls: false, port: 143 }), password: 'pw', logger }).doSTARTTLS).toBe(true);
    const insecure = buildImapFlowOptions({ spec: spec({ tls: false, port: 143 }), password: 'pw', logger, isInsecure: true });
    expect(insecure.doSTARTTLS).toBeUndefined();
    expect(insecure.tls?.rejectUnauthorized).toBe(false);
  });

  it('lets imap:// on the loopback interface log in without TLS (nothing leaves the machine)', () => {
    expect(buildImapFlowOptions({ spec: spec({ tls: false, host: '127.0.0.1' }), password: 'pw', logger }).doSTARTTLS).toBeUndefined();
    expect(isLoopbackHost('127.0.0.53')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(isLoopbackHost('127.example.com')).toBe(false);
  });
});

describe('buildImapFlowOptions: the session', () => {
  it('stays IMAP4rev1, whose answers the raw sessions read (under IMAP4rev2 UID SEARCH answers ESEARCH)', () => {
    expect(buildImapFlowOptions({ spec: spec(), password: 'pw', logger }).disableIMAP4rev2).toBe(true);
  });
});

describe('buildImapFlowOptions: credentials', () => {
  it('sends the secret as a password by default, with the mechanism the URL named, or as an OAuth2 access token', () => {
    expect(buildImapFlowOptions({ spec: spec(), password: 'pw', logger }).auth).toEqual({ user: 'alice', pass: 'pw' });
    expect(buildImapFlowOptions({ spec: spec({ auth: 'plain' }), password: 'pw', logger }).auth).toEqual({ user: 'alice', pass: 'pw', loginMethod: 'AUTH=PLAIN' });
    expect(buildImapFlowOptions({ spec: spec({ auth: 'login' }), password: 'pw', logger }).auth).toEqual({ user: 'alice', pass: 'pw', loginMethod: 'AUTH=LOGIN' });
    expect(buildImapFlowOptions({ spec: spec({ auth: 'oauth2' }), password: 'ya29.token', logger }).auth).toEqual({ user: 'alice', accessToken: 'ya29.token' });
  });
});

describe('buildSaslPayloads', () => {
  const decoded = (payloads: string[]) => payloads.map((each) => Buffer.from(each, 'base64').toString());

  it('gives the PLAIN form of a password login', () => {
    expect(decoded(buildSaslPayloads(spec(), 'pw'))).toEqual(['\u0000alice\u0000pw']);
  });

  it('gives the XOAUTH2 and OAUTHBEARER forms of a token login, both holding the token', () => {
    const forms = decoded(buildSaslPayloads(spec({ auth: 'oauth2', user: 'a,b=c@example.com' }), 'tok'));
    expect(forms[0]).toBe('user=a,b=c@example.com\u0001auth=Bearer tok\u0001\u0001');
    expect(forms[1]).toBe('n,a=a=2Cb=3Dc@example.com,\u0001host=mail.example.com\u0001port=993\u0001auth=Bearer tok\u0001\u0001');
  });
});

describe('toConnectError', () => {
  const refused = Object.assign(new Error('Command failed'), { authenticationFailed: true, responseText: 'Authentication failed.' });

  it('says a refused access token may have expired, and a refused password what Microsoft 365 needs', () => {
    const token = toConnectError(refused, { spec: spec({ auth: 'oauth2' }) });
    expect(token.code).toBe('MAILSHIFT_IMAP_AUTH');
    expect(token.exitCode).toBe(78);
    expect(token.hint).toMatch(/access token.*expired/);
    const password = toConnectError(refused, { spec: spec() });
    expect(password.hint).toMatch(/;AUTH=XOAUTH2/);
  });
});

describe('toConnectError for imaps:// at a plaintext port', () => {
  it('says the port does not speak TLS and points to imap:// or port 993, not to --ca-file', () => {
    const openssl = Object.assign(new Error('C0B7F1E8:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
    const err = toConnectError(openssl, { spec: spec({ port: 143 }) });
    expect(err.message).toBe('mail.example.com port 143 does not speak TLS: imaps:// needs a port with TLS from the first byte');
    expect(err.hint).toMatch(/imap:\/\/alice@mail\.example\.com:143 .*STARTTLS.*993/);
    expect(err.hint).not.toMatch(/--ca-file/);
    expect(err.exitCode).toBe(78);
  });
});

describe('toConnectError at a temporary NO to LOGIN', () => {
  it('calls a login refused with NO [THROTTLED] or [UNAVAILABLE] temporary (exit 75), not a wrong password (78)', () => {
    for (const serverResponseCode of ['THROTTLED', 'UNAVAILABLE', 'INUSE', 'LIMIT']) {
      const err = toConnectError(Object.assign(new Error('Command failed'), { authenticationFailed: true, responseStatus: 'NO', serverResponseCode, responseText: 'try later' }), { spec: spec() });
      expect(err.code).not.toBe('MAILSHIFT_IMAP_AUTH');
      expect(err.exitCode).toBe(75);
      expect(err.retry).toBe('later');
      expect(err.hint ?? '').not.toMatch(/check the user name and the password/);
    }
  });
});

describe('buildImapLogger', () => {
  it('keeps imapflow quiet (and its protocol dumps unserialised) unless --debug', () => {
    const quiet = buildImapLogger(logger, 'alice@h');
    expect(quiet.isLevelEnabled('debug')).toBe(false);
    quiet.info({ msg: 'Connection established' });
    expect(lines).toEqual([]);
    const debugLines: string[] = [];
    const loud = buildImapLogger(createLogger({ level: 'debug', write: (line) => debugLines.push(line) }), 'alice@h');
    expect(loud.isLevelEnabled('trace')).toBe(false);
    expect(loud.isLevelEnabled('debug')).toBe(true);
    loud.warn({ msg: 'Dropped flags', cid: 'x1', path: 'INBOX', err: new Error('boom') });
    expect(debugLines).toEqual(['debug: imap alice@h: Dropped flags boom cid=x1 path=INBOX\n']);
  });

  it('formats odd entries without throwing', () => {
    expect(formatLogEntry('plain')).toBe('plain');
    expect(formatLogEntry(null)).toBe('null');
  });
});
