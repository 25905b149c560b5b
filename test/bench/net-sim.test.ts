import { connect, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The benchmarks are plain .mjs (run without a build step), hence no type declarations.
// @ts-ignore
import { createNetSim } from '../../bench/lib/net-sim.mjs';

/**
 * The benchmark's network simulation: bytes arrive whole and in order in both directions, many commands may be in
 * flight (nothing waits for an answer), and nothing arrives before its delay (a lower bound, never a timing target).
 */

let echo: Server;
beforeAll(async () => {
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
});
afterAll(() => echo.close());

async function roundTrip(port: number, chunks: readonly Buffer[]): Promise<{ received: Buffer; elapsedMs: number }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const started = performance.now();
  const parts: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve) =>
    socket.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      got += chunk.length;
      if (got >= total) resolve();
    }),
  );
  for (const chunk of chunks) socket.write(chunk);
  await done;
  socket.destroy();
  return { received: Buffer.concat(parts), elapsedMs: performance.now() - started };
}

describe('createNetSim', () => {
  it('passes every byte in order, written without waiting for answers, no sooner than a round trip', async () => {
    const sim = createNetSim({ upstreamPort: (echo.address() as { port: number }).port, delayMs: 15, bitsPerSecond: 50e6 });
    const port = await sim.listen();
    try {
      const chunks = Array.from({ length: 200 }, (_, i) => Buffer.alloc(1000 + i, i % 251));
      const { received, elapsedMs } = await roundTrip(port, chunks);
      expect(received.equals(Buffer.concat(chunks))).toBe(true);
      expect(elapsedMs).toBeGreaterThanOrEqual(30);
    } finally {
      sim.close();
    }
  });

  it('holds a transfer to the link: 500 KB at 8 Mbit/s cannot cross in less than half a second', async () => {
    const sim = createNetSim({ upstreamPort: (echo.address() as { port: number }).port, delayMs: 0, bitsPerSecond: 8e6 });
    const port = await sim.listen();
    try {
      const { received, elapsedMs } = await roundTrip(port, [Buffer.alloc(5e5, 7)]);
      expect(received.length).toBe(5e5);
      expect(elapsedMs).toBeGreaterThanOrEqual(450);
    } finally {
      sim.close();
    }
  });
});
