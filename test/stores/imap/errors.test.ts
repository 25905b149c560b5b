import { describe, expect, it } from 'vitest';
import { classifyImapError } from '../../../src/stores/imap/errors.js';

/** Errors shaped the way imapflow builds them (code, serverResponseCode, responseStatus, responseText). */
const no = (responseText: string, serverResponseCode?: string) =>
  Object.assign(new Error('Command failed'), { responseStatus: 'NO', responseText, ...(serverResponseCode ? { serverResponseCode } : {}) });

describe('classifyImapError', () => {
  it('stops on authentication failures', () => {
    expect(classifyImapError(Object.assign(new Error('Authentication failed'), { authenticationFailed: true, serverResponseCode: 'AUTHENTICATIONFAILED' }))).toMatchObject({ kind: 'auth', isTransient: false });
    expect(classifyImapError(no('Password expired', 'EXPIRED')).kind).toBe('auth');
    // Exchange, after a LOGIN it accepted, to any later command (an EXAMINE on a connection that sent no NAMESPACE).
    const bad = Object.assign(new Error('Command failed'), { responseStatus: 'BAD', responseText: 'User is authenticated but not connected.' });
    expect(classifyImapError(bad)).toMatchObject({ kind: 'auth', isTransient: false });
  });

  it('does not take a LOGIN refused with NO [UNAVAILABLE], [THROTTLED], [INUSE] or [LIMIT] for a wrong password', () => {
    // imapflow sets authenticationFailed on every tagged NO to LOGIN or AUTHENTICATE, whatever the response code.
    const loginNo = (serverResponseCode: string, responseText: string) =>
      Object.assign(new Error('Command failed'), { authenticationFailed: true, responseStatus: 'NO', serverResponseCode, responseText });
    expect(classifyImapError(loginNo('UNAVAILABLE', 'Server unavailable, try later'))).toMatchObject({ kind: 'unavailable', isTransient: true });
    expect(classifyImapError(loginNo('THROTTLED', 'Too many logins'))).toMatchObject({ kind: 'throttled', isTransient: true });
    expect(classifyImapError(loginNo('INUSE', 'Mailbox in use'))).toMatchObject({ kind: 'unavailable', isTransient: true });
    expect(classifyImapError(loginNo('LIMIT', 'Too many sessions'))).toMatchObject({ kind: 'unavailable', isTransient: true });
    // The code in the text only (an AUTHENTICATE answer imapflow did not parse) counts too.
    expect(classifyImapError(Object.assign(new Error('Command failed'), { authenticationFailed: true, responseText: '[THROTTLED] slow down' })).kind).toBe('throttled');
    expect(classifyImapError(loginNo('AUTHENTICATIONFAILED', 'Authentication failed')).kind).toBe('auth');
  });

  it('stops on untrusted certificates', () => {
    expect(classifyImapError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })).kind).toBe('tls');
    expect(classifyImapError(Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })).kind).toBe('tls');
  });

  it('retries NO [UNAVAILABLE], [INUSE] and [LIMIT] after a back-off', () => {
    expect(classifyImapError(no('Temporary System Problem (Failure)', 'UNAVAILABLE'))).toMatchObject({ kind: 'unavailable', isTransient: true });
    expect(classifyImapError(no('[INUSE] Mailbox is locked')).kind).toBe('unavailable');
    expect(classifyImapError(no('[LIMIT] Too many')).kind).toBe('unavailable');
  });

  it('finds the response code in the parsed response when imapflow did not copy it onto the error (FETCH)', () => {
    const fetchError = Object.assign(new Error('Command failed'), {
      responseStatus: 'NO',
      responseText: 'Server busy',
      response: { tag: 'A5', command: 'NO', attributes: [{ type: 'SECTION', section: [{ type: 'ATOM', value: 'UNAVAILABLE' }] }, { type: 'TEXT', value: 'Server busy' }] },
    });
    expect(classifyImapError(fetchError)).toMatchObject({ kind: 'unavailable', isTransient: true });
    expect(classifyImapError(Object.assign(new Error('x'), { response: 'A5 NO [INUSE] locked' })).kind).toBe('unavailable');
  });

  it('treats throttling as transient and keeps the delay the server asked for', () => {
    expect(classifyImapError(no('[THROTTLED] slow down'))).toMatchObject({ kind: 'throttled', isTransient: true });
    expect(classifyImapError(Object.assign(new Error('x'), { responseStatus: 'BAD', responseText: 'Request is throttled. Suggested Backoff Time: 299961 milliseconds' }))).toMatchObject({ kind: 'throttled', retryAfterMs: 299961 });
    expect(classifyImapError(Object.assign(new Error('x'), { code: 'ETHROTTLE', throttleReset: 5000 }))).toMatchObject({ kind: 'throttled', retryAfterMs: 5000 });
    expect(classifyImapError(no('[ALERT] Too many simultaneous connections. (Failure)')).kind).toBe('throttled');
  });

  it('reconnects after resets, closed connections, timeouts and BYE', () => {
    for (const code of ['ECONNRESET', 'EConnectionClosed', 'NoConnection', 'ETIMEOUT', 'ECONNREFUSED']) {
      expect(classifyImapError(Object.assign(new Error(code), { code }))).toMatchObject({ kind: 'connection', isTransient: true });
    }
    expect(classifyImapError(new Error('Connection closed')).kind).toBe('connection');
  });

  it('tells a full mailbox (stop) from Gmail bandwidth limits (wait)', () => {
    expect(classifyImapError(no('Quota exceeded (mailbox for user is full)', 'OVERQUOTA'))).toMatchObject({ kind: 'overquota', isTransient: false });
    expect(classifyImapError(no('Account exceeded command or bandwidth limits.', 'OVERQUOTA'))).toMatchObject({ kind: 'throttled', isTransient: true });
  });

  it('skips single messages the server cannot take', () => {
    expect(classifyImapError(no('Maximum size of appendable message has been exceeded')).kind).toBe('too-big');
    expect(classifyImapError(Object.assign(new Error('Message content too big for APPENDLIMIT=10'), { serverResponseCode: 'APPENDLIMIT' })).kind).toBe('too-big');
    expect(classifyImapError(no('Internal error', 'SERVERBUG')).kind).toBe('message');
  });

  it('asks to create a missing mailbox on TRYCREATE', () => {
    expect(classifyImapError(no('Mailbox does not exist', 'TRYCREATE')).kind).toBe('trycreate');
  });

  it('does not retry what it does not understand', () => {
    expect(classifyImapError(no('Something odd'))).toMatchObject({ kind: 'other', isTransient: false });
    expect(classifyImapError('string thrown')).toMatchObject({ kind: 'other', text: 'string thrown' });
  });
});
