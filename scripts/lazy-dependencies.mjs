// The stand-ins scripts/bundle.mjs puts in place of dependencies that only some of imapflow's features use.
import path from 'node:path';

/**
 * imapflow (and libmime under it) import at their top modules that only some of their features use: pino (its default
 * logger; we give it ours), socks (proxies), encoding-japanese (decoding Japanese text), mailsplit (downloading
 * message parts; we read bodies ourselves) and libmime itself (below). Evaluated at every IMAP run's start, they cost about 20 ms of CPU
 * (measured: `node -e "await import(IMAP chunk)"`, median of 10 alternated runs on a shared machine, 0.24 s with them
 * evaluated, 0.22 s with these stand-ins; `node -e 0` 0.10 s). Their code is still in the chunk (parsed, not run).
 * Here each one becomes a stand-in that loads the real module the first time anything is asked of it:
 * a property, a call, `new`. `named`: the names its importers take from it (`import { Headers }`), which must exist
 * when the import runs. Only imports made from imapflow's and libmime's own files are replaced.
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
};

/** The esbuild plugin that puts lazyDependencies' stand-ins in place. */
export function lazyDependencyPlugin() {
  const names = Object.keys(lazyDependencies);
  const filter = new RegExp(`^(${names.map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
  return {
    name: 'lazy-dependencies',
    setup(build) {
      build.onResolve({ filter }, async (args) => {
        if (args.pluginData?.isReal || !/[\\/]node_modules[\\/](imapflow|libmime)[\\/]/.test(args.importer)) return undefined;
        const real = await build.resolve(args.path, { resolveDir: args.resolveDir, kind: 'require-call', pluginData: { isReal: true } });
        if (real.errors.length > 0) return { errors: real.errors };
        return { path: real.path, namespace: 'lazy-dependency', pluginData: { name: args.path } };
      });
      build.onLoad({ filter: /.*/, namespace: 'lazy-dependency' }, (args) => {
        const { named } = lazyDependencies[args.pluginData.name];
        return { resolveDir: path.dirname(args.path), loader: 'js', contents: buildLazyStandIn(args.path, named) };
      });
    },
  };
}

/**
 * A CommonJS module that stands for the one at `realPath` and requires it the first time anything is asked of it.
 * A function target, so that the stand-in can be called and constructed; `named` as getters on it, so that esbuild's
 * import helpers (which copy own properties when the import runs) find them without loading anything.
 */
export function buildLazyStandIn(realPath, named) {
  return `let real;
const load = () => (real ??= require(${JSON.stringify(realPath)}));
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
