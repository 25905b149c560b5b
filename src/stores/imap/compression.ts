/**
 * Whether a connection to this server should run COMPRESS=DEFLATE (RFC 4978). Over a slow link the bytes decide the
 * time and mail text shrinks by a third or more (the benchmark's corpus, base64 attachments included, to 0.66); on
 * a LAN or loopback the link is faster than deflate, and compressing only burns the CPU of both ends (Dovecot
 * compresses at level 6). The link is judged by its round trip, which we can measure for free, and a link with 10 ms
 * or more of it is not a LAN: the quicker of two samples, the listing's NAMESPACE (store.ts) and a NOOP sent with the first
 * folder's EXAMINE. No sample is quicker than the link, but either can be slower: a busy machine (its own server,
 * or this client loading code when the answer comes) stretched a single loopback NOOP past 10 ms and switched
 * deflate on where it only cost CPU.
 */

export type CompressionDecision = { readonly use: true; readonly reason: string } | { readonly use: false; readonly reason: string };

/** A round trip at or above this is a link worth compressing for. Loopback answers in well under 1 ms. */
export const slowLinkRoundTripMs = 10;

export function decideCompression(input: { readonly isOffered: boolean; readonly roundTripsMs: readonly number[] }): CompressionDecision {
  const roundTripMs = Math.min(...input.roundTripsMs);
  const measured = input.roundTripsMs.length > 1 ? `the quicker of ${input.roundTripsMs.length} round trips took ${roundTripMs.toFixed(1)} ms` : `a round trip took ${roundTripMs.toFixed(1)} ms`;
  if (!input.isOffered) return { use: false, reason: `the server does not offer COMPRESS=DEFLATE (${measured})` };
  if (roundTripMs < slowLinkRoundTripMs) {
    return { use: false, reason: `COMPRESS=DEFLATE offered but not used: ${measured}, under ${slowLinkRoundTripMs} ms (a fast link gains less than deflate costs)` };
  }
  return { use: true, reason: `COMPRESS=DEFLATE on each connection: ${measured}, a slow link where fewer bytes save more time than deflate costs` };
}
