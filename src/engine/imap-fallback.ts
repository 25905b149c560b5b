import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { systemErrorCode } from '../core/errors.js';
import type { StoreSpec } from '../stores/spec.js';
import { runExec } from '../transport/exec.js';
import type { SshOptions } from '../transport/ssh.js';

/**
 * `--imap-fallback`: can the source be read at file level? If not, the copy goes over IMAP and the log and report
 * say why. Reasons: the path is missing or unreadable, ssh is refused, or the store is Dovecot mdbox (mail inside
 * m.* files: nothing a maildir copy could take).
 */
export type FileAccess = { readonly isReachable: true } | { readonly isReachable: false; readonly reason: string };

/** Pure: what a directory listing says about the mail store in it. Only mdbox is refused: anything else is files. */
export function classifyStoreDir(storageEntries: readonly string[] | undefined): FileAccess {
  if (storageEntries && storageEntries.some((name) => /^m\.\d+$/.test(name) || name.startsWith('dovecot.map.index'))) {
    return { isReachable: false, reason: 'it is a Dovecot mdbox store (mail inside storage/m.* files), not maildir files' };
  }
  return { isReachable: true };
}

export async function decideFileAccess(spec: StoreSpec, options: { ssh?: SshOptions; signal?: AbortSignal } = {}): Promise<FileAccess> {
  if (spec.kind === 'imap') return { isReachable: true };
  const dir = spec.kind === 'cpanel' ? spec.root : spec.path;
  if (spec.kind === 'mbox') return { isReachable: true };
  if (spec.location.type === 'local') {
    let entries: string[];
    try {
      if (!(await stat(dir)).isDirectory()) return { isReachable: true }; // a file: mbox, handled elsewhere
      entries = await readdir(dir);
    } catch (err) {
      return { isReachable: false, reason: `${dir} cannot be read (${systemErrorCode(err) ?? String(err)})` };
    }
    const storage = entries.includes('storage') ? await readdir(path.join(dir, 'storage')).catch(() => undefined) : undefined;
    return classifyStoreDir(storage);
  }
  const target = {
    ssh: { host: spec.location.host, ...(spec.location.user ? { user: spec.location.user } : {}), ...(spec.location.port ? { port: spec.location.port } : {}) },
    ...(options.ssh ? { sshOptions: options.ssh } : {}),
  };
  // One listing of the directory and of storage/ (if any); '--' so a path can never be read as an option.
  const result = await runExec(target, ['ls', '-1a', '--', dir], options.signal ? { signal: options.signal } : {});
  if (result.exitCode === 255) return { isReachable: false, reason: `no ssh access to ${spec.location.host}: ${result.stderr.trim().split('\n').at(-1) ?? 'ssh failed'}` };
  if (result.exitCode !== 0) return { isReachable: false, reason: `${dir} cannot be read on ${spec.location.host}: ${result.stderr.trim()}` };
  const entries = result.stdout.toString('utf8').split('\n').filter(Boolean);
  let storage: string[] | undefined;
  if (entries.includes('storage')) {
    const listed = await runExec(target, ['ls', '-1a', '--', path.posix.join(dir, 'storage')], options.signal ? { signal: options.signal } : {});
    storage = listed.exitCode === 0 ? listed.stdout.toString('utf8').split('\n').filter(Boolean) : undefined;
  }
  return classifyStoreDir(storage);
}
