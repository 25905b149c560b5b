import { describe, expect, it } from 'vitest';
import { isSendableKeyword, splitImapFlags } from '../../../src/stores/imap/flags.js';

describe('splitImapFlags', () => {
  it('separates system flags (any case) from keywords and drops \\Recent and unknown system flags', () => {
    const { flags, keywords } = splitImapFlags(['\\Seen', '\\ANSWERED', '\\Recent', '\\Whatever', '$Forwarded', 'project-x']);
    expect([...flags].sort()).toEqual(['\\Answered', '\\Seen']);
    expect([...keywords].sort()).toEqual(['$Forwarded', 'project-x']);
  });
});

describe('isSendableKeyword', () => {
  it('accepts IMAP atoms only', () => {
    expect(isSendableKeyword('$Label1')).toBe(true);
    expect(isSendableKeyword('has space')).toBe(false);
    expect(isSendableKeyword('paren(')).toBe(false);
    expect(isSendableKeyword('ümlaut')).toBe(false);
    expect(isSendableKeyword('')).toBe(false);
  });
});
