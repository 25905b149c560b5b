import { describe, expect, it } from 'vitest';
import { compareFolder } from '../../../src/verify/compare.js';
import { buildVerifyReport } from '../../../src/verify/report.js';
import { formatVerifyText } from '../../../src/verify/reporters/text.js';
import type { FolderSnapshot, MessageMeta } from '../../../src/verify/snapshot.js';

const msg = (key: string): MessageMeta => ({ key, flags: '', sizeBytes: 10 });
const folder = (keys: string[]): FolderSnapshot => ({ mailbox: '', folder: 'INBOX', messages: keys.map(msg) });

describe('formatVerifyText', () => {
  it('counts source messages in its headline, not the target (mail that arrived only there is no source message)', () => {
    const report = buildVerifyReport('src', 'dst', [compareFolder(folder(['a', 'b', 'c']), folder(['a', 'b', 'c', 'new-1', 'new-2']))], []);
    expect(formatVerifyText(report)).toMatch(/^OK: 3 of 3 source messages checked on the target; 0 missing/);
    const missing = buildVerifyReport('src', 'dst', [compareFolder(folder(['a', 'b', 'c']), folder(['a', 'new-1', 'new-2']))], []);
    expect(formatVerifyText(missing)).toMatch(/^DIFFERENCES: 1 of 3 source messages checked on the target; 2 missing/);
  });
});
