import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError, systemErrorCode } from '../core/errors.js';
import { classifyMailDirEntries, type MailDirEntry } from '../stores/probe.js';
import { formatLocation, formatSpec, type StoreSpec } from '../stores/spec.js';
import type { ExecTarget } from '../hosts/exec.js';
import { listTree, ListTreeError } from '../hosts/find.js';
import type { SshOptions } from '../transport/ssh.js';
import { resolveMailboxEnd as resolveCpanelMailboxSide } from './tree/resolve-copy.js';

/**
 * Can the source be read at file level (`--imap-fallback`, and the dbox refusal without it)? If not, the copy goes
 * over IMAP, and the log and the report say why. Not reachable: the path is missing or unreadable, ssh is refused, or the store is Dovecot dbox
 * (mdbox keeps the mail of every folder inside storage/m.* files, sdbox one dbox file per message): nothing a
 * maildir copy could take. Either way the decision carries its reason, so "no fallback" is explained as well.
 */
export type FileAccess =
  | { readonly isReachable: true; readonly reason: string }
  | { readonly isReachable: false; readonly reason: string; readonly cause: UnreachableCause };

/** 'dbox': the files are there but hold no maildir (the one cause a file-level copy would not even notice). */
export type UnreachableCause = 'missing' | 'unreadable' | 'no-ssh' | 'dbox';

/** What the probe saw: paths relative to the store directory ('/'-separated), as find or readdir report them. */
export type StoreDirEntry = MailDirEntry;

/**
 * Pure: whether a store directory (its listing, as classifyMailDirEntries reads it) can be copied at file level. `where`
 * names the directory in the reason ("/srv/mail/alice", "/srv/mail on host").
 */
export function classifyStoreDir(entries: readonly StoreDirEntry[], where: string): FileAccess {
  const found = classifyMailDirEntries(entries);
  switch (found.format) {
    case 'maildir':
      return { isReachable: true, reason: `${where} is a maildir: copied at file level` };
    case 'mdbox':
    case 'sdbox':
      return { isReachable: false, cause: 'dbox', reason: `${where} is ${found.description}, not maildir files` };
    case 'mbox':
    case 'unknown':
      return { isReachable: true, reason: `${where} holds no Dovecot dbox store: copied at file level` };
  }
}

export interface FileAccessOptions {
  readonly ssh?: SshOptions;
  readonly signal?: AbortSignal;
}

/**
 * Looks at the source where it lives (here, or over ssh with find: nothing to install) and decides. Reads at most
 * three small listings: the directory itself, then storage/ and mailboxes/ only when they are there and the top is
 * not a maildir, so a maildir with 100,000 messages in cur/ costs one short listing. Throws only for errors that
 * have nothing to do with access (a cPanel domain no account owns: the same error the copy itself would give).
 */
export async function readFileAccess(spec: StoreSpec, options: FileAccessOptions = {}): Promise<FileAccess> {
  if (spec.kind === 'imap') return { isReachable: true, reason: `${formatSpec(spec)} is IMAP` };
  const location = spec.location;
  const exec: ExecTarget =
    location.type === 'ssh'
      ? {
          ssh: { host: location.host, ...(location.user ? { user: location.user } : {}), ...(location.port ? { port: location.port } : {}) },
          ...(options.ssh ? { sshOptions: options.ssh } : {}),
        }
      : {};
  const on = location.type === 'ssh' ? ` on ${location.host}` : '';
  try {
    let dir: string;
    if (spec.kind === 'cpanel' && spec.mailbox) {
      // The mailbox's own directory (ROOT/home/OWNER/mail/DOMAIN/LOCAL): that is where mdbox would be.
      dir = (await resolveCpanelMailboxSide(spec, options.ssh ? { ssh: options.ssh } : {}, 'source')).path;
    } else {
      // A whole cPanel account: only whether its root can be reached (its mailboxes are copied at file level).
      dir = spec.kind === 'cpanel' ? spec.root : spec.path;
    }
    if (location.type === 'local') {
      try {
        if (!(await stat(dir)).isDirectory()) return { isReachable: true, reason: `${dir} is a file (mbox): read at file level` };
        // The named directory may be a link (~/Maildir -> /data/alice): look at what it points to, as rsync will.
        dir = await realpath(dir);
      } catch (err) {
        const code = systemErrorCode(err);
        return { isReachable: false, cause: code === 'ENOENT' ? 'missing' : 'unreadable', reason: `${dir} cannot be read (${code ?? String(err)})` };
      }
    }
    const entries = await listStoreDir(exec, dir, options.signal);
    if (entries === 'missing') return { isReachable: false, cause: 'missing', reason: `${dir} does not exist${on}` };
    if (!Array.isArray(entries)) return { isReachable: false, cause: 'unreadable', reason: `${dir} cannot be read${on}: ${entries.unreadable}` };
    if (spec.kind === 'cpanel' && !spec.mailbox) return { isReachable: true, reason: `the cPanel root ${dir}${on} is readable: copied at file level` };
    return classifyStoreDir(entries, `${dir}${on}`);
  } catch (err) {
    if (err instanceof MailshiftError && err.code === 'MAILSHIFT_SSH_FAILED' && location.type === 'ssh') {
      return { isReachable: false, cause: 'no-ssh', reason: `no ssh access to ${formatLocation(location)}: ${err.message.replace(/^ssh to \S+ failed: /, '')}` };
    }
    if (err instanceof ListTreeError) return { isReachable: false, cause: 'unreadable', reason: `${err.message}${on}` };
    throw err;
  }
}

type Listing = StoreDirEntry[] | 'missing' | { unreadable: string };

async function listStoreDir(exec: ExecTarget, dir: string, signal: AbortSignal | undefined): Promise<Listing> {
  const entries: StoreDirEntry[] = [];
  const top = await listTree(exec, dir, (e) => entries.push({ path: e.path, type: e.type }), { maxDepth: 1, ...(signal ? { signal } : {}) });
  if (!top.exists) return 'missing';
  if (top.errors) return { unreadable: top.errors.split('\n').at(-1) ?? top.errors };
  const isDir = (name: string) => entries.some((e) => e.path === name && e.type === 'dir');
  if (isDir('cur') || isDir('new')) return entries;
  // Second look only where dbox would keep its files; unreadable parts just leave the answer to what was seen.
  if (isDir('storage')) {
    await listTree(exec, path.posix.join(dir, 'storage'), (e) => entries.push({ path: `storage/${e.path}`, type: e.type }), { maxDepth: 1, ...(signal ? { signal } : {}) });
  }
  if (isDir('mailboxes')) {
    await listTree(exec, path.posix.join(dir, 'mailboxes'), (e) => entries.push({ path: `mailboxes/${e.path}`, type: e.type }), {
      maxDepth: 2,
      dirsAndLinksOnly: true,
      ...(signal ? { signal } : {}),
    });
  }
  return entries;
}
