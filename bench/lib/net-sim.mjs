// A network simulation for the IMAP benchmark: a TCP proxy on 127.0.0.1 in front of the benchmark's Dovecot that
// delays every byte by a fixed time in each direction and caps the bandwidth of a link shared by all connections,
// as a real link between a client and a distant server is (this kernel has no netem, so `tc` cannot do it).
//
// - Latency: each chunk is delivered `delayMs` after it has crossed the link; a round trip costs 2 x delayMs.
// - Bandwidth: one queue per direction for all connections together: a chunk occupies the link for
//   bytes * 8 / bitsPerSecond, after the chunks queued before it (from any connection).
// - No limit on pipelining: the proxy never waits for an answer before forwarding the next command; only a
//   connection with more than `maxQueuedBytes` waiting to cross is paused (what a TCP window would do), so a tool that
//   keeps many commands in flight gains what it would gain on a real link.
//
// Run as its own process (`node bench/lib/net-sim.mjs UPSTREAM_PORT DELAY_MS MBIT`, prints "listening PORT"), so its
// work never competes with the harness's event loop; startNetSim() does that and returns { port, stop() }.
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;

/** One direction of the link, shared by every connection: when it is free again, in ms (performance.now()). */
function createLink(bitsPerSecond) {
  let freeAt = 0;
  return {
    /** Reserves the link for `bytes` and returns when they have crossed it. */
    reserve(bytes) {
      const now = performance.now();
      const start = Math.max(now, freeAt);
      freeAt = start + (bitsPerSecond > 0 ? (bytes * 8 * 1000) / bitsPerSecond : 0);
      return freeAt;
    },
  };
}

/**
 * Forwards `from` to `to` over `link`, `delayMs` late, in order: one FIFO per connection and direction, one timer
 * for its head, so chunks never overtake each other whatever the timer granularity.
 */
function pipeDelayed(from, to, link, delayMs, maxQueuedBytes) {
  const queue = [];
  let queuedBytes = 0;
  let timer = null;
  let isPaused = false;
  const deliverDue = () => {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && queue[0].at <= now + 0.5) {
      const { chunk } = queue.shift();
      queuedBytes -= chunk.length;
      if (!to.destroyed) to.write(chunk);
    }
    if (isPaused && queuedBytes < maxQueuedBytes / 2) {
      isPaused = false;
      from.resume();
    }
    if (queue.length > 0) schedule();
    else if (from.readableEnded && !to.destroyed) to.end();
  };
  const schedule = () => {
    if (timer || queue.length === 0) return;
    timer = setTimeout(deliverDue, Math.max(0, queue[0].at - performance.now()));
  };
  from.on('data', (chunk) => {
    queue.push({ chunk, at: link.reserve(chunk.length) + delayMs });
    queuedBytes += chunk.length;
    if (queuedBytes >= maxQueuedBytes && !isPaused) {
      isPaused = true;
      from.pause();
    }
    schedule();
  });
  from.on('end', () => {
    if (queue.length === 0 && !to.destroyed) to.end();
  });
}

/** The proxy, in this process. */
export function createNetSim({ upstreamPort, delayMs, bitsPerSecond, maxQueuedBytes = DEFAULT_MAX_QUEUED_BYTES }) {
  const up = createLink(bitsPerSecond);
  const down = createLink(bitsPerSecond);
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', () => setTimeout(close, delayMs));
    upstream.on('close', () => setTimeout(close, delayMs));
    pipeDelayed(client, upstream, up, delayMs, maxQueuedBytes);
    pipeDelayed(upstream, client, down, delayMs, maxQueuedBytes);
  });
  return {
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server.address().port));
      }),
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** The proxy as a child process; resolves once it listens. */
export function startNetSim({ upstreamPort, delayMs, mbit }) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), String(upstreamPort), String(delayMs), String(mbit)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`net-sim exited (${code}) before listening`)));
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const match = /listening (\d+)/.exec(text);
      if (!match) return;
      child.removeAllListeners('exit');
      resolve({
        port: Number(match[1]),
        description: `${2 * delayMs} ms round trip (${delayMs} ms each way), ${mbit} Mbit/s shared by all connections`,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [upstreamPort, delayMs, mbit] = process.argv.slice(2).map(Number);
  if (!Number.isInteger(upstreamPort) || !(delayMs >= 0) || !(mbit >= 0)) {
    process.stderr.write('usage: node bench/lib/net-sim.mjs UPSTREAM_PORT DELAY_MS MBIT (0: no cap)\n');
    process.exit(2);
  }
  const sim = createNetSim({ upstreamPort, delayMs, bitsPerSecond: mbit * 1e6 });
  const port = await sim.listen();
  process.stdout.write(`listening ${port}\n`);
  process.on('SIGTERM', () => {
    sim.close();
    process.exit(0);
  });
}
