import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { MailshiftError, systemErrorCode, throwIfAborted } from '../../../core/errors.js';
import { ExitCode } from '../../../core/exit-codes.js';
import { findMailboxDirs, isDomainDirName } from '../../../cpanel/layout.js';
import { ListTreeError, type FindOptions, type TreeEntry, type TreeEntryType } from '../../../hosts/find.js';
import type { FileSide } from '../../../hosts/side.js';
import type { FolderListing, MessageFile, TreeListing } from './plan.js';

/**
 * Lists the Maildir++ folders of a tree by file NAME only, which is all resync needs: locally readdir with d_type
 * (no stat per message), over ssh one `find -printf` (nothing to install remotely). Symlinks are never followed: a
 * symlinked folder or cur/ is reported as blocked, a symlink inside cur/ is not a message.
 *
 * Tree layouts:
 * - 'maildir': the root is a Maildir++ mailbox (INBOX at the root, folders as `.A.B` siblings);
 * - 'cpanel-mail': the root is a cPanel account's ~/mail: the default mailbox at the root, plus one mailbox per
 *   DOMAIN/LOCAL directory (cPanel's own rule, cpanel/layout.ts findMailboxDirs), each a Maildir++ mailbox.
 */

export type TreeLayout = 'maildir' | 'cpanel-mail';

export interface ListScope {
  /** Folder dirs (relative to the root) to list; all folders when absent. */
  readonly folders?: ReadonlySet<string>;
  readonly signal?: AbortSignal;
}

/**
 * mtime of every new/ and cur/ directory (key: its path relative to the root, e.g. '.Sent/new'), taken BEFORE its
 * names were read. Any delivery, flag rename or expunge changes the directory's mtime, so comparing stamps tells
 * whether the source changed since it was listed without listing 100,000 names again.
 */
export type TreeStamps = ReadonlyMap<string, number>;

export interface TreeListingResult extends TreeListing {
  readonly exists: boolean;
  readonly stamps: TreeStamps;
  /** Mailbox roots found ('' and, for cPanel, DOMAIN/LOCAL dirs). */
  readonly mailboxRoots: readonly string[];
  /** find's complaints about unreadable parts (remote) or unreadable directories (local). */
  readonly errors: readonly string[];
}

interface MutableFolder {
  dir: string;
  subdirs: Set<'cur' | 'new' | 'tmp'>;
  messages: MessageFile[];
  hasKeywordsFile: boolean;
  hasMaildirfolderFile: boolean;
  isFolderDir: boolean;
}

/** Builds a listing from (type, path) entries relative to the tree root: the remote path, and unit tests. */
export function classifyTreeEntries(
  entries: Iterable<Pick<TreeEntry, 'type' | 'path'>>,
  mailboxRoots: readonly string[],
  scope: Pick<ListScope, 'folders'> = {},
): TreeListing {
  const roots = new Set(mailboxRoots.filter((r) => r !== ''));
  const folders = new Map<string, MutableFolder>();
  const blocked = new Map<string, string>();
  let ignoredEntries = 0;
  const folderOf = (dir: string): MutableFolder => {
    let folder = folders.get(dir);
    if (!folder) folders.set(dir, (folder = { dir, subdirs: new Set(), messages: [], hasKeywordsFile: false, hasMaildirfolderFile: false, isFolderDir: dir === '' }));
    return folder;
  };
  for (const entry of entries) {
    const parts = entry.path.split('/');
    let root = '';
    let rest = parts;
    if (parts.length >= 2 && roots.has(`${parts[0]}/${parts[1]}`)) {
      root = `${parts[0]}/${parts[1]}`;
      rest = parts.slice(2);
      if (rest.length === 0) {
        // The mailbox directory itself.
        if (entry.type === 'dir') folderOf(root).isFolderDir = true;
        else blocked.set(root, `${entry.type} instead of a mailbox directory; not followed`);
        continue;
      }
    }
    const join = (name: string) => (root === '' ? name : `${root}/${name}`);
    let dir: string;
    let tail: string[];
    if (rest[0]!.startsWith('.') && rest[0] !== '.' && rest[0] !== '..') {
      dir = join(rest[0]!);
      tail = rest.slice(1);
      // Names come through as UTF-8 strings: bytes that are not UTF-8 (a Latin-1 folder name) arrive as U+FFFD and
      // would name a directory that does not exist. Listed, never written under a made-up name.
      if (rest[0]!.includes('\ufffd')) {
        blocked.set(dir, 'its name is not valid UTF-8, which resync cannot carry; `mailshift copy` copies it byte for byte');
        continue;
      }
      if (tail.length === 0) {
        if (entry.type === 'dir') folderOf(dir).isFolderDir = true;
        else if (entry.type === 'symlink') blocked.set(dir, 'a symlink (not followed)');
        continue;
      }
    } else {
      dir = root;
      tail = rest;
    }
    if (scope.folders && !scope.folders.has(dir)) continue;
    const [first, second] = tail;
    if (tail.length === 1) {
      if (first === 'cur' || first === 'new' || first === 'tmp') {
        if (entry.type === 'dir') folderOf(dir).subdirs.add(first);
        else blocked.set(dir, `${first}/ is a ${entry.type}, not a directory (not followed)`);
      } else if (first === 'dovecot-keywords' && entry.type === 'file') folderOf(dir).hasKeywordsFile = true;
      else if (first === 'maildirfolder' && entry.type === 'file') folderOf(dir).hasMaildirfolderFile = true;
      continue;
    }
    if (tail.length === 2 && (first === 'cur' || first === 'new')) {
      if (entry.type === 'file' && !second!.startsWith('.')) folderOf(dir).messages.push({ sub: first, name: second! });
      else if (entry.type !== 'dir' || !second!.startsWith('.')) ignoredEntries += 1;
    }
  }
  return finish(folders, blocked, ignoredEntries);
}

function finish(folders: Map<string, MutableFolder>, blocked: Map<string, string>, ignoredEntries: number): TreeListing {
  const out = new Map<string, FolderListing>();
  for (const [dir, folder] of folders) {
    // A mailbox root counts as a folder only when it is a maildir (cur/ or new/); a `.X` directory always does
    // (Dovecot shows it), and its missing subdirectories are created.
    const isMaildir = folder.subdirs.has('cur') || folder.subdirs.has('new');
    if (!isMaildir && !(folder.isFolderDir && dir !== '' && path.posix.basename(dir).startsWith('.'))) continue;
    if (blocked.has(dir)) continue;
    out.set(dir, {
      dir,
      subdirs: folder.subdirs,
      messages: folder.messages,
      hasKeywordsFile: folder.hasKeywordsFile,
      hasMaildirfolderFile: folder.hasMaildirfolderFile,
    });
  }
  return { folders: out, blocked, ignoredEntries };
}

/** Lists a tree here (readdir) or over ssh (find). */
export async function listMaildirTree(side: FileSide, root: string, layout: TreeLayout, scope: ListScope = {}): Promise<TreeListingResult> {
  return side.ssh ? listRemote(side, root, layout, scope) : listLocal(root, layout, scope);
}

async function listRemote(side: FileSide, root: string, layout: TreeLayout, scope: ListScope): Promise<TreeListingResult> {
  if (scope.folders) return listRemoteScoped(side, root, layout, scope.folders, scope);
  const entries: Pick<TreeEntry, 'type' | 'path'>[] = [];
  const stamps = new Map<string, number>();
  const result = await findEntries(side, root, entries, '', {
    // root/.F/cur/msg is depth 3; a cPanel mailbox adds DOMAIN/LOCAL.
    maxDepth: layout === 'cpanel-mail' ? 5 : 3,
    ...(scope.signal ? { signal: scope.signal } : {}),
  }, stamps);
  if (!result.exists) return { exists: false, folders: new Map(), blocked: new Map(), ignoredEntries: 0, mailboxRoots: [], errors: [], stamps: new Map() };
  const mailboxRoots = layout === 'cpanel-mail' ? ['', ...findMailboxDirs(entries.filter((e) => e.path.split('/').length <= 3) as TreeEntry[])] : [''];
  const listing = classifyTreeEntries(entries, mailboxRoots, scope);
  return { ...listing, exists: true, mailboxRoots, errors: result.errors ? result.errors.split('\n').slice(0, 20) : [], stamps: keepScoped(stamps, scope) };
}

/**
 * A few folders over ssh (watch mode): the directories down to the folders (to see links on the way), then each
 * folder's own files. Two short finds instead of a listing of every folder of the tree.
 */
async function listRemoteScoped(side: FileSide, root: string, layout: TreeLayout, folders: ReadonlySet<string>, scope: ListScope): Promise<TreeListingResult> {
  const entries: Pick<TreeEntry, 'type' | 'path'>[] = [];
  const stamps = new Map<string, number>();
  const depth = Math.max(1, ...[...folders].map((dir) => (dir === '' ? 1 : dir.split('/').length + 1)));
  const signal = scope.signal ? { signal: scope.signal } : {};
  const top = await findEntries(side, root, entries, '', { maxDepth: depth, dirsAndLinksOnly: true, ...signal }, stamps);
  if (!top.exists) return { exists: false, folders: new Map(), blocked: new Map(), ignoredEntries: 0, mailboxRoots: [], errors: [], stamps: new Map() };
  const types = new Map(entries.map((e) => [e.path, e.type]));
  const errors: string[] = top.errors ? [top.errors] : [];
  for (const dir of folders) {
    // Only descend into a folder that is a real directory all the way down (find would not follow a link anyway).
    const parts = dir === '' ? [] : dir.split('/');
    if (!parts.every((_, i) => types.get(parts.slice(0, i + 1).join('/')) === 'dir')) continue;
    const listed = await findEntries(side, dir === '' ? root : path.posix.join(root, dir), entries, dir, { maxDepth: 2, ...signal }, stamps);
    if (listed.errors) errors.push(listed.errors);
  }
  const mailboxRoots = [''];
  if (layout === 'cpanel-mail') {
    for (const dir of folders) {
      const parts = dir.split('/');
      if (parts.length >= 2 && !parts[0]!.startsWith('.')) mailboxRoots.push(`${parts[0]}/${parts[1]}`);
    }
  }
  const listing = classifyTreeEntries(entries, [...new Set(mailboxRoots)], scope);
  return { ...listing, exists: true, mailboxRoots: [...new Set(mailboxRoots)], errors, stamps: keepScoped(stamps, scope) };
}

/** Stamps of the folders in scope only (a scoped find also prints other folders' directories on its way). */
function keepScoped(stamps: Map<string, number>, scope: ListScope): Map<string, number> {
  if (!scope.folders) return stamps;
  const out = new Map<string, number>();
  for (const [key, value] of stamps) if (scope.folders.has(folderOfStamp(key))) out.set(key, value);
  return out;
}

function folderOfStamp(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
}

/**
 * Folders whose new/ or cur/ changed between two stamp readings (mtime differs, or the directory appeared or went).
 * Pure.
 */
export function decideChangedFolders(before: TreeStamps, after: TreeStamps): Set<string> {
  const changed = new Set<string>();
  for (const [key, value] of after) if (before.get(key) !== value) changed.add(folderOfStamp(key));
  for (const key of before.keys()) if (!after.has(key)) changed.add(folderOfStamp(key));
  return changed;
}

/**
 * Reads the stamps again, without reading any message names: locally a readdir of the few directories above the
 * messages and one lstat per new/ and cur/; over ssh one find of directories only.
 */
export async function readTreeStamps(side: FileSide, root: string, layout: TreeLayout, scope: ListScope = {}): Promise<TreeStamps> {
  if (side.ssh) {
    const stamps = new Map<string, number>();
    await findEntries(side, root, [], '', { maxDepth: layout === 'cpanel-mail' ? 4 : 2, dirsAndLinksOnly: true, ...(scope.signal ? { signal: scope.signal } : {}) }, stamps);
    return keepScoped(stamps, scope);
  }
  return (await listLocal(root, layout, scope, { stampsOnly: true })).stamps;
}

async function findEntries(
  side: FileSide,
  dir: string,
  into: Pick<TreeEntry, 'type' | 'path'>[],
  prefix: string,
  options: FindOptions & { signal?: AbortSignal },
  stamps?: Map<string, number>,
): Promise<{ exists: boolean; errors: string }> {
  try {
    return await side.list(
      dir,
      (e) => {
        const p = prefix === '' ? e.path : `${prefix}/${e.path}`;
        into.push({ type: e.type, path: p });
        // find prints a directory (with its lstat) before it reads it: the stamp predates the names.
        if (stamps && e.type === 'dir' && /(^|\/)(cur|new)$/.test(p)) stamps.set(p, e.mtimeMs);
      },
      options,
    );
  } catch (err) {
    if (err instanceof ListTreeError) {
      throw new MailshiftError('MAILSHIFT_SSH_FAILED', err.message, {
        retry: 'later',
        hint: 'check the host, port and key (--ssh-key), and that the server is reachable',
        cause: err,
      });
    }
    throw err;
  }
}

async function listLocal(root: string, layout: TreeLayout, scope: ListScope, options: { stampsOnly?: boolean } = {}): Promise<TreeListingResult> {
  const errors: string[] = [];
  const stamps = new Map<string, number>();
  const top = await readdirTyped(root, errors);
  if (top === undefined) return { exists: false, folders: new Map(), blocked: new Map(), ignoredEntries: 0, mailboxRoots: [], errors: [], stamps: new Map() };
  // Directories and control files are collected as (type, path) entries and classified by the same code as the
  // remote listing (one set of rules); message names go straight into their folder (100,000 of them: no per-name
  // path strings or objects beyond the one the listing keeps).
  const entries: Pick<TreeEntry, 'type' | 'path'>[] = [];
  const messagesByFolder = new Map<string, MessageFile[]>();
  let ignoredEntries = 0;
  const mailboxRoots = [''];
  const scanMailbox = async (rel: string, dirents: Dirent[]): Promise<void> => {
    const prefix = rel === '' ? '' : `${rel}/`;
    const folderDirs: string[] = [];
    for (const d of dirents) {
      const type = direntType(d);
      entries.push({ type, path: `${prefix}${d.name}` });
      if (type === 'dir' && d.name.startsWith('.') && d.name !== '.' && d.name !== '..') folderDirs.push(d.name);
    }
    const scan = async (folderRel: string, folderDirents: Dirent[] | undefined) => {
      if (scope.folders && !scope.folders.has(folderRel)) return;
      for (const sub of ['cur', 'new'] as const) {
        const subDirent = folderDirents?.find((d) => d.name === sub);
        if (!subDirent || !subDirent.isDirectory()) continue;
        throwIfAborted(scope.signal);
        const subRel = folderRel === '' ? sub : `${folderRel}/${sub}`;
        const stamp = await lstatMtimeMs(path.join(root, subRel));
        if (stamp !== undefined) stamps.set(subRel, stamp);
        if (options.stampsOnly) continue;
        const names = await readdirTyped(path.join(root, folderRel, sub), errors);
        let messages = messagesByFolder.get(folderRel);
        if (!messages) messagesByFolder.set(folderRel, (messages = []));
        for (const d of names ?? []) {
          if (d.isFile() && !d.name.startsWith('.')) messages.push({ sub, name: d.name });
          else if (!(d.isDirectory() && d.name.startsWith('.'))) ignoredEntries += 1;
        }
      }
    };
    await scan(rel, dirents);
    for (const name of folderDirs) {
      const folderRel = `${prefix}${name}`;
      if (scope.folders && !scope.folders.has(folderRel)) {
        continue;
      }
      const inner = await readdirTyped(path.join(root, folderRel), errors);
      for (const d of inner ?? []) entries.push({ type: direntType(d), path: `${folderRel}/${d.name}` });
      await scan(folderRel, inner);
    }
  };
  if (layout === 'cpanel-mail') {
    // DOMAIN/LOCAL mailboxes: read two levels of real directories (never through links).
    const shallow: Pick<TreeEntry, 'type' | 'path'>[] = [];
    for (const d of top) {
      if (!d.isDirectory() || !isDomainDirName(d.name)) continue;
      shallow.push({ type: 'dir', path: d.name });
      for (const l of (await readdirTyped(path.join(root, d.name), errors)) ?? []) {
        shallow.push({ type: direntType(l), path: `${d.name}/${l.name}` });
        if (l.isDirectory()) {
          const cur = ((await readdirTyped(path.join(root, d.name, l.name), errors)) ?? []).find((x) => x.name === 'cur');
          if (cur) shallow.push({ type: direntType(cur), path: `${d.name}/${l.name}/cur` });
        }
      }
    }
    mailboxRoots.push(...findMailboxDirs(shallow as TreeEntry[]));
  }
  await scanMailbox('', top);
  for (const mailboxRoot of mailboxRoots.slice(1)) {
    entries.push({ type: 'dir', path: mailboxRoot });
    await scanMailbox(mailboxRoot, (await readdirTyped(path.join(root, mailboxRoot), errors)) ?? []);
  }
  const listing = classifyTreeEntries(entries, mailboxRoots, scope);
  const folders = new Map<string, FolderListing>();
  for (const [dir, folder] of listing.folders) folders.set(dir, { ...folder, messages: messagesByFolder.get(dir) ?? [] });
  return { folders, blocked: listing.blocked, ignoredEntries: listing.ignoredEntries + ignoredEntries, exists: true, mailboxRoots, errors, stamps };
}

async function lstatMtimeMs(p: string): Promise<number | undefined> {
  try {
    const stats = await lstat(p);
    return stats.isDirectory() ? stats.mtimeMs : undefined;
  } catch {
    return undefined;
  }
}

function direntType(d: Dirent): TreeEntryType {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'symlink';
  return 'other';
}

/** readdir with types; undefined when the directory does not exist, an error line when it cannot be read. */
async function readdirTyped(dir: string, errors: string[]): Promise<Dirent[] | undefined> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = systemErrorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'EACCES' || code === 'EPERM') {
      errors.push(`${dir}: ${code}`);
      return undefined;
    }
    throw new MailshiftError('MAILSHIFT_LIST_FAILED', `cannot read ${dir}: ${code ?? String(err)}`, { exitCode: ExitCode.failed, cause: err });
  }
}
