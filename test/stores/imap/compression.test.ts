import { describe, expect, it } from 'vitest';
import { decideCompression, slowLinkRoundTripMs } from '../../../src/stores/imap/compression.js';

describe('decideCompression', () => {
  it('compresses over a slow link when the server offers it', () => {
    const decision = decideCompression({ isOffered: true, roundTripsMs: [41.2] });
    expect(decision.use).toBe(true);
    expect(decision.reason).toMatch(/COMPRESS=DEFLATE on each connection: a round trip took 41\.2 ms/);
  });

  it('does not compress over a fast link (loopback, a LAN): deflate would cost more than it saves', () => {
    const decision = decideCompression({ isOffered: true, roundTripsMs: [0.3] });
    expect(decision).toMatchObject({ use: false });
    expect(decision.reason).toMatch(/under 10 ms/);
  });

  it('never compresses when the server does not offer it, and says so', () => {
    expect(decideCompression({ isOffered: false, roundTripsMs: [200] })).toMatchObject({ use: false, reason: expect.stringMatching(/does not offer COMPRESS=DEFLATE/) });
  });

  it('takes the threshold itself as slow', () => {
    expect(decideCompression({ isOffered: true, roundTripsMs: [slowLinkRoundTripMs] }).use).toBe(true);
  });

  it('judges the link by the quicker of its samples: a busy machine stretches a round trip, nothing makes one shorter than the link', () => {
    const stretched = decideCompression({ isOffered: true, roundTripsMs: [14.8, 0.4] });
    expect(stretched.use).toBe(false);
    expect(stretched.reason).toMatch(/the quicker of 2 round trips took 0\.4 ms/);
    expect(decideCompression({ isOffered: true, roundTripsMs: [43.1, 40.6] })).toMatchObject({ use: true, reason: expect.stringMatching(/40\.6 ms/) });
  });
});
