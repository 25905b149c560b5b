import { describe, expect, it } from 'vitest';
import { findImapEndpoints } from '../../src/stores/preconnect.js';

/** Which servers a command line has the CLI connect to while it loads (the sockets themselves: integration tests). */
describe('findImapEndpoints', () => {
  it('finds one endpoint per IMAP URL, in order, with the default ports of imap:// and imaps://', () => {
    expect(findImapEndpoints(['--json', 'copy', 'imap://alice@mail.example.org', 'imaps://bob@127.0.0.1', '--state-dir', 's'])).toEqual([
      { host: 'mail.example.org', port: 143 },
      { host: '127.0.0.1', port: 993 },
    ]);
  });

  it('takes the port a URL names and the same server twice for two accounts on it', () => {
    expect(findImapEndpoints(['copy', 'imap://a@h:1143', 'imap://b@h:1143/INBOX'])).toEqual([
      { host: 'h', port: 1143 },
      { host: 'h', port: 1143 },
    ]);
  });

  it('leaves out paths, ssh URLs and URLs that do not parse (the command reports those)', () => {
    expect(findImapEndpoints(['copy', '/srv/mail/Maildir', 'ssh://root@h/home', 'imap://', 'imap://user@-bad-host', 'maildir:/x'])).toEqual([]);
  });

  it('leaves out the --imap-fallback server, used only when the source files cannot be read', () => {
    expect(findImapEndpoints(['copy', '--imap-fallback', 'imaps://a@fallback.example', 'ssh://h/home/a/Maildir', 'imap://b@target.example'])).toEqual([
      { host: 'target.example', port: 143 },
    ]);
  });

  it('opens nothing when help is asked for', () => {
    expect(findImapEndpoints(['copy', 'imap://a@h', '--help'])).toEqual([]);
    expect(findImapEndpoints(['copy', '-h', 'imap://a@h'])).toEqual([]);
  });

  it('opens at most four', () => {
    expect(findImapEndpoints(Array.from({ length: 9 }, (_, i) => `imap://u${i}@h`))).toHaveLength(4);
  });
});
