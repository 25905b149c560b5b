import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP forwarder on 127.0.0.1 that holds every byte `delayMs` in each direction and looks at none of them: a link
 * with latency for traffic the IMAP-aware test proxy (faulty-proxy.ts) cannot parse, TLS or a compressed session.
 */
export interface DelayProxy {
  readonly port: number;
  close(): Promise<void>;
}

export async function startDelayProxy(upstreamPort: number, delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort });
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      sockets.add(socket);
    }
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    // Timers of one duration fire in the order they were set: the bytes keep their order.
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => setTimeout(() => to.destroyed || to.write(chunk), delayMs));
      from.on('end', () => setTimeout(() => to.destroyed || to.end(), delayMs));
      from.on('error', close);
      from.on('close', () => setTimeout(close, delayMs));
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('delay proxy: no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
