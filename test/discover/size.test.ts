import { describe, expect, it } from 'vitest';
import { parseSizeBytes } from '../../src/discover/size.js';

describe('parseSizeBytes', () => {
  it('reads sizes in powers of 1024, as du -h and mail quotas do', () => {
    expect(parseSizeBytes('1048576')).toBe(1048576);
    expect(parseSizeBytes('10G')).toBe(10 * 1024 ** 3);
    expect(parseSizeBytes('500M')).toBe(500 * 1024 ** 2);
    expect(parseSizeBytes('1.5GB')).toBe(1.5 * 1024 ** 3);
    expect(parseSizeBytes('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSizeBytes('4k')).toBe(4096);
    expect(parseSizeBytes('1T')).toBe(1024 ** 4);
  });

  it('rejects what is not a size', () => {
    for (const bad of ['', 'ten', '-5M', '5X', '1e9']) expect(parseSizeBytes(bad)).toBeUndefined();
  });
});
