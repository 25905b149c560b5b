import fs, { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { systemErrorCode } from '../core/errors.js';
import { runExec, type ExecTarget } from '../hosts/exec.js';
import { listTree, type TreeEntry } from '../hosts/find.js';

/**
 * Ownership and modes for a cPanel account on the target (cpanel-layout.md §5), as a plan first (pure: one decision
 * per listed entry, only where something must change), then applied.
 *
 * Safety: a symlink is never followed. Its own owner is set with lchown (locally) or `chown -h` (over ssh) and its
 * mode is never touched (chmod would follow it). Files are chmod'ed through a descriptor opened with O_NOFOLLOW, so a
 * file swapped for a link between plan and apply is refused, not followed. A file with more hard links than names
 * inside the tree has a name elsewhere (a planted hard link to /etc/shadow): it is left alone and reported. Entries
 * that are neither files, directories nor links (FIFOs, devices) are left alone.
 *
 * Limit: Node has no openat(); a parent directory swapped for a symlink between listing and apply by a process
 * racing us would be followed. Run chown on a target nobody else is writing to (as a migration target is).
 */

export type OwnershipArea = 'mail' | 'etc' | 'home-item' | 'system-etc' | 'plain';

export interface OwnerIds {
  readonly uid: number;
  readonly gid: number;
  /** The `mail` group: cPanel gives it to ~/etc, passwd/quota, maildirsize and /etc/v* files. */
  readonly mailGid: number;
}

export interface OwnershipAction {
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink';
  readonly uid: number;
  readonly gid: number;
  /** Undefined: leave the mode as it is. */
  readonly mode?: number;
  readonly from: { readonly uid: number; readonly gid: number; readonly mode: number };
}

export interface OwnershipSkip {
  readonly path: string;
  readonly reason: string;
}

const dovecotControl = /^(dovecot-uidlist|dovecot-keywords|dovecot-uidvalidity.*|dovecot\.index.*|dovecot\.list\.index.*|dovecot\.mailbox\.log|subscriptions|\.cppop\.cache.*)$/;

/** What an entry should look like; undefined owner fields never happen, mode undefined = keep. */
export function decideOwnership(entry: Pick<TreeEntry, 'type' | 'path' | 'gid'>, area: OwnershipArea, ids: OwnerIds): { uid: number; gid: number; mode?: number } | undefined {
  if (entry.type === 'other') return undefined;
  const name = path.posix.basename(entry.path);
  // "USER or mail" (mailperm): an existing mail group is kept, anything else becomes the user's group.
  const userOrMail = entry.gid === ids.mailGid ? ids.mailGid : ids.gid;
  switch (area) {
    case 'mail':
      if (entry.type === 'symlink') return { uid: ids.uid, gid: ids.gid };
      if (entry.type === 'dir') return { uid: ids.uid, gid: userOrMail, mode: 0o751 };
      if (name === 'maildirsize') return { uid: ids.uid, gid: ids.mailGid, mode: 0o600 };
      if (dovecotControl.test(name)) return { uid: ids.uid, gid: userOrMail };
      return { uid: ids.uid, gid: userOrMail, mode: 0o640 };
    case 'etc': {
      if (entry.type === 'symlink') return { uid: ids.uid, gid: ids.gid };
      // Paths are relative to ~/etc: '' is ~/etc itself, "DOMAIN" its domain directories.
      const depth = entry.path === '' ? 0 : entry.path.split('/').length;
      // ~/etc and ~/etc/DOMAIN: USER:mail 0750.
      if (entry.type === 'dir' && depth <= 1) return { uid: ids.uid, gid: ids.mailGid, mode: 0o750 };
      if (entry.type === 'file' && depth === 2 && /^(passwd|quota)(,v)?$/.test(name)) return { uid: ids.uid, gid: ids.mailGid, mode: 0o640 };
      // Current cPanel leaves shadow USER:USER 0640 (cpanel-layout.md §5 note).
      if (entry.type === 'file' && depth === 2 && /^shadow(,v)?$/.test(name)) return { uid: ids.uid, gid: ids.gid, mode: 0o640 };
      return { uid: ids.uid, gid: ids.gid };
    }
    case 'system-etc':
      if (entry.type !== 'file') return undefined;
      return { uid: ids.uid, gid: ids.mailGid, mode: 0o640 };
    case 'home-item':
    case 'plain':
      return { uid: ids.uid, gid: entry.type === 'symlink' ? ids.gid : userOrMail };
  }
}

/** The action for one entry, or undefined when it already has the right owner and mode. */
export function planOwnershipEntry(entry: TreeEntry, absPath: string, area: OwnershipArea, ids: OwnerIds): OwnershipAction | undefined {
  const want = decideOwnership(entry, area, ids);
  if (!want || entry.type === 'other') return undefined;
  const modeChanges = want.mode !== undefined && (entry.mode & 0o7777) !== want.mode;
  if (entry.uid === want.uid && entry.gid === want.gid && !modeChanges) return undefined;
  return {
    path: absPath,
    type: entry.type,
    uid: want.uid,
    gid: want.gid,
    ...(modeChanges ? { mode: want.mode } : {}),
    from: { uid: entry.uid, gid: entry.gid, mode: entry.mode & 0o7777 },
  };
}

export function formatOwnershipAction(action: OwnershipAction): string {
  const mode = action.mode !== undefined ? ` mode ${action.from.mode.toString(8).padStart(4, '0')} -> ${action.mode.toString(8).padStart(4, '0')}` : '';
  return `${action.type} ${action.from.uid}:${action.from.gid} -> ${action.uid}:${action.gid}${mode} ${JSON.stringify(action.path)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Listing + applying

export interface OwnershipTree {
  /** Absolute path on the target. */
  readonly root: string;
  readonly area: OwnershipArea;
  /** Also decide for the root itself (its listing entry comes from the parent). */
  readonly rootEntry?: TreeEntry;
  /** Only the root itself, nothing below (a single file like /etc/valiases/DOMAIN). */
  readonly rootOnly?: boolean;
}

export interface OwnershipResult {
  readonly planned: number;
  readonly applied: number;
  readonly skipped: OwnershipSkip[];
  readonly failed: OwnershipSkip[];
  readonly checked: number;
}

export interface RunOwnershipOptions {
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  /** Each planned action, as it is decided (the --dry-run listing). */
  readonly onAction?: (action: OwnershipAction) => void;
}

/**
 * Streams each tree's listing through planOwnershipEntry and applies the actions in batches. Memory stays flat
 * except for multiply-linked files, which are held until the whole tree is listed (to count their names).
 */
export async function runOwnership(target: ExecTarget, trees: readonly OwnershipTree[], ids: OwnerIds, options: RunOwnershipOptions = {}): Promise<OwnershipResult> {
  const applier = target.ssh ? createRemoteApplier(target) : createLocalApplier();
  const skipped: OwnershipSkip[] = [];
  let planned = 0;
  let checked = 0;
  // Synchronous on purpose: while we apply, find's output waits in the pipe, so memory does not grow with the tree.
  const handle = (action: OwnershipAction | undefined) => {
    if (!action) return;
    planned += 1;
    options.onAction?.(action);
    if (!options.dryRun) applier.add(action);
  };
  for (const tree of trees) {
    if (tree.rootEntry) {
      checked += 1;
      if (tree.rootEntry.type === 'other') skipped.push({ path: tree.root, reason: 'not a file, directory or link' });
      else handle(planOwnershipEntry({ ...tree.rootEntry, path: tree.rootOnly ? path.posix.basename(tree.root) : '' }, tree.root, tree.area, ids));
    }
    if (tree.rootOnly) continue;
    if (tree.rootEntry && tree.rootEntry.type !== 'dir') continue;
    const multiLinked = new Map<string, { entries: TreeEntry[]; nlink: number }>();
    const listed = await listTree(target, tree.root, (entry) => {
      checked += 1;
      if (entry.type === 'other') {
        skipped.push({ path: path.posix.join(tree.root, entry.path), reason: 'not a file, directory or link (left alone)' });
        return;
      }
      if (entry.type === 'file' && entry.nlink > 1) {
        const key = `${entry.device}:${entry.inode}`;
        const group = multiLinked.get(key) ?? { entries: [], nlink: entry.nlink };
        group.entries.push(entry);
        multiLinked.set(key, group);
        return;
      }
      handle(planOwnershipEntry(entry, path.posix.join(tree.root, entry.path), tree.area, ids));
    }, options.signal ? { signal: options.signal } : {});
    if (!listed.exists) continue;
    for (const group of multiLinked.values()) {
      if (group.entries.length < group.nlink) {
        for (const entry of group.entries) {
          skipped.push({ path: path.posix.join(tree.root, entry.path), reason: `hard-linked from outside this tree (${group.nlink} links, ${group.entries.length} here): left alone` });
        }
        continue;
      }
      for (const entry of group.entries) handle(planOwnershipEntry(entry, path.posix.join(tree.root, entry.path), tree.area, ids));
    }
  }
  const { applied, failed } = options.dryRun ? { applied: 0, failed: [] } : await applier.finish();
  return { planned, applied, skipped, failed, checked };
}

interface Applier {
  add(action: OwnershipAction): void;
  finish(): Promise<{ applied: number; failed: OwnershipSkip[] }>;
}

function createLocalApplier(): Applier {
  let applied = 0;
  const failed: OwnershipSkip[] = [];
  return {
    add(action) {
      try {
        applyLocal(action);
        applied += 1;
      } catch (err) {
        failed.push({ path: action.path, reason: systemErrorCode(err) ?? (err as Error).message });
      }
    },
    async finish() {
      return { applied, failed };
    },
  };
}

function applyLocal(action: OwnershipAction): void {
  if (action.type === 'symlink') {
    fs.lchownSync(action.path, action.uid, action.gid);
    return;
  }
  // O_NOFOLLOW: if the name became a symlink since it was listed, open fails with ELOOP and nothing changes.
  const flags = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK | (action.type === 'dir' ? fsConstants.O_DIRECTORY : 0);
  const fd = fs.openSync(action.path, flags);
  try {
    const stats = fs.fstatSync(fd);
    if ((action.type === 'dir') !== stats.isDirectory() || (action.type === 'file' && !stats.isFile())) {
      throw new Error('changed type since it was listed');
    }
    fs.fchownSync(fd, action.uid, action.gid);
    if (action.mode !== undefined) fs.fchmodSync(fd, action.mode);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Over ssh: batches of NUL-separated paths into `xargs -0 chown -h UID:GID --` and `xargs -0 chmod MODE --` (GNU
 * coreutils, nothing to install). chown -h never follows links; chmod is only given files and directories.
 */
function createRemoteApplier(target: ExecTarget): Applier {
  const batches = new Map<string, string[]>();
  let applied = 0;
  const failed: OwnershipSkip[] = [];
  const flush = async (key: string) => {
    const paths = batches.get(key);
    if (!paths || paths.length === 0) return;
    batches.delete(key);
    const [kind, value] = key.split(' ') as [string, string];
    const argv = kind === 'chown' ? ['xargs', '-0', '-r', 'chown', '-h', value, '--'] : ['xargs', '-0', '-r', 'chmod', value, '--'];
    const result = await runExec(target, argv, { input: Buffer.from(paths.map((p) => `${p}\u0000`).join(''), 'utf8') });
    if (result.exitCode !== 0) {
      failed.push({ path: `${paths.length} path(s) for ${kind} ${value}`, reason: result.stderr.trim().split('\n').slice(-3).join('; ') });
    } else if (kind === 'chown') applied += paths.length;
  };
  // Held until the listing is done (one xargs per owner and per mode); memory grows with the paths that need a change.
  const add = (key: string, p: string) => {
    const list = batches.get(key) ?? [];
    list.push(p);
    batches.set(key, list);
  };
  return {
    add(action) {
      if (!action.path.startsWith('/')) throw new Error(`not an absolute path: ${action.path}`);
      add(`chown ${action.uid}:${action.gid}`, action.path);
      if (action.mode !== undefined && action.type !== 'symlink') add(`chmod ${action.mode.toString(8).padStart(4, '0')}`, action.path);
    },
    async finish() {
      // Owners first, then modes: a mode change must never make a file unreadable to the step after it.
      for (const key of [...batches.keys()].filter((k) => k.startsWith('chown'))) await flush(key);
      for (const key of [...batches.keys()]) await flush(key);
      return { applied, failed };
    },
  };
}
