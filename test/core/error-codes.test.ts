import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../src/core/error-codes.js';
import { MailshiftError } from '../../src/core/errors.js';
import { ExitCode } from '../../src/core/exit-codes.js';

const codes = Object.keys(errorCodes);
const srcRoot = path.resolve(import.meta.dirname, '../../src');

function readSources(dir: string): string {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => readFileSync(path.join(entry.parentPath, entry.name), 'utf8'))
    .join('\n');
}

/** Codes a throw site builds from a kind (`MAILSHIFT_IMAP_${kind}`), with the prefix it writes literally. */
const builtCodes: Record<string, string> = {
  MAILSHIFT_IMAP_CONNECTION: '`MAILSHIFT_IMAP_${',
  MAILSHIFT_IMAP_THROTTLED: '`MAILSHIFT_IMAP_${',
  MAILSHIFT_IMAP_UNAVAILABLE: '`MAILSHIFT_IMAP_${',
  MAILSHIFT_MISSING_SOURCE: '`MAILSHIFT_MISSING_${',
  MAILSHIFT_MISSING_TARGET: '`MAILSHIFT_MISSING_${',
};

describe('the error-code table', () => {
  it('keeps its codes in alphabetical order, so a reader (and docs/errors.md) finds one at once', () => {
    expect(codes).toEqual([...codes].sort());
  });

  it('names every code MAILSHIFT_ in capitals', () => {
    for (const code of codes) expect(code).toMatch(/^MAILSHIFT_[A-Z0-9_]+[A-Z0-9]$/);
  });

  it('says for every code what it means, and gives each hint as a sentence a user can act on', () => {
    for (const [code, entry] of Object.entries(errorCodes)) {
      expect(entry.meaning.length, code).toBeGreaterThan(10);
      for (const hint of entry.hints) expect(hint.trim(), code).toBe(hint);
      expect(new Set(entry.hints).size, code).toBe(entry.hints.length);
    }
  });

  it('gives every code an exit code the program has', () => {
    const known = new Set<number>(Object.values(ExitCode));
    for (const [code, entry] of Object.entries(errorCodes)) expect(known.has(entry.exitCode), code).toBe(true);
  });

  it('documents no code that src/ no longer throws', () => {
    const sources = readSources(srcRoot);
    const unused = codes.filter((code) => !sources.includes(`'${code}'`) && !(builtCodes[code] !== undefined && sources.includes(builtCodes[code])));
    expect(unused).toEqual([]);
  });
});

describe('MailshiftError', () => {
  it('carries a documented code', () => {
    const err = new MailshiftError('MAILSHIFT_TARGET_FULL', '/srv/mail: the filesystem is full');
    expect(err.code in errorCodes).toBe(true);
    expect(err.toJSON()).toMatchObject({ code: 'MAILSHIFT_TARGET_FULL', message: '/srv/mail: the filesystem is full' });
  });

  it('refuses, at compile time, a code the table does not document', () => {
    // @ts-expect-error -- MAILSHIFT_NOT_DOCUMENTED is not a key of errorCodes
    const err = new MailshiftError('MAILSHIFT_NOT_DOCUMENTED', 'x');
    expect(err.code).toBe('MAILSHIFT_NOT_DOCUMENTED');
  });
});
