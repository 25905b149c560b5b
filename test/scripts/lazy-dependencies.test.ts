import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLazyStandIn, lazyBuiltins, lazyDependencies } from '../../scripts/lazy-dependencies.mjs';

const scratch = mkdtempSync(path.join(tmpdir(), 'lazy-dependencies-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A CommonJS module that counts its own evaluations in a global, with a function, a class and a named export. */
function writeRealModule(name: string, shape: 'function' | 'class' | 'object'): string {
  const file = path.join(scratch, `${name}.cjs`);
  const body = {
    function: 'module.exports = function greet(who) { return `hello ${who}`; };',
    class: 'module.exports = class Box { constructor(value) { this.value = value; } };',
    object: 'module.exports = { SocksClient: { kind: "socks" }, convert: (text) => text.toUpperCase() };',
  }[shape];
  writeFileSync(file, `globalThis.__evaluated = (globalThis.__evaluated ?? 0) + 1;\n${body}\n`);
  return file;
}

function loadStandIn(name: string, realPath: string, named: readonly string[]): unknown {
  const file = path.join(scratch, `${name}.stand-in.cjs`);
  writeFileSync(file, buildLazyStandIn({ realPath }, named));
  return createRequire(file)(file);
}

const evaluated = () => (globalThis as { __evaluated?: number }).__evaluated ?? 0;

describe('buildLazyStandIn', () => {
  it('loads the real module only when something is asked of it, once', () => {
    const before = evaluated();
    const standIn = loadStandIn('object', writeRealModule('object', 'object'), ['SocksClient']) as { convert(text: string): string; SocksClient: { kind: string } };
    // What esbuild's import helper does when the import runs: read the own property names (and their descriptors).
    expect(Object.getOwnPropertyNames(standIn)).toContain('SocksClient');
    expect(evaluated()).toBe(before);
    expect(standIn.SocksClient).toEqual({ kind: 'socks' });
    expect(standIn.convert('abc')).toBe('ABC');
    expect(evaluated()).toBe(before + 1);
  });

  it('can be called and constructed as the real module', () => {
    const greet = loadStandIn('function', writeRealModule('function', 'function'), []) as (who: string) => string;
    expect(greet('world')).toBe('hello world');
    const Box = loadStandIn('class', writeRealModule('class', 'class'), []) as new (value: number) => { value: number };
    const box = new Box(3);
    expect(box.value).toBe(3);
    expect(box.constructor.name).toBe('Box');
  });
});

describe('buildLazyStandIn of a package by name or of a built-in', () => {
  // Under the project (dist/ is ignored by git), so that the stand-in's require finds imapflow as dist/bin's would.
  const underProject = mkdtempSync(path.join(import.meta.dirname, '..', '..', 'dist', '.lazy-stand-in-'));
  afterAll(() => rmSync(underProject, { recursive: true, force: true }));
  const load = (name: string, source: Parameters<typeof buildLazyStandIn>[0]) => {
    const file = path.join(underProject, `${name}.cjs`);
    writeFileSync(file, buildLazyStandIn(source, []));
    return createRequire(file)(file) as Record<string, unknown>;
  };

  it("requires a package from imapflow's directory: the very module imapflow imports", () => {
    const fromImapflow = createRequire(createRequire(import.meta.url).resolve('imapflow'));
    const iconv = load('iconv', { name: 'iconv-lite' });
    expect(iconv.encode).toBe(fromImapflow('iconv-lite').encode);
    expect(String((iconv.encode as (text: string, encoding: string) => Buffer)('Entwürfe', 'utf-7-imap'))).toBe('Entw&APw-rfe');
  });

  it("asks Node for a built-in", () => {
    const zlib = load('zlib', { builtin: 'node:zlib' });
    expect(zlib.createDeflateRaw).toBe(createRequire(import.meta.url)('node:zlib').createDeflateRaw);
    expect((zlib.constants as { Z_SYNC_FLUSH: number }).Z_SYNC_FLUSH).toBe(2);
  });
});

describe('lazyBuiltins', () => {
  it('names built-ins each listed importer does import (a stand-in for nothing would hide a renamed import)', () => {
    const requireHere = createRequire(import.meta.url);
    for (const [builtin, { importers }] of Object.entries(lazyBuiltins)) {
      for (const importer of importers) {
        const main = requireHere.resolve(importer);
        const dir = main.slice(0, main.lastIndexOf(`node_modules/${importer}/`) + `node_modules/${importer}`.length);
        const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((file) => /\.(c|m)?js$/.test(file) && !file.includes('node_modules'));
        const text = files.map((file) => readFileSync(path.join(dir, file), 'utf8')).join('\n');
        expect(text, `${importer} imports ${builtin}`).toMatch(new RegExp(`(from |require\\()['"]${builtin}['"]`));
      }
    }
  });
});

describe('lazyDependencies', () => {
  it('has every name imapflow and libmime import from those modules (an upgrade that imports another fails here)', () => {
    const requireHere = createRequire(import.meta.url);
    const sources = ['imapflow', 'libmime'].flatMap((pkg) => {
      const dir = path.join(path.dirname(requireHere.resolve(`${pkg}/package.json`)), 'dist', 'esm');
      return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js')).map((file) => readFileSync(path.join(dir, file), 'utf8'));
    });
    const imported = new Map<string, Set<string>>();
    for (const text of sources) {
      for (const match of text.matchAll(/^import\s+(?:(\w+)\s*,?\s*)?(?:\{([^}]*)\})?\s*from\s+'([^']+)'/gm)) {
        const [, , names, from] = match as unknown as [string, string | undefined, string | undefined, string];
        if (!(from in lazyDependencies)) continue;
        const set = imported.get(from) ?? new Set<string>();
        for (const name of (names ?? '').split(',').map((each) => each.trim().split(/\s+as\s+/)[0]!).filter(Boolean)) set.add(name);
        imported.set(from, set);
      }
    }
    expect([...imported.keys()].sort()).toEqual(Object.keys(lazyDependencies).sort());
    for (const [from, names] of imported) expect(lazyDependencies[from as keyof typeof lazyDependencies].named).toEqual(expect.arrayContaining([...names]));
  });
});
