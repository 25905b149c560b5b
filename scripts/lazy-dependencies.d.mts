// Types for lazy-dependencies.mjs, for its tests.
export const lazyDependencies: {
  readonly pino: { readonly named: readonly string[] };
  readonly socks: { readonly named: readonly string[] };
  readonly 'encoding-japanese': { readonly named: readonly string[] };
  readonly '@zone-eu/mailsplit': { readonly named: readonly string[] };
  readonly '@zone-eu/mailsplit/lib/flowed-decoder.js': { readonly named: readonly string[] };
};
export function lazyDependencyPlugin(): unknown;
export function buildLazyStandIn(realPath: string, named: readonly string[]): string;
