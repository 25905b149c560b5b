import { closeSync, constants as fsConstants, lstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { formatDovecotKeywords, parseDovecotKeywords, type KeywordTable } from '../../../../converters/maildir/keywords.js';
import { sleep } from '../../../core/async.js';
import { systemErrorCode } from '../../../core/errors.js';
import { isProcessAlive } from '../../../core/process-alive.js';
import { readSmallFiles, writeSmallFile, type Owner, type ResyncSide, type SideOptions } from './ends.js';
import { infoOf } from './flag-letters.js';
import type { TreeListingResult } from './list.js';
import type { ResyncTree } from './options.js';
import type { KeywordTables, TreeListing } from './plan.js';

/**
 * Dovecot's per-folder keyword tables (dovecot-keywords: letter a-z -> keyword name), which resync needs to translate
 * the keyword letters in file names between folders and servers. Read in step 1, only for folders whose names use a
 * keyword letter; written in step 3, when a folder's table gained a letter, before any file uses it.
 */

function hasKeywordLetters(name: string): boolean {
  const info = infoOf(name);
  return info !== undefined && /[a-z]/.test(info.split(',')[0] ?? '');
}

/** Folders whose file names use keyword letters on either side: only their dovecot-keywords are read. */
export function foldersNeedingKeywords(source: TreeListing, target: TreeListing): Set<string> {
  const dirs = new Set<string>();
  for (const listing of [source, target]) {
    for (const [dir, folder] of listing.folders) {
      if (folder.hasKeywordsFile && folder.messages.some((m) => hasKeywordLetters(m.name))) dirs.add(dir);
    }
  }
  return dirs;
}

function keywordsFileOf(dir: string): string {
  return dir === '' ? 'dovecot-keywords' : `${dir}/dovecot-keywords`;
}

export async function readKeywordTables(tree: ResyncTree, source: TreeListingResult, target: TreeListingResult, options: SideOptions): Promise<KeywordTables> {
  const needed = foldersNeedingKeywords(source, target);
  const [sourceTables, targetTables] = await Promise.all([readKeywordFiles(tree.source, source, needed, options), readKeywordFiles(tree.target, target, needed, options)]);
  // A folder new on the target receives the source's dovecot-keywords with its messages: same letters, no renames.
  for (const [dir, table] of sourceTables) if (!target.folders.has(dir)) targetTables.set(dir, table);
  return { source: sourceTables, target: targetTables };
}

async function readKeywordFiles(side: ResyncSide, listing: TreeListing, needed: ReadonlySet<string>, options: SideOptions): Promise<Map<string, KeywordTable>> {
  const tables = new Map<string, KeywordTable>();
  const wanted = [...needed].filter((dir) => listing.folders.get(dir)?.hasKeywordsFile);
  if (wanted.length === 0) return tables;
  const texts = await readSmallFiles(side, wanted.map(keywordsFileOf), options);
  for (const dir of wanted) {
    const text = texts.get(keywordsFileOf(dir));
    if (text !== undefined) tables.set(dir, parseDovecotKeywords(text));
  }
  return tables;
}

/**
 * Writes a folder's dovecot-keywords on the target. Locally under Dovecot's own lock (dovecot-uidlist.lock, created
 * exclusively) and only if the file still says what we planned with; remotely without the lock (a limit: run resync
 * while Dovecot is quiet on that folder). Returns false when it was not written.
 */
export async function writeKeywordTable(side: ResyncSide, dir: string, plannedFrom: KeywordTable, table: KeywordTable, owner: Owner, options: SideOptions): Promise<boolean> {
  const rel = keywordsFileOf(dir);
  const text = formatDovecotKeywords(table);
  const sameAsPlanned = (current: string | undefined) => formatDovecotKeywords(parseDovecotKeywords(current ?? '')) === formatDovecotKeywords(plannedFrom);
  if (side.host.ssh) return writeSmallFile(side, rel, text, owner);
  const lock = path.posix.join(side.root, dir, 'dovecot-uidlist.lock');
  const deadline = Date.now() + 5000;
  // The lock says who holds it, as Dovecot's own dotlocks do ("PID:HOST"): a lock a killed run left is seen to be stale.
  while (!(await side.host.createExclusive(lock, 0o600, `${process.pid}:${hostname()}`))) {
    if (removeStaleDotlock(lock)) continue;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  try {
    const current = (await readSmallFiles(side, [rel], options)).get(rel);
    if (!sameAsPlanned(current)) return false;
    return await writeSmallFile(side, rel, text, owner);
  } finally {
    await side.host.removeFiles([lock]);
  }
}

/** Dovecot's stale timeout for dovecot-uidlist.lock (MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT, 2 minutes). */
const dotlockStaleMs = 2 * 60 * 1000;

/**
 * Whether a dotlock was left behind, by Dovecot's rules (file-dotlock.c): it names a process of this host that is
 * gone, or it has not changed for longer than the stale timeout. Pure: `content` is the lock's text ("PID:HOST", or
 * empty from an older mailshift), `mtimeMs` its last change.
 */
export function isStaleDotlock(content: string, mtimeMs: number, nowMs: number, thisHost: string, isAlive: (pid: number) => boolean): boolean {
  if (nowMs - mtimeMs > dotlockStaleMs) return true;
  const match = /^(\d+):(.*)$/.exec(content.trim());
  if (!match || match[2] !== thisHost) return false;
  const pid = Number(match[1]);
  return pid > 0 && pid !== process.pid && !isAlive(pid);
}

/**
 * Removes a dotlock left behind (isStaleDotlock); true when the lock is gone, so taking it may be tried again at once.
 * A resync killed while it held a folder's lock left it for good, and every later run gave up on that folder's
 * keywords and exited 5 ("run resync again") for ever. Local only, as the lock is taken only locally.
 */
function removeStaleDotlock(lock: string): boolean {
  let content = '';
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(lock);
    // Read only a regular file, never through a link (a planted one could point at a FIFO and hang the run); anything
    // else at the name is judged by its age alone.
    if (stat.isFile()) {
      const fd = openSync(lock, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
      try {
        const buffer = Buffer.alloc(256);
        content = buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0));
      } finally {
        closeSync(fd);
      }
    }
  } catch (err) {
    return systemErrorCode(err) === 'ENOENT'; // released meanwhile; anything else: wait, as for a live lock
  }
  if (!isStaleDotlock(content, stat.mtimeMs, Date.now(), hostname(), isProcessAlive)) return false;
  try {
    // Not if another process took the lock meanwhile (a new file where the stale one was).
    if (lstatSync(lock).ino !== stat.ino) return true;
    unlinkSync(lock);
  } catch {
    // gone already
  }
  return true;
}
