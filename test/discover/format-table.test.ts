import { describe, expect, it } from 'vitest';
import { buildDiscoverDocument } from '../../src/discover/document.js';
import { formatDiscoverTable, printable } from '../../src/discover/format-table.js';

describe('the discover table', () => {
  it('never lets a name from the tree reach the terminal with control characters', () => {
    expect(printable('.bad\u001b[31mname\n\u009b')).toBe('.bad\\x1b[31mname\\x0a\\x9b');
    const doc = buildDiscoverDocument({
      root: '/srv',
      generatedAt: new Date(0),
      options: { targetQuotaBytes: null, statEveryMessage: false },
      accounts: [],
      warnings: [{ kind: 'unsafe-name', severity: 'unsafe', account: 'm\u001b]0;x\u0007', mailbox: null, path: 'home/m/mail/.\u001b[2J', message: 'control characters in name', target: '\u001b' }],
    });
    const text = formatDiscoverTable(doc);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain('1 unsafe, 0 warnings, 0 notices');
  });
});
