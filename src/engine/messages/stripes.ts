import { packInBatches } from '../../core/batch.js';
import type { MessageRef } from '../../core/types.js';

/**
 * How a large folder's bodies are read over several connections: cut into stripes, runs of consecutive UIDs of
 * about `stripeBytes` each, in UID order. Each reader (one connection) takes the next stripe nobody has taken, and the
 * messages are handed on stripe by stripe, in UID order, so the target receives them in the order a single
 * connection would have given, while the link, or the server's per-connection limits, serve several at once. A
 * stripe is one UID FETCH of a UID range ("1201:1450"), short whatever the folder's size.
 *
 * Pure: the plan (planReadStripes) and how many extra connections a folder may use (decideExtraReaders).
 */

/** Bytes per stripe: at 100 Mbit/s about 160 ms of transfer, four times a 40 ms round trip between two stripes. */
export const defaultStripeBytes = 2 * 1024 * 1024;
/** At most this many messages per stripe (a UID FETCH of 500 UIDs at most, as everywhere else). */
export const maxStripeMessages = 500;
/**
 * A folder with less than this to read is read over one connection. Splitting pays where a server or a path limits
 * each connection (a provider's per-connection throttle, a TCP window too small for the path), not on a link the
 * connections share: measured through bench/lib/net-sim.mjs (40 ms, 100 Mbit/s shared), a 16 MB folder over two
 * connections took 0.3 s longer than over one (a second login, a second deflate stream on the server, a round trip
 * between ranges). From 64 MB a second login is a few per cent of the read.
 */
export const defaultSplitMinBytes = 64 * 1024 * 1024;

/**
 * `refs` (in UID order, as the engine sorts them) cut into runs of about `stripeBytes` (by their listed size; a
 * message without one counts as `fallbackBytes`) and at most `maxMessages`. Every ref is in exactly one stripe, in
 * order; a message larger than a stripe is a stripe of its own.
 */
export function planReadStripes<T extends MessageRef>(refs: readonly T[], stripeBytes = defaultStripeBytes, maxMessages = maxStripeMessages, fallbackBytes = 16 * 1024): T[][] {
  return packInBatches(refs, (ref) => ref.sizeBytes ?? fallbackBytes, stripeBytes, maxMessages);
}

export type ReaderDecision = { readonly extra: number; readonly reason: string };

/**
 * How many connections besides the folder's own may read its bodies: none for a folder under `splitMinBytes`, else
 * one more per further `splitMinBytes`, never more than the run's other connections and never more than there are
 * stripes to share.
 */
export function decideExtraReaders(input: { readonly bytes: number; readonly stripes: number; readonly connections: number; readonly splitMinBytes: number }): ReaderDecision {
  const { bytes, stripes, connections, splitMinBytes } = input;
  if (connections <= 1) return { extra: 0, reason: 'one connection: the run has one per side' };
  if (stripes < 2 || bytes < splitMinBytes) return { extra: 0, reason: `one connection: ${formatMegabytes(bytes)} MB to read, under the ${formatMegabytes(splitMinBytes)} MB worth another login` };
  const extra = Math.min(connections - 1, stripes - 1, Math.max(1, Math.floor(bytes / splitMinBytes) - 1));
  return { extra, reason: `up to ${extra + 1} connections: ${formatMegabytes(bytes)} MB to read in ${stripes} UID ranges (the others join as they are spare)` };
}

function formatMegabytes(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
