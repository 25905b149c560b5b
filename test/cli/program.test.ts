import { describe, expect, it } from 'vitest';
import { findRequestedCommand } from '../../src/cli/program.js';

describe('findRequestedCommand', () => {
  it('finds the command after global flags, so only that command is loaded', () => {
    expect(findRequestedCommand(['convert', 'a', 'b'])).toBe('convert');
    expect(findRequestedCommand(['--json', '-q', 'discover', '/'])).toBe('discover');
  });
  it('loads every command for help, a version query or nothing at all', () => {
    expect(findRequestedCommand([])).toBeUndefined();
    expect(findRequestedCommand(['--help'])).toBeUndefined();
    expect(findRequestedCommand(['--json', '--version'])).toBeUndefined();
  });
});
