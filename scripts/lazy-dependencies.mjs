// The stand-ins scripts/bundle.mjs puts in place of dependencies that only some of imapflow's features use.
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * imapflow (and libmime under it) import at their top modules that only some of their features use: pino (its default
 * logger; we give it ours), socks (proxies), encoding-japanese (decoding Japanese text), mailsplit (downloading
 * message parts; we read bodies ourselves) and libmime itself (below). Evaluated at every IMAP run's start, they cost about 20 ms of CPU
 * (measured: `node -e "await import(IMAP chunk)"`, median of 10 alternated runs on a shared machine, 0.24 s with them
 * evaluated, 0.22 s with these stand-ins; `node -e 0` 0.10 s).
 * Here each one becomes a stand-in that loads the real module the first time anything is asked of it:
 * a property, a call, `new`. `named`: the names its importers take from it (`import { Headers }`), which must exist
 * when the import runs. Only imports made from imapflow's and libmime's own files are replaced.
 *
 * The real modules are not in the bundle: a stand-in requires them from node_modules, from imapflow's own directory,
 * so it gets the very file imapflow would import (the build checks that; where it is not, the module is bundled as
 * before). Why: parsed but never run, they were two thirds of the IMAP chunk (1.2 of 1.75 MB, most of it iconv-lite's
 * code pages), and reading, decoding and pre-parsing that at every start cost about 30 ms of CPU.
 */
export const lazyDependencies = {
  pino: { named: [] },
  socks: { named: ['SocksClient'] },
  'encoding-japanese': { named: [] },
  '@zone-eu/mailsplit': { named: ['Headers'] },
  '@zone-eu/mailsplit/lib/flowed-decoder.js': { named: [] },
  // imapflow's `import libmime from 'libmime'`: decoding encoded words and header values, which this driver's listings
  // never ask of it. Its charset module builds iconv-lite's GBK table when evaluated (about 25 ms of CPU at every
  // start, in a CPU profile of a second run); the stand-in loads libmime's CommonJS build on first use instead.
  libmime: { named: [] },
  // imapflow's `import iconv from 'iconv-lite'`: only for folder names outside ASCII on servers without UTF8=ACCEPT
  // (modified UTF-7, RFC 3501 §5.1.3), and for charsets of downloaded parts, which this driver never asks for.
  'iconv-lite': { named: [] },
};

/**
 * Node's built-in modules that imapflow and commander import at their top and use only for some features. A built-in
 * is not in the bundle, but loading one compiles it and the internal modules under it: about 15 ms of CPU for these
 * at every IMAP run's start (median of 15 alternated second runs through the simulated link, 0.45 s with them
 * loaded at start, 0.435 s with these stand-ins). The stand-in asks Node for the module on first use
 * (`process.getBuiltinModule`, Node 20.16 and later).
 */
export const lazyBuiltins = {
  // TLS: imaps:// and STARTTLS only; an imap:// session on the loopback interface never needs it.
  'node:tls': { importers: ['imapflow'] },
  // COMPRESS=DEFLATE (imapflow's own, which this driver turns off; raw-session.ts starts its own).
  'node:zlib': { importers: ['imapflow'] },
  // Looking up a proxy's address.
  'node:dns': { importers: ['imapflow'] },
  // Running a subcommand as a separate executable, which mailshift's commands are not.
  'node:child_process': { importers: ['commander'] },
};

/** The esbuild plugin that puts lazyDependencies' and lazyBuiltins' stand-ins in place. */
export function lazyDependencyPlugin() {
  const toFilter = (names) => new RegExp(`^(${names.map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
  const isImportedFrom = (importer, packages) => new RegExp(`[\\\\/]node_modules[\\\\/](${packages.join('|')})[\\\\/]`).test(importer);
  return {
    name: 'lazy-dependencies',
    setup(build) {
      build.onResolve({ filter: toFilter(Object.keys(lazyDependencies)) }, async (args) => {
        if (args.pluginData?.isReal || !isImportedFrom(args.importer, ['imapflow', 'libmime'])) return undefined;
        const real = await build.resolve(args.path, { resolveDir: args.resolveDir, kind: 'require-call', pluginData: { isReal: true } });
        if (real.errors.length > 0) return { errors: real.errors };
        return { path: real.path, namespace: 'lazy-dependency', pluginData: { name: args.path } };
      });
      build.onResolve({ filter: toFilter(Object.keys(lazyBuiltins)) }, (args) => {
        if (args.namespace === 'lazy-dependency' || !isImportedFrom(args.importer, lazyBuiltins[args.path].importers)) return undefined;
        return { path: args.path, namespace: 'lazy-dependency', pluginData: { builtin: args.path } };
      });
      build.onLoad({ filter: /.*/, namespace: 'lazy-dependency' }, (args) => {
        const { name, builtin } = args.pluginData;
        if (builtin) return { resolveDir: process.cwd(), loader: 'js', contents: buildLazyStandIn({ builtin }, []) };
        const { named } = lazyDependencies[name];
        const isSameFile = resolveFromImapflow(name) === args.path;
        return { resolveDir: path.dirname(args.path), loader: 'js', contents: buildLazyStandIn(isSameFile ? { name } : { realPath: args.path }, named) };
      });
      // The stand-in's runtime require of Node's module system stays a require.
      build.onResolve({ filter: /^node:module$/, namespace: 'lazy-dependency' }, () => ({ path: 'node:module', external: true }));
    },
  };
}

/** The file `name` is to imapflow at run time (the require condition, as the stand-in asks), or undefined. */
function resolveFromImapflow(name) {
  try {
    return createRequire(createRequire(import.meta.url).resolve('imapflow')).resolve(name);
  } catch {
    return undefined;
  }
}

/**
 * A CommonJS module that stands for a dependency (`real.name`, required from imapflow's directory at run time,
 * `real.realPath`, bundled, or `real.builtin`, one of Node's) and loads it the first time anything is asked of it.
 * A function target, so that the stand-in can be called and constructed; `named` as getters on it, so that esbuild's
 * import helpers (which copy own properties when the import runs) find them without loading anything.
 */
export function buildLazyStandIn(real, named) {
  // From node_modules at run time, resolved from imapflow's directory (imapflow is our dependency; its dependencies
  // are not, and may sit below it), or bundled when `realPath` is given.
  const loader = real.builtin
    ? `process.getBuiltinModule(${JSON.stringify(real.builtin)})`
    : real.name
      ? `require("node:module").createRequire(require.resolve("imapflow"))(${JSON.stringify(real.name)})`
      : `require(${JSON.stringify(real.realPath)})`;
  return `let real;
const load = () => (real ??= ${loader});
const target = function () {};
for (const name of ${JSON.stringify(named)}) Object.defineProperty(target, name, { enumerable: true, get: () => load()[name] });
module.exports = new Proxy(target, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args) => Reflect.construct(load(), args),
});
`;
}
