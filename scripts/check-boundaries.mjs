// Checks the import boundaries between the layers of src/ and converters/ (docs: structure-review §5, "Boundary
// rules"). Prints each violation as `file: imports X (rule: …)` and exits 1 when there is any; run by
// test/scripts/check-boundaries.test.ts, so by `npm test`. Usage: node scripts/check-boundaries.mjs [--root DIR]
//
// Hand-written rather than dependency-cruiser or eslint-plugin-boundaries: the rules are a dozen lines of data and the
// reader is three regular expressions, where those tools bring a configuration language and a parser stack. The
// reader looks at `import … from '…'`, `export … from '…'` (type-only ones too: they are coupling as well),
// `import '…'` and `import('…')`, and skips those after a `//` or on a block comment's `*` line; it is not a parser,
// so an import written inside a string could be misread.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directories that hold a store driver; each is reached from outside only through its index.ts. */
export const driverDirs = ['src/stores/maildir', 'src/stores/mbox', 'src/stores/imap'];

/**
 * A rule: a file under one of `from` (and under none of `fromExcept`) may not import a file under one of `forbid`,
 * unless the imported file is under one of `allow`, or listed for that very file in `allowFor`. A pattern that ends
 * in '/' is a directory (everything below it), '**' is every file of the tree, anything else is one file.
 * Only imports of files of the tree are checked: node: builtins and npm packages are always allowed.
 */
export const rules = [
  {
    says: 'converters/ imports nothing outside converters/',
    from: ['converters/'],
    forbid: ['**'],
    allow: ['converters/'],
  },
  {
    says: 'nothing under src/ outside src/cli/ imports src/cli/',
    from: ['src/'],
    fromExcept: ['src/cli/'],
    forbid: ['src/cli/'],
  },
  {
    says: 'src/engine/ and src/verify/ reach the stores only through src/stores/{store,spec,open,probe,dry-run}.ts (and src/engine/convert.ts through mbox/index.ts and maildir/index.ts)',
    from: ['src/engine/', 'src/verify/'],
    forbid: ['src/stores/'],
    allow: ['src/stores/store.ts', 'src/stores/spec.ts', 'src/stores/open.ts', 'src/stores/probe.ts', 'src/stores/dry-run.ts'],
    allowFor: {
      'src/engine/convert.ts': ['src/stores/mbox/index.ts', 'src/stores/maildir/index.ts'],
      // convert-file.ts is convert's one-file half (split off for size): the same two drivers, by name.
      'src/engine/convert-file.ts': ['src/stores/mbox/index.ts', 'src/stores/maildir/index.ts'],
    },
  },
  ...driverDirs.map((dir) => ({
    says: `outside ${dir}/ the driver is imported only through ${dir}/index.ts`,
    from: ['**'],
    fromExcept: [`${dir}/`],
    forbid: [`${dir}/`],
    allow: [`${dir}/index.ts`],
  })),
  {
    says: 'src/hosts/ knows no mail: it imports nothing from src/stores, src/engine, src/cpanel or src/verify',
    from: ['src/hosts/'],
    forbid: ['src/stores/', 'src/engine/', 'src/cpanel/', 'src/verify/'],
  },
  {
    says: 'src/cpanel/ knows no rsync flags: it imports nothing from src/transport/rsync',
    from: ['src/cpanel/'],
    forbid: ['src/transport/rsync/'],
  },
];

/** The trees whose .ts files are checked. */
const checkedDirs = ['src', 'converters'];

const staticImport = /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])([^'"\n]+)\1/gm;
const sideEffectImport = /^[ \t]*import\s*(['"])([^'"\n]+)\1/gm;
const dynamicImport = /\bimport\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** Every specifier a source text imports, with the line it is on. */
export function readImportSpecifiers(text) {
  const found = [];
  for (const pattern of [staticImport, sideEffectImport, dynamicImport]) {
    for (const match of text.matchAll(pattern)) {
      // What stands before the import on its line: a comment's '//', or the '*' of a block comment's line.
      const before = text.slice(text.lastIndexOf('\n', match.index) + 1, match.index).trimStart();
      if (before.includes('//') || before.startsWith('*') || before.startsWith('/*')) continue;
      found.push(match[2]);
    }
  }
  return found;
}

function matches(pattern, file) {
  if (pattern === '**') return true;
  return pattern.endsWith('/') ? file.startsWith(pattern) : file === pattern;
}

function matchesAny(patterns, file) {
  return (patterns ?? []).some((pattern) => matches(pattern, file));
}

/** The rules an import from `importer` of `imported` (both relative to the root, with '/') breaks. */
export function decideViolations(importer, imported) {
  return rules.filter(
    (rule) =>
      matchesAny(rule.from, importer) &&
      !matchesAny(rule.fromExcept, importer) &&
      matchesAny(rule.forbid, imported) &&
      !matchesAny(rule.allow, imported) &&
      !(rule.allowFor?.[importer] ?? []).includes(imported),
  );
}

/** A relative specifier as the file it names: TypeScript's NodeNext imports say `.js` for a `.ts` file. */
function resolveSpecifier(root, importer, specifier) {
  const base = path.resolve(root, path.dirname(importer), specifier);
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base, `${base}.ts`, path.join(base, 'index.ts')];
  const found = candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile()) ?? candidates[0];
  return path.relative(root, found).split(path.sep).join('/');
}

function listSourceFiles(root) {
  const files = [];
  for (const dir of checkedDirs) {
    const abs = path.join(root, dir);
    if (!existsSync(abs)) continue;
    for (const entry of readdirSync(abs, { withFileTypes: true, recursive: true })) {
      if (entry.isFile() && entry.name.endsWith('.ts')) files.push(path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
    }
  }
  return files.sort();
}

/** Every import under `root` that breaks a rule: `{ file, imports, rule }`, in file order. */
export function findViolations(root) {
  const violations = [];
  for (const file of listSourceFiles(root)) {
    for (const specifier of readImportSpecifiers(readFileSync(path.join(root, file), 'utf8'))) {
      if (!specifier.startsWith('.') && !specifier.startsWith('/')) continue; // node: builtins and npm packages
      const imported = resolveSpecifier(root, file, specifier);
      for (const rule of decideViolations(file, imported)) violations.push({ file, imports: imported, rule: rule.says });
    }
  }
  return violations;
}

export function formatViolation({ file, imports, rule }) {
  return `${file}: imports ${imports} (rule: ${rule})`;
}

function main(argv) {
  const rootAt = argv.indexOf('--root');
  const root = rootAt >= 0 ? path.resolve(argv[rootAt + 1] ?? '.') : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const violations = findViolations(root);
  for (const violation of violations) console.log(formatViolation(violation));
  if (violations.length > 0) console.error(`${violations.length} import(s) break the boundary rules`);
  return violations.length > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
