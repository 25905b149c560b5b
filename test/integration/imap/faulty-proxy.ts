import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A small IMAP-aware TCP proxy on 127.0.0.1 for fault tests. It sits between the client and a plaintext Dovecot and,
 * per client command (as `decide` says), passes it, answers it with a NO itself, sends BYE, or forwards it and then
 * cuts the connection at a chosen point of the server's answer — including right before the tagged OK of an APPEND
 * the server has already executed, the case where a naive retry duplicates mail.
 *
 * Both directions are parsed just enough to find command and response boundaries: lines, and literals ({n}, {n+},
 * ~{n}) whose bytes are never mistaken for lines.
 */

export type ProxyAction =
  | { readonly kind: 'pass' }
  /** Answered by the proxy with `NO [CODE] text` (CODE: UNAVAILABLE unless given). */
  | { readonly kind: 'no'; readonly text: string; readonly code?: string }
  | { readonly kind: 'bye' }
  | { readonly kind: 'drop-on-tagged' }
  | { readonly kind: 'drop-after-bytes'; readonly bytes: number };

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
  close(): Promise<void>;
}

const literalAtEnd = /~?\{(\d+)(\+)?\}\r\n$/;

export interface ProxyOptions {
  /** Connection number n (from 1) is closed at once, before any greeting: a refused or reset connection. */
  readonly refuseConnection?: (connection: number) => boolean;
}

export async function startFaultyProxy(upstreamPort: number, decide: (command: ProxyCommand) => ProxyAction, options: ProxyOptions = {}): Promise<FaultyProxy> {
  const sockets = new Set<Socket>();
  const log: string[] = [];
  let connections = 0;

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
    const drop = (why: string) => {
      if (isDropped) return;
      isDropped = true;
      log.push(`#${connection} drop: ${why}`);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', () => drop('client error'));
    upstream.on('error', () => drop('upstream error'));
    client.on('close', () => drop('client closed'));
    upstream.on('close', () => drop('upstream closed'));

    // Client -> server
    let fromClient = Buffer.alloc(0);
    let literalLeft = 0;
    let inCommand = false;
    let action: ProxyAction = { kind: 'pass' };
    let pendingTag: { tag: string; action: ProxyAction } | undefined;
    client.on('data', (chunk: Buffer) => {
      fromClient = Buffer.concat([fromClient, chunk]);
      for (;;) {
        if (literalLeft > 0) {
          const take = Math.min(literalLeft, fromClient.length);
          if (take === 0) return;
          if (action.kind !== 'no') upstream.write(fromClient.subarray(0, take));
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
          action = decide({ connection, tag, name, line: text.trimEnd() });
          if (action.kind !== 'pass') log.push(`#${connection} ${action.kind} ${tag} ${name}`);
          if (action.kind === 'no') client.write(`${tag} NO [${action.code ?? 'UNAVAILABLE'}] ${action.text}\r\n`);
          if (action.kind === 'bye') {
            client.write('* BYE [UNAVAILABLE] Server shutting down (test proxy)\r\n');
            drop('bye');
            return;
          }
          if (action.kind === 'drop-on-tagged' || action.kind === 'drop-after-bytes') pendingTag = { tag, action };
        }
        if (action.kind !== 'no') upstream.write(line);
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
      if (pendingTag?.action.kind === 'drop-after-bytes') {
        const limit = pendingTag.action.bytes;
        const allowed = Math.max(0, limit - bytesSinceCommand);
        if (chunk.length > allowed) {
          client.write(chunk.subarray(0, allowed));
          drop(`after ${limit} response bytes to ${pendingTag.tag}`);
          return;
        }
        bytesSinceCommand += chunk.length;
        client.write(chunk);
        return;
      }
      if (pendingTag?.action.kind !== 'drop-on-tagged') {
        client.write(chunk);
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
          client.write(fromServer.subarray(0, passed));
          drop(`before the tagged answer to ${pendingTag.tag}: ${text.trimEnd()}`);
          return;
        }
        at = end + 2;
        passed = at;
        const literal = literalAtEnd.exec(text);
        if (literal) serverLiteralLeft = Number(literal[1]);
      }
      client.write(fromServer.subarray(0, passed));
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
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
