import type { StoreSpec, Location } from '../../stores/spec.js';
import type { ExecTarget } from '../../transport/exec.js';
import type { SshEndpoint, SshOptions } from '../../transport/ssh.js';
import { openSshSession } from '../../transport/ssh-session.js';

/**
 * Runs `fn` with ssh options that share one connection per remote host (ControlMaster), and closes the shared
 * connections afterwards, whatever happens. Without a remote end, `fn` gets the options unchanged.
 */
export async function withSharedSsh<T>(base: SshOptions, specs: readonly StoreSpec[], fn: (ssh: SshOptions) => Promise<T>): Promise<T> {
  const endpoints: SshEndpoint[] = [];
  for (const spec of specs) {
    if (spec.kind === 'imap' || spec.location.type !== 'ssh') continue;
    const { host, user, port } = spec.location;
    endpoints.push({ host, ...(user ? { user } : {}), ...(port ? { port } : {}) });
  }
  if (endpoints.length === 0) return fn(base);
  const session = await openSshSession(base);
  try {
    return await fn(session.options);
  } finally {
    await session.close(endpoints);
  }
}

/** Where a location's commands run: here, or over ssh with the run's options. */
export function execOfLocation(location: Location, ssh: SshOptions): ExecTarget {
  return location.type === 'ssh'
    ? { ssh: { host: location.host, ...(location.user ? { user: location.user } : {}), ...(location.port ? { port: location.port } : {}) }, sshOptions: ssh }
    : {};
}
