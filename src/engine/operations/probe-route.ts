import type { SshOptions } from '../../transport/ssh.js';
import { probeEnds } from '../ends.js';
import type { Operation, Route } from '../route.js';
import type { OperationBase } from './types.js';

/**
 * The first step of every operation: look at both ends over the run's shared ssh connection, decide the route, log
 * it and tell the caller (the CLI prints it for --dry-run) before any work starts.
 */
export async function probeRoute(operation: Operation, request: OperationBase, ssh: SshOptions, imapFallback?: string): Promise<Route> {
  const { route } = await probeEnds(operation, request.source, request.target, {
    ssh,
    signal: request.signal,
    logger: request.logger,
    ...(imapFallback ? { imapFallback } : {}),
  });
  request.logger.debug(`route: ${route.use}: ${route.reason}`);
  request.onRoute?.(route);
  return route;
}
