import net from 'node:net';
import { parseStoreSpec } from './spec.js';

/**
 * TCP connections to the IMAP servers named on the command line, opened while the command is still loading.
 *
 * Why: a run with nothing new is little more than a login, and before it can start, Node loads the command and
 * imapflow (about 0.1 s of CPU) and only then connects and waits for the server's greeting (one round trip for TCP,
 * half of one for the greeting: 60 ms at 40 ms). Connecting first lets the network work while the CPU loads the
 * code; the IMAP driver then adopts the connection instead of opening one (imap/adopted-transport.ts).
 *
 * Nothing is sent on these connections here: TLS (imaps://), STARTTLS, the certificate checks and the login all happen
 * later on the adopted socket, with the options the command parsed, exactly as on a connection the driver opened.
 * A connection that failed, closed or was never adopted costs nothing: the driver opens its own, and reports the
 * failure as it always did. The sockets are unref'd until adopted, so they never keep a finished command alive.
 *
 * One process-wide pool: the command line is one per process, and the driver takes from it by endpoint.
 */

export interface ImapEndpoint {
  readonly host: string;
  readonly port: number;
}

/** At most this many connections are opened early: a source and a target, and a little slack. */
const maxEarlyConnections = 4;

interface Waiting {
  readonly socket: net.Socket;
  /** Takes the pool's own listeners off: once adopted, the socket's errors are the driver's to handle. */
  readonly detach: () => void;
}

const waiting = new Map<string, Waiting[]>();

const keyOf = (endpoint: ImapEndpoint) => `${endpoint.host}\u0000${endpoint.port}`;

/**
 * The IMAP servers the command line names, one entry per URL argument (two accounts on one server are two
 * connections). Pure. Anything that does not parse as an IMAP URL is left to the command, which reports it; help
 * asked for opens nothing, and neither does `--imap-fallback URL`, used only when the source's files cannot be read.
 */
export function findImapEndpoints(args: readonly string[]): ImapEndpoint[] {
  if (args.includes('--help') || args.includes('-h')) return [];
  const endpoints: ImapEndpoint[] = [];
  for (const [i, arg] of args.entries()) {
    if (!/^imaps?:\/\//i.test(arg) || args[i - 1] === '--imap-fallback') continue;
    try {
      const spec = parseStoreSpec(arg);
      if (spec.kind === 'imap') endpoints.push({ host: spec.host, port: spec.port });
    } catch {
      // Not a valid URL: the command's own parsing says why.
    }
    if (endpoints.length === maxEarlyConnections) break;
  }
  return endpoints;
}

/** Starts a TCP connection to each IMAP server the command line names. Returns at once; never throws. */
export function preconnectImap(args: readonly string[]): void {
  for (const endpoint of findImapEndpoints(args)) {
    let socket: net.Socket;
    try {
      socket = net.connect({ host: endpoint.host, port: endpoint.port });
    } catch {
      continue;
    }
    socket.unref();
    const key = keyOf(endpoint);
    const drop = () => {
      const entries = waiting.get(key);
      if (entries) waiting.set(key, entries.filter((each) => each.socket !== socket));
    };
    // Until adopted, an error or a close only takes the socket out of the pool; the driver's own connection then
    // meets (and reports) the same failure.
    socket.on('error', drop);
    socket.on('close', drop);
    const detach = () => {
      socket.off('error', drop);
      socket.off('close', drop);
    };
    waiting.set(key, [...(waiting.get(key) ?? []), { socket, detach }]);
  }
}

/**
 * A connection opened early to this server, still open (connecting or connected, nothing read from it yet), taken
 * out of the pool; undefined when there is none. The caller owns it from here.
 */
export function takePreconnected(endpoint: ImapEndpoint): net.Socket | undefined {
  const key = keyOf(endpoint);
  const entries = waiting.get(key) ?? [];
  const usable = entries.find(({ socket }) => !socket.destroyed && !socket.readableEnded && !socket.errored);
  if (!usable) return undefined;
  waiting.set(key, entries.filter((each) => each !== usable));
  usable.detach();
  usable.socket.ref();
  return usable.socket;
}

/** Closes every connection nobody adopted (tests; a command that ends exits anyway). */
export function closePreconnected(): void {
  for (const entries of waiting.values()) for (const { socket } of entries) socket.destroy();
  waiting.clear();
}
