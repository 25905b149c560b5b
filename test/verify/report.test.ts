import { describe, expect, it } from 'vitest';
import { compareFolder } from '../../src/verify/compare.js';
import { buildVerifyReport } from '../../src/verify/report.js';
import { formatVerifyText } from '../../src/verify/reporters/text.js';
import type { FolderSnapshot } from '../../src/verify/snapshot.js';

const folder = (name: string): FolderSnapshot => ({ mailbox: '', folder: name, messages: [{ key: 'a', flags: '\\Seen', sizeBytes: 10 }] });
const same = compareFolder(folder('INBOX'), folder('INBOX'));

describe('buildVerifyReport with folders it could not compare', () => {
  it('never says OK about a source folder it did not compare: exit 3, INCOMPLETE', () => {
    const report = buildVerifyReport('s', 't', [same], [{ mailbox: '', directory: '.caf\\xe9', reason: 'read as the folder name "café", which .caf&AOk- already has' }]);
    expect(report.ok).toBe(false);
    expect(report.exitCode).toBe(3);
    expect(formatVerifyText(report)).toMatch(/^INCOMPLETE: .*\n[\s\S]*folders not compared \(1\):\n {2}.*caf.*café/);
  });

  it('is OK with folders left out on purpose (--exclude, virtual folders), and 4 still wins over 3', () => {
    const chosen = buildVerifyReport('s', 't', [same], [{ mailbox: '', directory: '[Gmail]/All Mail', reason: 'virtual folder (\\All)', isChosen: true }]);
    expect(chosen).toMatchObject({ ok: true, exitCode: 0 });
    const missing = compareFolder(folder('INBOX'), undefined);
    expect(buildVerifyReport('s', 't', [missing], [{ mailbox: '', directory: '.a..b', reason: 'empty hierarchy level' }]).exitCode).toBe(4);
  });
});
