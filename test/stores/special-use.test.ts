import { describe, expect, it } from 'vitest';
import { guessSpecialUse } from '../../src/stores/special-use.js';

describe('guessSpecialUse', () => {
  it('marks the well-known top-level names, in any case, as servers do', () => {
    expect(guessSpecialUse('Sent')).toBe('\\Sent');
    expect(guessSpecialUse('Sent Items')).toBe('\\Sent');
    expect(guessSpecialUse('TRASH')).toBe('\\Trash');
    expect(guessSpecialUse('spam')).toBe('\\Junk');
    expect(guessSpecialUse('Archive')).toBe('\\Archive');
  });

  it('leaves nested folders and other names unmarked', () => {
    expect(guessSpecialUse('Work/Sent')).toBeUndefined();
    expect(guessSpecialUse('INBOX')).toBeUndefined();
    expect(guessSpecialUse('Projects')).toBeUndefined();
  });
});
