// Bundles the compiled CLI (dist/src, from tsc) into dist/bin with esbuild: one file per command module instead of
// hundreds (ours plus imapflow's and its dependencies'). Node's ES module loader resolves, reads and compiles each
// file separately, and that cost ~0.15 s of every IMAP command's start-up (0.46 s -> 0.31 s for `copy --justlogin`
// here) and ~0.04 s of convert's. Commands stay lazily loaded (code splitting keeps each dynamic import its own
// chunk). tsc still type-checks and emits dist/src; this only packs its output.
import { chmodSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { lazyDependencyPlugin } from './lazy-dependencies.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bin');

// Chunk names carry content hashes: start empty so no stale chunk is left beside the new ones.
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { mailshift: path.join(root, 'dist', 'src', 'cli', 'main.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // CommonJS dependencies call require() for Node's built-in modules; an ES module has no require of its own.
  banner: { js: "import { createRequire as __mailshiftCreateRequire } from 'node:module'; const require = __mailshiftCreateRequire(import.meta.url);" },
  // better-sqlite3 loads its compiled .node file from its own package directory at run time: left out of the bundle.
  external: ['better-sqlite3'],
  plugins: [lazyDependencyPlugin()],
  logLevel: 'warning',
});
chmodSync(path.join(outdir, 'mailshift.js'), 0o755);
