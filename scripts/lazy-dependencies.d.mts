// Types for lazy-dependencies.mjs, for its tests.
export const lazyDependencies: Readonly<Record<'pino' | 'socks' | 'encoding-japanese' | '@zone-eu/mailsplit' | '@zone-eu/mailsplit/lib/flowed-decoder.js' | 'libmime' | 'iconv-lite', { readonly named: readonly string[] }>>;
export const lazyBuiltins: Readonly<Record<string, { readonly importers: readonly string[] }>>;
export function lazyDependencyPlugin(): unknown;
/** What a stand-in loads: a package by name (from imapflow's directory), a bundled file, or one of Node's modules. */
export type StandInSource = { readonly name: string } | { readonly realPath: string } | { readonly builtin: string };
export function buildLazyStandIn(real: StandInSource, named: readonly string[]): string;
