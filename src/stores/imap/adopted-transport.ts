import type { Socket } from 'node:net';
import type { ImapFlowOptions } from 'imapflow';

type ImapTransport = NonNullable<ImapFlowOptions['transport']>;
type TransportOptions = Parameters<ImapTransport['connect']>[0];

/**
 * imapflow's `transport` for a TCP connection opened before imapflow was loaded (stores/preconnect.ts): the session
 * starts on that socket instead of a new one. TLS is started on it the way imapflow starts it on a socket it was
 * handed (its proxy path) and on STARTTLS: `tls.connect` over the socket with the host, the SNI name and the client's
 * `tls` options, so the certificate is checked exactly as on a connection imapflow opened itself.
 */
export function buildAdoptedTransport(socket: Socket): ImapTransport {
  const startTls = (plain: Socket, options: TransportOptions | Omit<TransportOptions, 'secure'>, onSecure: () => void) =>
    // Loaded here, not at the top: a cleartext session never needs node:tls.
    process.getBuiltinModule('node:tls').connect(
      {
        socket: plain,
        // The host even on a connected socket: without it an IP literal's certificate is checked against "localhost".
        host: options.host,
        port: options.port,
        ...(options.servername ? { servername: options.servername } : {}),
        ...(options.tls ?? {}),
      },
      onSecure,
    );
  return {
    connect(options, onConnect) {
      if (options.secure) return startTls(socket, options, onConnect);
      // The greeting may be here already: it waits in the socket's buffer until imapflow pipes the socket.
      if (socket.connecting) socket.once('connect', onConnect);
      else setImmediate(onConnect);
      return socket;
    },
    upgrade(plain, options, onSecure) {
      return startTls(plain as Socket, options, onSecure);
    },
  };
}
