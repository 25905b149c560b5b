import { describe, expect, it } from 'vitest';
import { decideLineEndings } from '../../../src/engine/messages/context.js';
import type { MailStore } from '../../../src/stores/store.js';

describe('decideLineEndings', () => {
  it('writes LF into a maildir when the message came over IMAP, and leaves everything else alone', () => {
    const imap = { kind: 'imap', caps: { readable: true, writable: true, crlf: true } } as unknown as MailStore;
    const maildir = { kind: 'maildir', caps: { files: { location: 'local', layout: 'maildir++' }, readable: true, writable: true, crlf: false } } as unknown as MailStore;
    expect(decideLineEndings(imap, maildir)).toBe('lf');
    expect(decideLineEndings(maildir, imap)).toBe('as-is');
    expect(decideLineEndings(imap, imap)).toBe('as-is');
  });
});
