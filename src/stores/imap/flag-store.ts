import type { ListedMessage, FlagUpdate, FlagUpdateMode } from '../store.js';

/** One UID STORE: the same change for every UID in it. */
export interface FlagStore {
  /** FLAGS.SILENT replaces ('source'); +FLAGS.SILENT adds ('merge'). */
  readonly item: 'FLAGS.SILENT' | '+FLAGS.SILENT';
  readonly flags: readonly string[];
  readonly uids: number[];
}

/**
 * What `resync --flags` changes on an IMAP target: for each message found (by its target UID), the flags it should
 * have ('source': the source's; 'merge': both sides' together) against the flags it has, and the UID STOREs that
 * make it so, messages needing the same change grouped. Flags compare case-insensitively (RFC 3501 §2.3.2).
 * `sendable` keeps what the folder can store (keywords that are atoms, and that its PERMANENTFLAGS allow).
 */
export function planFlagStores(
  updates: ReadonlyMap<number, FlagUpdate>,
  current: ReadonlyMap<number, ListedMessage>,
  mode: FlagUpdateMode,
  sendable: (message: { readonly flags: ReadonlySet<string>; readonly keywords: ReadonlySet<string> }) => string[],
): FlagStore[] {
  const stores = new Map<string, FlagStore>();
  for (const [uid, update] of updates) {
    const found = current.get(uid);
    if (!found) continue;
    const has = new Map([...found.flags, ...found.keywords].map((flag) => [flag.toLowerCase(), flag]));
    const wanted = sendable(mode === 'source' ? update : { flags: new Set([...found.flags, ...update.flags]), keywords: new Set([...found.keywords, ...update.keywords]) });
    const wantedLower = new Set(wanted.map((flag) => flag.toLowerCase()));
    const missing = wanted.filter((flag) => !has.has(flag.toLowerCase()));
    const extra = [...has.keys()].filter((flag) => !wantedLower.has(flag));
    let change: Omit<FlagStore, 'uids'> | undefined;
    if (mode === 'source' && (missing.length > 0 || extra.length > 0)) change = { item: 'FLAGS.SILENT', flags: [...wanted].sort() };
    else if (mode === 'merge' && missing.length > 0) change = { item: '+FLAGS.SILENT', flags: missing.sort() };
    if (!change) continue;
    const key = `${change.item} ${change.flags.join(' ')}`;
    const store = stores.get(key) ?? { ...change, uids: [] };
    store.uids.push(uid);
    stores.set(key, store);
  }
  return [...stores.values()];
}
