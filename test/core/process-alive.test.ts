import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../src/core/process-alive.js';

describe('isProcessAlive', () => {
  it('is true for a running process', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
  });

  it('is false for a process that has ended', () => {
    const ended = spawnSync(process.execPath, ['-e', '0']);
    expect(ended.pid).toBeGreaterThan(0);
    expect(isProcessAlive(ended.pid!)).toBe(false);
  });
});
