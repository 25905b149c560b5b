import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A small IMAP-aware TCP proxy on 127.0.0.1 for fault tests. It sits between the client and a plaintext Dovecot and,
 * per client command (as `decide` says), passes it, answers it with a NO itself, sends BYE, or forwards it and then
 * cuts the connection at a chosen point of the server's answer — including right before the tagged OK of an APPEND
 * the server has already executed, the case where a naive retry duplicates mail.
 *
 * Both directions are parsed just enough to find command and response boundaries: lines, and literals ({n}, {n+},
 * ~{n}) whose bytes are never mistaken for lines.
 *
 * With `delayMs` every byte is held that long in each direction (a link with latency), without limiting how many
 * commands are in flight; `maxAppendsInFlight` says how many APPENDs a client had sent on one connection before the
 * first of them was answered (1 for a client that waits for each), and `maxInFlightAt[NAME]` how many commands of
 * any kind were unanswered on its connection when a command NAME was sent (itself included; `resetCounts()`).
 *
 * `flights` counts round trips: per connection, the commands the client sent in each flight, a flight being what it
 * sent after the previous commands were all answered (one wait for the server each). A command sent while another
 * is unanswered rides in the same flight: that is pipelining, no wait of its own.
 */

export type ProxyAction =
  | { readonly kind: 'pass' }
  /** Answered by the proxy with `NO [CODE] text` (CODE: UNAVAILABLE unless given). */
  | { readonly kind: 'no'; readonly text: string; readonly code?: string }
  | { readonly kind: 'bye' }
  | { readonly kind: 'drop-on-tagged' }
  | { readonly kind: 'drop-after-bytes'; readonly bytes: number }
  /** Forwards the command and this many bytes of its literal(s), then cuts the connection: a command sent halfway. */
  | { readonly kind: 'drop-mid-literal'; readonly bytes: number };

export interface ProxyCommand {
  readonly connection: number;
  readonly tag: string;
  /** Upper-cased command name; "UID FETCH" for UID commands. */
  readonly name: string;
  /** The first line of the command, without CRLF. */
  readonly line: string;
}

export interface FaultyProxy {
  readonly port: number;
  readonly log: string[];
  readonly connections: number;
  readonly maxAppendsInFlight: number;
  readonly maxInFlightAt: Readonly<Record<string, number>>;
  /** Per connection number, the command names of each flight since the last `resetCounts()`. */
  readonly flights: ReadonlyMap<number, readonly (readonly string[])[]>;
  resetCounts(): void;
  close(): Promise<void>;
}

const literalAtEnd = /~?\{(\d+)(\+)?\}\r\n$/;

export interface ProxyOptions {
  /** Connection number n (from 1) is closed at once, before any greeting: a refused or reset connection. */
  readonly refuseConnection?: (connection: number) => boolean;
  /** Each direction's bytes are delivered this much later (order kept). */
  readonly delayMs?: number;
}

export async function startFaultyProxy(upstreamPort: number, decide: (command: ProxyCommand) => ProxyAction, options: ProxyOptions = {}): Promise<FaultyProxy> {
  const sockets = new Set<Socket>();
  const log: string[] = [];
  let connections = 0;
  let maxAppendsInFlight = 0;
  let maxInFlightAt: Record<string, number> = {};
  let flights = new Map<number, string[][]>();
  const delayMs = options.delayMs ?? 0;
  /** Writes now, or `delayMs` later: timers of one duration fire in the order they were set, so order is kept. */
  const later = (action: () => void) => (delayMs > 0 ? setTimeout(action, delayMs) : action());

  const server: Server = createServer((client) => {
    connections += 1;
    const connection = connections;
    if (options.refuseConnection?.(connection)) {
      log.push(`#${connection} refused`);
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: upstreamPort });
    sockets.add(client);
    sockets.add(upstream);
    let isDropped = false;
    /** Set at once when a drop is decided: nothing more is forwarded, while what was is still delivered (delayMs). */
    let isCut = false;
    const dropNow = (why: string) => {
      if (isDropped) return;
      isDropped = true;
      isCut = true;
      log.push(`#${connection} drop: ${why}`);
      client.destroy();
      upstream.destroy();
    };
    const drop = (why: string) => {
      isCut = true;
      later(() => dropNow(why));
    };
    const toClient = (data: Buffer | string) => {
      if (isCut) return;
      const copy = typeof data === 'string' ? data : Buffer.from(data);
      later(() => client.write(copy));
    };
    const toUpstream = (data: Buffer | string) => {
      if (isCut) return;
      const copy = typeof data === 'string' ? data : Buffer.from(data);
      later(() => upstream.write(copy));
    };
    /** APPEND tags, and all tags, sent and not yet answered on this connection. */
    const appendsOpen = new Set<string>();
    const commandsOpen = new Set<string>();
    let serverLine = '';
    client.on('error', () => dropNow('client error'));
    upstream.on('error', () => dropNow('upstream error'));
    client.on('close', () => dropNow('client closed'));
    upstream.on('close', () => dropNow('upstream closed'));

    // Client -> server
    let fromClient = Buffer.alloc(0);
    let literalLeft = 0;
    let inCommand = false;
    let action: ProxyAction = { kind: 'pass' };
    let pendingTag: { tag: string; action: ProxyAction } | undefined;
    let literalBytesSent = 0;
    client.on('data', (chunk: Buffer) => {
      if (isCut) return;
      fromClient = Buffer.concat([fromClient, chunk]);
      for (;;) {
        if (literalLeft > 0) {
          const take = Math.min(literalLeft, fromClient.length);
          if (take === 0) return;
          const cutAt = action.kind === 'drop-mid-literal' ? action.bytes - literalBytesSent : Infinity;
          if (take >= cutAt) {
            toUpstream(fromClient.subarray(0, cutAt));
            drop(`after ${action.kind === 'drop-mid-literal' ? action.bytes : 0} literal bytes of a command`);
            return;
          }
          if (action.kind !== 'no') toUpstream(fromClient.subarray(0, take));
          literalBytesSent += take;
          fromClient = fromClient.subarray(take);
          literalLeft -= take;
          continue;
        }
        const end = fromClient.indexOf('\r\n');
        if (end < 0) return;
        const line = fromClient.subarray(0, end + 2);
        fromClient = fromClient.subarray(end + 2);
        const text = line.toString('latin1');
        if (!inCommand) {
          const [tag = '', first = '', second = ''] = text.trimEnd().split(' ');
          const name = first.toUpperCase() === 'UID' ? `UID ${second.toUpperCase()}` : first.toUpperCase();
          literalBytesSent = 0;
          // A line without a command name is a continuation the client sent (an AUTHENTICATE response), not a command.
          if (name !== '') {
            const ofConnection = flights.get(connection) ?? [];
            flights.set(connection, ofConnection);
            if (commandsOpen.size === 0 || ofConnection.length === 0) ofConnection.push([name]);
            else ofConnection.at(-1)!.push(name);
            commandsOpen.add(tag);
            maxInFlightAt[name] = Math.max(maxInFlightAt[name] ?? 0, commandsOpen.size);
          }
          if (name === 'APPEND') {
            appendsOpen.add(tag);
            maxAppendsInFlight = Math.max(maxAppendsInFlight, appendsOpen.size);
          }
          action = decide({ connection, tag, name, line: text.trimEnd() });
          if (action.kind !== 'pass') log.push(`#${connection} ${action.kind} ${tag} ${name}`);
          if (action.kind === 'no') {
            appendsOpen.delete(tag);
            commandsOpen.delete(tag);
            toClient(`${tag} NO [${action.code ?? 'UNAVAILABLE'}] ${action.text}\r\n`);
          }
          if (action.kind === 'bye') {
            toClient('* BYE [UNAVAILABLE] Server shutting down (test proxy)\r\n');
            drop('bye');
            return;
          }
          if (action.kind === 'drop-on-tagged' || action.kind === 'drop-after-bytes') pendingTag = { tag, action };
        }
        if (action.kind !== 'no') toUpstream(line);
        const literal = literalAtEnd.exec(text);
        if (literal) {
          literalLeft = Number(literal[1]);
          inCommand = true;
          // A synchronising literal of a refused command is never sent: the client got its NO instead of "+".
          if (action.kind === 'no' && !literal[2]) {
            literalLeft = 0;
            inCommand = false;
          }
        } else {
          inCommand = false;
        }
      }
    });

    // Server -> client
    let fromServer = Buffer.alloc(0);
    let serverLiteralLeft = 0;
    let bytesSinceCommand = 0;
    upstream.on('data', (chunk: Buffer) => {
      if (isCut) return;
      // Tagged answers to APPENDs (good enough for counting: the test's messages hold no line that looks like one).
      serverLine += chunk.toString('latin1');
      const lines = serverLine.split('\r\n');
      serverLine = lines.pop() ?? '';
      for (const line of lines) {
        const tag = line.split(' ', 1)[0] ?? '';
        appendsOpen.delete(tag);
        commandsOpen.delete(tag);
      }
      if (pendingTag?.action.kind === 'drop-after-bytes') {
        const limit = pendingTag.action.bytes;
        const allowed = Math.max(0, limit - bytesSinceCommand);
        if (chunk.length > allowed) {
          toClient(chunk.subarray(0, allowed));
          drop(`after ${limit} response bytes to ${pendingTag.tag}`);
          return;
        }
        bytesSinceCommand += chunk.length;
        toClient(chunk);
        return;
      }
      if (pendingTag?.action.kind !== 'drop-on-tagged') {
        toClient(chunk);
        return;
      }
      fromServer = Buffer.concat([fromServer, chunk]);
      let passed = 0;
      let at = 0;
      for (;;) {
        if (serverLiteralLeft > 0) {
          const take = Math.min(serverLiteralLeft, fromServer.length - at);
          if (take === 0) break;
          at += take;
          serverLiteralLeft -= take;
          passed = at;
          continue;
        }
        const end = fromServer.indexOf('\r\n', at);
        if (end < 0) break;
        const text = fromServer.toString('latin1', at, end + 2);
        if (text.startsWith(`${pendingTag.tag} `)) {
          toClient(fromServer.subarray(0, passed));
          drop(`before the tagged answer to ${pendingTag.tag}: ${text.trimEnd()}`);
          return;
        }
        at = end + 2;
        passed = at;
        const literal = literalAtEnd.exec(text);
        if (literal) serverLiteralLeft = Number(literal[1]);
      }
      toClient(fromServer.subarray(0, passed));
      fromServer = fromServer.subarray(passed);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no port');
  return {
    port: address.port,
    log,
    get connections() {
      return connections;
    },
    get maxAppendsInFlight() {
      return maxAppendsInFlight;
    },
    get maxInFlightAt() {
      return maxInFlightAt;
    },
    get flights() {
      return flights;
    },
    resetCounts() {
      maxAppendsInFlight = 0;
      maxInFlightAt = {};
      flights = new Map();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
