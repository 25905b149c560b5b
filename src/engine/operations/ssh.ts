import type { StoreSpec } from '../../stores/spec.js';
import type { SshEndpoint, SshOptions } from '../../transport/ssh.js';

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
  // Loaded only with a remote end: an IMAP or local run does not load the ssh session and its process library.
  const { openSshSession } = await import('../../hosts/ssh-session.js');
  const session = await openSshSession(base);
  try {
    return await fn(session.options);
  } finally {
    await session.close(endpoints);
  }
}
