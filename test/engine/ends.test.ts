import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { requireLocalDirectory } from '../../src/engine/ends.js';
import { parseStoreSpec } from '../../src/stores/spec.js';

describe('requireLocalDirectory', () => {
  it('refuses a missing local source with a configuration error (verify of nothing is never "OK")', async () => {
    await expect(requireLocalDirectory(parseStoreSpec('/nonexistent/mail'), 'source')).rejects.toMatchObject({
      code: 'MAILSHIFT_MISSING_SOURCE',
      exitCode: 78,
      hint: 'check the source path',
    });
    await expect(requireLocalDirectory(parseStoreSpec('cpanel:/nonexistent#alice'), 'target')).rejects.toMatchObject({ code: 'MAILSHIFT_MISSING_TARGET' });
  });
  it('accepts an existing directory, and leaves remote and IMAP ends to be checked when reached', async () => {
    await expect(requireLocalDirectory(parseStoreSpec(os.tmpdir()), 'source')).resolves.toBeUndefined();
    await expect(requireLocalDirectory(parseStoreSpec('ssh://host.example/nonexistent'), 'source')).resolves.toBeUndefined();
    await expect(requireLocalDirectory(parseStoreSpec('imaps://u@host.example'), 'source')).resolves.toBeUndefined();
  });
});
