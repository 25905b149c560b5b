import { describe, expect, it } from 'vitest';
import { decideSetupCommand, formatIdCommand, type SetupState } from '../../../src/stores/imap/session-setup.js';

const offered = (...capabilities: string[]): SetupState => ({ isAuthenticated: false, capabilities: new Set(['IMAP4REV1', ...capabilities]) });
const loggedIn = (...capabilities: string[]): SetupState => ({ ...offered(...capabilities), isAuthenticated: true });

describe('decideSetupCommand', () => {
  it('leaves ID to the first EXAMINE, before login and after', () => {
    expect(decideSetupCommand('ID', [{ name: 'mailshift' }], offered('ID'))).toMatchObject({ send: false });
    expect(decideSetupCommand('ID', [{ name: 'mailshift' }], loggedIn('ID'))).toMatchObject({ send: false });
  });

  it('formats that ID with the name and version only, quoted', () => {
    expect(formatIdCommand('1.2.0')).toBe('ID ("name" "mailshift" "version" "1.2.0")');
    expect(formatIdCommand('x"y\\z')).toBe('ID ("name" "mailshift" "version" "x\\"y\\\\z")');
  });

  it('logs in with a password by LOGIN, one round trip, unless the server says LOGINDISABLED', () => {
    const args = ['alice', { password: 'pw', loginMethod: '', authzid: undefined }];
    expect(decideSetupCommand('AUTHENTICATE', args, offered('AUTH=PLAIN', 'SASL-IR'))).toMatchObject({ send: true, command: 'LOGIN', args: ['alice', 'pw'] });
    expect(decideSetupCommand('AUTHENTICATE', args, offered('AUTH=PLAIN', 'LOGINDISABLED'))).toEqual({ send: true, command: 'AUTHENTICATE', args });
    // A quoted string is 7-bit: a password (or user name) beyond printable ASCII goes by AUTHENTICATE PLAIN (base64).
    for (const other of [['alice', { password: 'Grüße-2026' }], ['jürgen', { password: 'pw' }], ['alice', { password: 'tab\there' }]]) {
      expect(decideSetupCommand('AUTHENTICATE', other, offered('AUTH=PLAIN'))).toEqual({ send: true, command: 'AUTHENTICATE', args: other });
    }
  });

  it('keeps the mechanism the URL named, and OAuth2 tokens, as imapflow sends them', () => {
    const plain = ['alice', { password: 'pw', loginMethod: 'AUTH=PLAIN' }];
    expect(decideSetupCommand('AUTHENTICATE', plain, offered('AUTH=PLAIN'))).toEqual({ send: true, command: 'AUTHENTICATE', args: plain });
    const token = ['alice', { accessToken: 'ya29.x' }];
    expect(decideSetupCommand('AUTHENTICATE', token, offered('AUTH=XOAUTH2'))).toEqual({ send: true, command: 'AUTHENTICATE', args: token });
  });

  it('enables nothing for CONDSTORE alone (EXAMINE asks for it), and still enables what else the server offers', () => {
    const wanted = [['CONDSTORE', 'UTF8=ACCEPT', 'IMAP4rev2']];
    expect(decideSetupCommand('ENABLE', wanted, loggedIn('CONDSTORE', 'ENABLE'))).toMatchObject({ send: false });
    expect(decideSetupCommand('ENABLE', wanted, loggedIn('CONDSTORE', 'ENABLE', 'UTF8=ACCEPT'))).toEqual({ send: true, command: 'ENABLE', args: [['UTF8=ACCEPT']] });
  });

  it('never sends a STATUS per folder, nor NAMESPACE (the store asks beside its LIST), and passes every other command as it is', () => {
    expect(decideSetupCommand('STATUS', ['INBOX', { uidNext: true }], loggedIn('LIST-STATUS'))).toMatchObject({ send: false, result: undefined });
    expect(decideSetupCommand('NAMESPACE', [], loggedIn('NAMESPACE'))).toMatchObject({ send: false, result: undefined });
    expect(decideSetupCommand('LIST', ['', '*', {}], loggedIn())).toEqual({ send: true, command: 'LIST', args: ['', '*', {}] });
  });
});
