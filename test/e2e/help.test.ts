import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';

describe('--help', () => {
  it('verify, resync and watch --help do not mention a --jobs they do not have', async () => {
    for (const command of ['verify', 'resync', 'watch']) {
      const result = await runCli([command, '--help']);
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).toMatch(/--max-connections/);
      expect(result.stdout, command).not.toMatch(/--jobs/);
    }
    const copy = await runCli(['copy', '--help']);
    expect(copy.stdout).toMatch(/-j, --jobs <n>/);
    expect(copy.stdout).toMatch(/up to --jobs/);
  });
});
