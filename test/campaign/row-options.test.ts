import { describe, expect, it } from 'vitest';
import { parseRowOptions } from '../../src/campaign/row-options.js';

describe('parseRowOptions', () => {
  it('reads nothing as no options', () => {
    expect(parseRowOptions(undefined)).toEqual({ ok: true, options: { excludes: [], noChown: false, noDedupe: false } });
  });

  it('reads the options a row may set', () => {
    const parsed = parseRowOptions('--exclude ^Trash$ --exclude ^Spam  --max-size 35M --no-chown --flags merge --bwlimit 500 --jobs 3 --no-dedupe');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.options.excludes.map(String)).toEqual(['/^Trash$/', '/^Spam/']);
    expect(parsed.options).toMatchObject({ maxSizeBytes: 35 * 1024 * 1024, noChown: true, noDedupe: true, flags: 'merge', bwlimitKiBps: 500, jobs: 3 });
  });

  it('refuses an option a row may not set, and says which it may', () => {
    expect(parseRowOptions('--delete')).toMatchObject({ ok: false, reason: expect.stringMatching(/^options: .*--delete.*\(a row may set --exclude, --max-size/) });
  });

  it('refuses bad values instead of ignoring them', () => {
    expect(parseRowOptions('--exclude (')).toEqual({ ok: false, reason: 'options: --exclude ( is not a regular expression' });
    expect(parseRowOptions('--flags all')).toEqual({ ok: false, reason: 'options: --flags all: expected target, source or merge' });
    expect(parseRowOptions('--jobs 0')).toEqual({ ok: false, reason: 'options: --jobs 0: expected a whole number, 1 or more' });
    expect(parseRowOptions('--max-size big')).toMatchObject({ ok: false });
    expect(parseRowOptions('stray')).toMatchObject({ ok: false });
  });
});
