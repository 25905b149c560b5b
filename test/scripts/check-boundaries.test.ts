import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findViolations, formatViolation, readImportSpecifiers } from '../../scripts/check-boundaries.mjs';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const script = path.join(repoRoot, 'scripts', 'check-boundaries.mjs');
const scratch = mkdtempSync(path.join(tmpdir(), 'check-boundaries-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A tree that keeps every rule: each layer imports what it may. */
const cleanTree: Record<string, string> = {
  'converters/mbox/framer.ts': "import { Buffer } from 'node:buffer';\nimport { read } from 'mbox-reader';\nimport { decode } from '../message/headers.js';\n",
  'converters/message/headers.ts': 'export const decode = 1;\n',
  'src/core/errors.ts': "import { ExitCode } from './exit-codes.js';\n",
  'src/core/exit-codes.ts': 'export const ExitCode = {};\n',
  'src/cli/commands/copy.ts': "import { warmUp } from '../../stores/maildir/index.js';\nimport { runCopy } from '../../engine/copy.js';\n",
  'src/stores/store.ts': 'export interface MailStore {}\n',
  'src/stores/spec.ts': 'export const parseStoreSpec = 1;\n',
  'src/stores/open.ts': "import { MaildirStore } from './maildir/index.js';\nimport { ImapStore } from './imap/index.js';\n",
  'src/stores/probe.ts': "import { classify } from './mbox/index.js';\n",
  'src/stores/dry-run.ts': "import type { MailStore } from './store.js';\n",
  'src/stores/maildir/index.ts': "export { MaildirStore } from './store.js';\n",
  'src/stores/maildir/store.ts': "import { MailshiftError } from '../../core/errors.js';\nimport type { MailStore } from '../store.js';\n",
  'src/stores/mbox/index.ts': "export * from './reader.js';\n",
  'src/stores/mbox/reader.ts': "import { decode } from '../../../converters/message/headers.js';\n",
  'src/stores/imap/index.ts': "export { ImapStore } from './store.js';\n",
  'src/stores/imap/store.ts': "import { ImapFlow } from 'imapflow';\n",
  'src/engine/copy.ts': "import { openStore } from '../stores/open.js';\nimport type { MailStore } from '../stores/store.js';\nimport { withDryRun } from '../stores/dry-run.js';\nimport { probe } from '../stores/probe.js';\nimport { parseStoreSpec } from '../stores/spec.js';\n",
  'src/engine/convert.ts': "import { readMbox } from '../stores/mbox/index.js';\nimport { placeInOrder } from '../stores/maildir/index.js';\n",
  'src/verify/tree.ts': "import { openStore } from '../stores/open.js';\nimport { sideOf } from '../hosts/side.js';\n",
  'src/hosts/side.ts': "import { quote } from '../transport/ssh.js';\nimport { MailshiftError } from '../core/errors.js';\n",
  'src/transport/ssh.ts': 'export const quote = 1;\n',
  'src/transport/rsync/args.ts': 'export const buildRsyncArgs = 1;\n',
  'src/cpanel/resolve.ts': "import type { FileSide } from '../hosts/side.js';\nimport { MailshiftError } from '../core/errors.js';\n",
  'src/engine/tree/run-copy.ts': "import { buildRsyncArgs } from '../../transport/rsync/args.js';\nimport { resolve } from '../../cpanel/resolve.js';\n",
};

let trees = 0;

/** Writes the clean tree with `changes` on top (a planted violation); returns its root. */
function writeTree(changes: Record<string, string> = {}): string {
  const root = path.join(scratch, `tree-${(trees += 1)}`);
  for (const [file, text] of Object.entries({ ...cleanTree, ...changes })) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  return root;
}

/** The script's verdict on a tree, as it prints it; in-process (a node process per case would cost a second each). */
function check(changes: Record<string, string> = {}): { exitCode: number; lines: string[] } {
  const lines = findViolations(writeTree(changes)).map(formatViolation);
  return { exitCode: lines.length > 0 ? 1 : 0, lines };
}

function runScript(root: string): { exitCode: number | null; lines: string[] } {
  const result = spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });
  return { exitCode: result.status, lines: result.stdout.split('\n').filter(Boolean) };
}

describe('check-boundaries', () => {
  it('passes, silently and with exit 0, a tree where every layer imports only what it may', () => {
    expect(runScript(writeTree())).toEqual({ exitCode: 0, lines: [] });
  });

  it('prints each violation as "file: imports X (rule: …)" and exits 1', () => {
    expect(runScript(writeTree({ 'src/engine/copy.ts': "import { render } from '../cli/render.js';\n" }))).toEqual({
      exitCode: 1,
      lines: ['src/engine/copy.ts: imports src/cli/render.ts (rule: nothing under src/ outside src/cli/ imports src/cli/)'],
    });
  });

  it('(a) fails converters/ importing anything outside converters/', () => {
    const result = check({ 'converters/mbox/framer.ts': "import { MailshiftError } from '../../src/core/errors.js';\n" });
    expect(result.exitCode).toBe(1);
    expect(result.lines).toEqual(['converters/mbox/framer.ts: imports src/core/errors.ts (rule: converters/ imports nothing outside converters/)']);
  });

  it('(b) fails a module below src/ outside src/cli/ importing src/cli/', () => {
    const result = check({ 'src/verify/report.ts': "import { formatBytes } from '../cli/render.js';\n" });
    expect(result.exitCode).toBe(1);
    expect(result.lines).toEqual(['src/verify/report.ts: imports src/cli/render.ts (rule: nothing under src/ outside src/cli/ imports src/cli/)']);
  });

  it('(c) fails src/engine/ or src/verify/ reaching a driver, even through its index.ts, except convert.ts through mbox and maildir', () => {
    const engineRule =
      'src/engine/ and src/verify/ reach the stores only through src/stores/{store,spec,open,probe,dry-run}.ts (and src/engine/convert.ts through mbox/index.ts and maildir/index.ts)';
    const result = check({
      'src/engine/copy.ts': "import { MaildirStore } from '../stores/maildir/index.js';\n",
      'src/verify/tree.ts': "import { ImapStore } from '../stores/imap/index.js';\n",
      'src/engine/convert.ts': "import { ImapStore } from '../stores/imap/index.js';\n",
    });
    expect(result.exitCode).toBe(1);
    expect(result.lines).toEqual([
      `src/engine/convert.ts: imports src/stores/imap/index.ts (rule: ${engineRule})`,
      `src/engine/copy.ts: imports src/stores/maildir/index.ts (rule: ${engineRule})`,
      `src/verify/tree.ts: imports src/stores/imap/index.ts (rule: ${engineRule})`,
    ]);
  });

  it("(c) fails any module outside a driver's directory importing a file of the driver other than its index.ts", () => {
    const result = check({
      'src/cli/program.ts': "import { prestartWriterThread } from '../stores/maildir/write-queue.js';\n",
      'src/stores/mbox/reader.ts': "import { MaildirTarget } from '../maildir/target.js';\n",
      'src/stores/imap/store.ts': "import { MailshiftError } from '../../core/errors.js';\nimport { framer } from './response-framer.js';\n",
    });
    expect(result.exitCode).toBe(1);
    expect(result.lines).toEqual([
      'src/cli/program.ts: imports src/stores/maildir/write-queue.ts (rule: outside src/stores/maildir/ the driver is imported only through src/stores/maildir/index.ts)',
      'src/stores/mbox/reader.ts: imports src/stores/maildir/target.ts (rule: outside src/stores/maildir/ the driver is imported only through src/stores/maildir/index.ts)',
    ]);
  });

  it('(d) fails src/hosts/ importing anything that knows mail', () => {
    const result = check({
      'src/hosts/side.ts': [
        "import type { MailStore } from '../stores/store.js';",
        "import { planCopy } from '../engine/plan.js';",
        "import { resolve } from '../cpanel/resolve.js';",
        "import { compare } from '../verify/compare.js';",
        '',
      ].join('\n'),
    });
    expect(result.exitCode).toBe(1);
    expect(result.lines.map((line) => line.split(' (rule')[0])).toEqual([
      'src/hosts/side.ts: imports src/stores/store.ts',
      'src/hosts/side.ts: imports src/engine/plan.ts',
      'src/hosts/side.ts: imports src/cpanel/resolve.ts',
      'src/hosts/side.ts: imports src/verify/compare.ts',
    ]);
    expect(new Set(result.lines.map((line) => line.split(' (rule: ')[1]))).toEqual(
      new Set(['src/hosts/ knows no mail: it imports nothing from src/stores, src/engine, src/cpanel or src/verify)']),
    );
  });

  it('(e) fails src/cpanel/ importing src/transport/rsync', () => {
    const result = check({ 'src/cpanel/chown.ts': "import { buildRsyncArgs } from '../transport/rsync/args.js';\n" });
    expect(result.exitCode).toBe(1);
    expect(result.lines).toEqual(['src/cpanel/chown.ts: imports src/transport/rsync/args.ts (rule: src/cpanel/ knows no rsync flags: it imports nothing from src/transport/rsync)']);
  });

  it('sees re-exports, type-only, dynamic, side-effect and multi-line imports, and a directory import as its index.ts', () => {
    const result = check({
      'src/core/a.ts': "export { render } from '../cli/render.js';\n",
      'src/core/b.ts': "export type { Ctx } from '../cli/context.js';\n",
      'src/core/c.ts': "export async function f() {\n  return (await import('../cli/render.js')).render;\n}\n",
      'src/core/d.ts': "import '../cli/setup.js';\n",
      'src/core/e.ts': "import {\n  a,\n  b,\n} from '../cli/program.js';\n",
      'src/core/f.ts': "import type { Options } from '../cli/commands';\n",
      'src/cli/commands/index.ts': 'export interface Options {}\n',
    });
    expect(result.lines.map((line) => line.split(' (rule')[0])).toEqual([
      'src/core/a.ts: imports src/cli/render.ts',
      'src/core/b.ts: imports src/cli/context.ts',
      'src/core/c.ts: imports src/cli/render.ts',
      'src/core/d.ts: imports src/cli/setup.ts',
      'src/core/e.ts: imports src/cli/program.ts',
      'src/core/f.ts: imports src/cli/commands/index.ts',
    ]);
  });

  // The real tree: a bad import anywhere in src/ or converters/ fails npm test here.
  it('finds no violation in this repository', () => {
    const result = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('readImportSpecifiers', () => {
  it('reads no import out of comments or strings', () => {
    const text = [
      "// import { a } from '../cli/a.js';",
      '/**',
      " * import { b } from '../cli/b.js';",
      " * see import('../cli/c.js')",
      ' */',
      "const hint = 'copied from \"../cli/d.js\"';",
      "const other = 1; // await import('../cli/e.js')",
      "import { real } from './real.js';",
    ].join('\n');
    expect(readImportSpecifiers(text)).toEqual(['./real.js']);
  });
});
