import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorDocsPath, formatErrorDocs } from '../../scripts/gen-error-docs.mjs';
import { errorCodes, exitCodeMeanings } from '../../src/core/error-codes.js';

describe('docs/errors.md', () => {
  it('is what scripts/gen-error-docs.mjs writes from the table in src/core/error-codes.ts (run `npm run docs:errors` after changing the table)', () => {
    expect(readFileSync(errorDocsPath, 'utf8')).toBe(formatErrorDocs({ errorCodes, exitCodeMeanings }));
  });
});

describe('formatErrorDocs', () => {
  const docs = formatErrorDocs({
    errorCodes: {
      MAILSHIFT_A: { meaning: 'a | b', exitCode: 78, hints: [] },
      MAILSHIFT_B: { meaning: 'one hint', exitCode: 1, hints: ['do this'] },
      MAILSHIFT_C: { meaning: 'two hints', exitCode: 75, hints: ['this', 'or that'] },
    },
    exitCodeMeanings: { 78: 'configuration problem', 1: 'failed', 75: 'temporary failure' },
  });

  it('lists the exit codes in numeric order', () => {
    expect(docs).toContain('| 1 | failed |\n| 75 | temporary failure |\n| 78 | configuration problem |');
  });

  it('gives every code a row that links to its section, escaping table pipes', () => {
    expect(docs).toContain('| [`MAILSHIFT_A`](#mailshift_a) | 78 | a \\| b |');
    expect(docs).toContain('### MAILSHIFT_A\n\na | b\n\nExit code: 78 (configuration problem).\n');
  });

  it('writes one hint inline and several as a list, and no hint line for a code without one', () => {
    expect(docs).toContain('### MAILSHIFT_B\n\none hint\n\nExit code: 1 (failed).\n\nHint: do this\n');
    expect(docs).toContain('Hints, depending on the case:\n\n- this\n- or that\n');
    expect(docs.split('### MAILSHIFT_A')[1]!.split('###')[0]).not.toContain('Hint');
  });
});
