import { describe, expect, it } from 'vitest';
import { decideGmailPlacement } from '../../../converters/mbox/gmail-folders.js';

describe('decideGmailPlacement', () => {
  it('makes one folder per folder label and maps system labels to the usual folders', () => {
    expect(decideGmailPlacement(['Inbox', 'Important', 'Opened', 'Work, old', 'Category Updates'], 'folders')).toEqual({ folders: ['INBOX', 'Work, old'], keywords: [] });
    expect(decideGmailPlacement(['Sent', 'Opened'], 'folders').folders).toEqual(['Sent']);
    expect(decideGmailPlacement(['Spam'], 'folders').folders).toEqual(['Junk']);
  });
  it('files mail without a folder label under Archive', () => {
    expect(decideGmailPlacement(['Archived', 'Unread'], 'folders').folders).toEqual(['Archive']);
  });
  it('keeps nested labels nested', () => {
    expect(decideGmailPlacement(['Clients/ACME'], 'folders').folders).toEqual(['Clients/ACME']);
  });
  it('in single mode keeps one copy in the most important folder and the other labels as keywords', () => {
    expect(decideGmailPlacement(['Work', 'Inbox', 'Big Deal'], 'single')).toEqual({ folders: ['INBOX'], keywords: ['Work', 'Big_Deal'] });
  });
});
