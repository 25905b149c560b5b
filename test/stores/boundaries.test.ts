import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The drivers' public face, checked on the source: outside a driver (src/stores/maildir, mbox, imap) nothing imports
 * past its index.ts; the engine and verify see no driver at all (they open stores through stores/open.ts), except
 * convert, which streams mbox files into a maildir through the two drivers' index.ts.
 */

const src = path.resolve(import.meta.dirname, '../../src');
const drivers = ['maildir', 'mbox', 'imap'].map((name) => path.join(src, 'stores', name));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every relative module a file imports (static, re-exported or dynamic), resolved to its .ts path. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((match) => match[1]!);
  return specifiers.map((specifier) => path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts'));
}

const driverOf = (file: string) => drivers.find((dir) => file.startsWith(`${dir}${path.sep}`));
const show = (file: string) => path.relative(src, file);

describe('driver boundaries', () => {
  it('reaches a driver from outside only through its index.ts', () => {
    const leaks: string[] = [];
    for (const file of sourceFiles(src)) {
      for (const target of importsOf(file)) {
        const driver = driverOf(target);
        if (!driver || driverOf(file) === driver) continue;
        if (target !== path.join(driver, 'index.ts')) leaks.push(`${show(file)} -> ${show(target)}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('keeps the engine and verify off the drivers, convert excepted', () => {
    const seen: string[] = [];
    for (const dir of ['engine', 'verify']) {
      for (const file of sourceFiles(path.join(src, dir))) {
        if (/^engine\/convert(-file)?\.ts$/.test(show(file))) continue;
        for (const target of importsOf(file)) if (driverOf(target)) seen.push(`${show(file)} -> ${show(target)}`);
      }
    }
    expect(seen).toEqual([]);
  });
});
