import { describe, expect, it } from 'vitest';
import { parsePlan } from '../../src/campaign/plan-file.js';

// Apart from plan-file.test.ts so the archive branch and the campaign work merge without touching the same file.
describe('a plan row restoring a cPanel backup', () => {
  it('names the backup as its source, whole or one mailbox, like any other spec', () => {
    const text = 'id,source,target\nbob,cpmove:/backups/cpmove-bob.tar.gz,cpanel:/#bob\nalice,cpmove:/backups/cpmove-bob.tar.gz#alice@example.com,/srv/restore/alice\n';
    const plan = parsePlan(text);
    expect(plan.errors).toEqual([]);
    expect(plan.rows.map((r) => r.source)).toEqual(['cpmove:/backups/cpmove-bob.tar.gz', 'cpmove:/backups/cpmove-bob.tar.gz#alice@example.com']);
  });
});
