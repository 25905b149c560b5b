import path from 'node:path';
import { checkFileName, checkFolderDirName, checkMessageAllocation, judgeUndecodableAsLetters } from '../../cpanel/unsafe.js';
import { escapeFilterLiteral, type FilterRule } from '../../transport/rsync/filters.js';
import type { TreeEntry } from '../../hosts/find.js';

/**
 * What copy and resync refuse to carry out of a maildir tree, decided by the rules discover reports as unsafe
 * (cpanel/unsafe.ts): names with control characters, Maildir++ folder names that climb or
 * hold empty levels ("..hidden"), sparse message files and messages whose huge ",S=" size their length does not
 * have. Each refused item becomes an anchored rsync exclude rule, placed before every include, and a line in the
 * report. Pure.
 */

export type RefusalKind = 'unsafe-name' | 'sparse-file' | 'size-mismatch' | 'symlink-outside-tree' | 'special-file';

export interface RefusedItem {
  /** The job (mailbox) or merged file it belongs to. */
  readonly job: string;
  /**
   * Where it is on the source (absolute path, on the remote host for an ssh source); for an account file not merged
   * because the target's copy could not be read, where that copy is on the target.
   */
  readonly path: string;
  readonly kind: RefusalKind;
  readonly reason: string;
}

export interface EntryRefusal {
  readonly kind: RefusalKind;
  readonly reason: string;
}

/**
 * One entry of a maildir tree (path relative to the maildir root: "cur/X", ".Folder", ".Folder/new/X"). Folder
 * names are read as modified UTF-7 (Dovecot's default for Maildir++; the stricter reading of the two).
 */
export function classifyMaildirEntry(entry: Pick<TreeEntry, 'path' | 'type' | 'sizeBytes' | 'allocatedBytes' | 'linkTarget'>): EntryRefusal | undefined {
  const parts = entry.path.split('/');
  // A Latin-1 folder ("caf\xe9") is carried byte for byte: only what the rest of its name does can refuse it.
  const name = judgeUndecodableAsLetters(parts[parts.length - 1]!);
  const badName = checkFileName(name);
  if (badName) return { kind: 'unsafe-name', reason: `${badName}; not copied` };
  if (parts.length === 1 && entry.type === 'dir' && name.startsWith('.')) {
    const folder = checkFolderDirName(name, false);
    if (!folder.ok && folder.unsafe) return { kind: 'unsafe-name', reason: `folder name is unsafe as a path (${folder.problem}); not copied` };
  }
  if (entry.type === 'other') return { kind: 'special-file', reason: 'a FIFO, socket or device; not copied' };
  // rsync's --safe-links drops these too; listed here so the report says so.
  if (entry.type === 'symlink' && leavesTree(entry.path, entry.linkTarget ?? '')) {
    return { kind: 'symlink-outside-tree', reason: `a symlink to ${JSON.stringify(entry.linkTarget ?? '')}, outside the copied tree; not copied, never followed` };
  }
  const parent = parts[parts.length - 2];
  const isMessage = entry.type === 'file' && (parent === 'cur' || parent === 'new') && (parts.length === 2 || (parts.length === 3 && parts[0]!.startsWith('.')));
  if (isMessage && entry.allocatedBytes !== undefined) {
    const allocation = checkMessageAllocation(name, entry.sizeBytes, entry.allocatedBytes);
    if (allocation) return { kind: allocation.kind, reason: `${allocation.detail}; not copied` };
  }
  return undefined;
}

/** Whether a link's text, read lexically from where the link is, leaves the tree (rsync's --safe-links rule). */
function leavesTree(linkPath: string, linkTarget: string): boolean {
  if (linkTarget === '' || linkTarget.startsWith('/')) return true;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), linkTarget));
  return resolved === '..' || resolved.startsWith('../');
}

/**
 * An exclude rule for exactly this path (relative to the transfer root). A name that was not valid UTF-8 reached us
 * with U+FFFD in place of its bad bytes: those stand as `*` (any bytes but '/'), the rest is matched literally.
 */
export function buildRefusalRule(relativePath: string, isDir: boolean): FilterRule {
  const parts = relativePath.split('/').map((part) => part.split(/\uFFFD+/).map(escapeFilterLiteral).join('*'));
  return { action: 'exclude', pattern: `/${parts.join('/')}${isDir ? '/' : ''}` };
}

/**
 * Streams a listing of one job's source through classifyMaildirEntry. Entries below a refused directory, below a
 * directory another job copies (`skipDirs`), or in a tmp/ (never copied) are not looked at.
 */
export function createMaildirScanner(job: { label: string; sourceRoot: string; skipDirs: readonly string[] }): {
  add(entry: TreeEntry): void;
  readonly refused: RefusedItem[];
  readonly rules: FilterRule[];
  readonly totals: { bytes: number; files: number };
} {
  const refused: RefusedItem[] = [];
  const rules: FilterRule[] = [];
  const totals = { bytes: 0, files: 0 };
  const skipped = [...job.skipDirs];
  const isSkipped = (p: string) => skipped.some((dir) => p === dir || p.startsWith(`${dir}/`));
  return {
    refused,
    rules,
    totals,
    add(entry) {
      if (isSkipped(entry.path) || /^(\.[^/]*\/)?tmp\/./.test(entry.path)) return;
      const refusal = classifyMaildirEntry(entry);
      if (refusal) {
        refused.push({ job: job.label, path: path.posix.join(job.sourceRoot, entry.path), ...refusal });
        rules.push(buildRefusalRule(entry.path, entry.type === 'dir'));
        if (entry.type === 'dir') skipped.push(entry.path);
        return;
      }
      if (entry.type === 'file') {
        totals.bytes += entry.sizeBytes;
        totals.files += 1;
      }
    },
  };
}
