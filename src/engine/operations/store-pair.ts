import type { OpenedStore, OpenStoreOptions } from '../../stores/open.js';
import type { MailStore } from '../../stores/store.js';
import type { StoreSpec } from '../../stores/spec.js';
import type { OperationBase } from './types.js';

/** Both ends of a messages-engine run, opened; `dispose` closes them (target first, as they were opened last). */
export interface StorePair {
  readonly source: { readonly store: MailStore; readonly label: string };
  readonly target: { readonly store: MailStore; readonly label: string };
  dispose(): Promise<void>;
}

/**
 * Opens the source for reading and the target for writing (or reading, for verify and dry runs) through the driver
 * table (stores/open.ts). Passwords are asked for only when an IMAP end needs one, and again for each new
 * connection. `sourceSpec` may differ from the operation's source: with --imap-fallback in use, the IMAP account
 * stands in for the files.
 */
export async function openStorePair(request: OperationBase, sourceSpec: StoreSpec, targetMode: 'read' | 'write', options: { readonly allowMissingTarget?: boolean } = {}): Promise<StorePair> {
  const { openStore } = await import('../../stores/open.js');
  const common = buildStoreOpenOptions(request);
  // Both at once: over a network each login costs several round trips, and the two servers do not wait for each other.
  const [opened, openedTarget] = await Promise.allSettled([
    openStore(sourceSpec, { ...common, mode: 'read', password: (spec) => request.credentials.password('source', spec) }),
    openTargetStore(request, targetMode, options),
  ]);
  if (opened.status === 'rejected' || openedTarget.status === 'rejected') {
    if (opened.status === 'fulfilled') await opened.value.store[Symbol.asyncDispose]();
    if (openedTarget.status === 'fulfilled') await openedTarget.value.store[Symbol.asyncDispose]();
    // The source's failure first, as when they were opened one after the other.
    throw opened.status === 'rejected' ? opened.reason : (openedTarget as PromiseRejectedResult).reason;
  }
  const source = opened.value;
  const target = openedTarget.value;
  return {
    source,
    target,
    async dispose() {
      await Promise.all([target.store[Symbol.asyncDispose](), source.store[Symbol.asyncDispose]()]);
    },
  };
}

/**
 * The target alone, opened as openStorePair opens it: for a source that is no store (a cPanel backup streamed into
 * an IMAP account, archive/imap-restore.ts).
 */
export async function openTargetStore(request: OperationBase, mode: 'read' | 'write', options: { readonly allowMissingTarget?: boolean } = {}): Promise<OpenedStore> {
  const { openStore } = await import('../../stores/open.js');
  return openStore(request.target, {
    ...buildStoreOpenOptions(request),
    mode,
    ...(options.allowMissingTarget ? { allowMissing: true } : {}),
    password: (spec) => request.credentials.password('target', spec),
  });
}

/** How a request reaches an IMAP end (certificates, connections, retries), for openStore; the mode and password are the caller's. */
export function buildStoreOpenOptions(request: Pick<OperationBase, 'imap' | 'logger' | 'signal'>): Omit<OpenStoreOptions, 'mode' | 'password'> {
  const { imap } = request;
  return {
    logger: request.logger,
    ...(imap.caFile ? { caFile: imap.caFile } : {}),
    ...(imap.isInsecure ? { isInsecure: true } : {}),
    maxConnections: imap.maxConnections,
    ...(imap.connectTimeoutMs ? { connectTimeoutMs: imap.connectTimeoutMs } : {}),
    ...(imap.retries !== undefined ? { retries: imap.retries } : {}),
    ...(imap.retryBaseMs !== undefined ? { retryBaseMs: imap.retryBaseMs } : {}),
    ...(request.signal ? { signal: request.signal } : {}),
  };
}
