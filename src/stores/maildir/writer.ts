import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { formatSubscriptionsV2, parseSubscriptions } from '../../../converters/folders/subscriptions.js';
import { mailboxPathToMaildirpp, maildirppToMailboxPath } from '../../../converters/folders/maildirpp.js';
import type { MailboxPath, SystemFlag } from '../../core/types.js';
import { flushFilesystem } from '../../transport/flush.js';
import { WriteQueue } from './write-queue.js';
import { MessageDraft } from './draft.js';
import { MaildirFolder } from './folder.js';
import { ensureRealDirectory, readOptional, removeStaleControlFileTmps, removeStaleTmpFiles, resolveExisting, tmpPrefix, writeAtomically } from './files.js';

/**
 * Writes messages into a Maildir++ tree, safely:
 * - every message is written under tmp/ and renamed into new/ or cur/ only when complete, so a crash never leaves a
 *   half message where a client would see it;
 * - base names are derived from the content by the caller (deterministic), and a message whose base name is already
 *   in new/ or cur/ (with any flags) is not placed again: a re-run or a run resumed after kill -9 adds nothing twice;
 * - nothing that exists is overwritten: dovecot-uidlist, dovecot-keywords and subscriptions are merged;
 * - no fsync per message: finishing a folder flushes the filesystem once (syncfs) before it is reported done;
 * - a directory in the target that is a symlink is refused, never written through.
 * With `dryRun` nothing is created or written; drafts only count and hash.
 *
 * The API is synchronous on purpose: the mbox framer calls back synchronously, and for many small files sync
 * syscalls are faster than round trips through libuv's thread pool.
 */

export interface UidSource {
  readonly uidValidity: number;
  /** The source's next UID (X-IMAPbase last UID + 1). */
  readonly nextUid: number;
}

export interface PlaceRequest {
  readonly base: string;
  readonly flags: ReadonlySet<SystemFlag>;
  readonly keywords: ReadonlySet<string>;
  readonly passed: boolean;
  /** new/ (never seen by a client) or cur/. */
  readonly isNew: boolean;
  readonly mtime: Date;
  readonly uid?: number;
  readonly uidSource?: UidSource;
}

export type PlaceResult =
  | { readonly status: 'written'; readonly path: string; readonly droppedKeywords: string[] }
  | { readonly status: 'exists' };

/**
 * What happened to UIDs in a folder this run: 'kept' (the source's UIDs and UIDVALIDITY were kept), 'new' (the
 * source had none; added messages got UIDs in source order), 'renumbered' (some source UIDs could not be kept, see the
 * note), 'unchanged' (nothing added).
 */
export type UidOutcome = 'kept' | 'new' | 'renumbered' | 'unchanged';

export interface FolderDone {
  readonly mailbox: MailboxPath;
  readonly directory: string;
  /** Files or bookkeeping were written to disk (what a flush has to cover; never in a dry run). */
  readonly wroteAnything: boolean;
  readonly uidValidity: number | undefined;
  readonly uids: UidOutcome;
  readonly note?: string;
}

export class MaildirTarget {
  private readonly folders = new Map<MailboxPath, MaildirFolder>();
  /** Folders whose finish (finishFolder) has started and not yet ended. */
  private readonly finishing = new Map<MailboxPath, MaildirFolder>();
  /** Directories of folders finished with `flush: 'later'`, not yet flushed. */
  private readonly unflushed = new Set<string>();
  private draftCounter = 0;
  private draftPathPrefix: string | undefined;
  /** Creates message files off the main thread; absent in a dry run. */
  private readonly queue: WriteQueue | undefined;

  private constructor(
    readonly root: string,
    readonly isDryRun: boolean,
  ) {
    this.queue = isDryRun ? undefined : new WriteQueue();
  }

  static open(root: string, options: { dryRun: boolean }): MaildirTarget {
    // The root the user named is trusted, like the source's (~/Maildir may well be a link to another disk): it is
    // resolved once. Links inside the tree are what is never written through.
    const target = new MaildirTarget(resolveExisting(path.resolve(root)), options.dryRun);
    if (!options.dryRun) {
      mkdirSync(path.dirname(target.root), { recursive: true });
      for (const sub of ['', 'cur', 'new', 'tmp']) ensureRealDirectory(path.join(target.root, sub));
      removeStaleTmpFiles(path.join(target.root, 'tmp'));
      removeStaleControlFileTmps(target.root);
    }
    return target;
  }

  /** Opens (creating when missing) a folder; cached for the life of the target. */
  folder(mailbox: MailboxPath): MaildirFolder {
    let folder = this.folders.get(mailbox);
    if (!folder) {
      // A folder still finishing is taken back as it is, not opened a second time: a second instance would read
      // the uidlist before the first wrote it and hand out its UIDs again. Its pending finish then does nothing.
      folder = this.finishing.get(mailbox);
      if (folder) {
        this.finishing.delete(mailbox);
        folder.reopen();
      } else {
        folder = MaildirFolder.open(this.root, mailbox, this.isDryRun, this.queue);
      }
      this.folders.set(mailbox, folder);
    }
    return folder;
  }

  /** Waits for every queued file and stops the writer thread. Call once, after the last folder is finished. */
  async close(): Promise<void> {
    await this.queue?.close();
  }

  /**
   * Starts a message under the root's tmp/. Write its bytes, then place it into folders, then `close` it.
   * `isHashed: false` when the caller names the message from something other than its content (a source's UID):
   * then no hash is computed at all. `hashOnWriter`: the writer thread hashes the message (see MessageDraft.seal).
   */
  beginDraft(options: { isHashed?: boolean; hashOnWriter?: boolean } = {}): MessageDraft {
    this.draftCounter += 1;
    // Concatenated, not path.join'ed: this runs per message, and join's normalising was a tenth of convert's garbage.
    this.draftPathPrefix ??= `${path.join(this.root, 'tmp', tmpPrefix)}${process.pid}.`;
    const tmpPath = `${this.draftPathPrefix}${this.draftCounter}`;
    const isHashed = options.isHashed ?? true;
    return new MessageDraft(this.queue ? { queue: this.queue, tmpPath } : undefined, isHashed, isHashed && options.hashOnWriter === true && this.queue !== undefined);
  }

  /**
   * Writes a folder's bookkeeping and flushes it to disk. Other folders may be written meanwhile; undefined when the
   * folder was not open, or was taken back (folder()) before its finish was done: the later finish reports it.
   */
  async finishFolder(mailbox: MailboxPath, options: { flush?: 'now' | 'later' } = {}): Promise<FolderDone | undefined> {
    const folder = this.folders.get(mailbox);
    if (!folder) return undefined;
    this.folders.delete(mailbox);
    this.finishing.set(mailbox, folder);
    try {
      const done = await folder.finish({ flush: options.flush !== 'later' });
      if (done?.wroteAnything && options.flush === 'later') this.unflushed.add(done.directory);
      return done;
    } finally {
      if (this.finishing.get(mailbox) === folder) this.finishing.delete(mailbox);
    }
  }

  /**
   * Flushes the folders finished with `flush: 'later'`: one syncfs per filesystem instead of one per folder (a
   * process start each; for a caller that keeps no state, only what it reports has to be on disk).
   */
  async flushFinishedFolders(): Promise<void> {
    const dirByDevice = new Map<number, string>();
    for (const dir of this.unflushed) dirByDevice.set(statSync(dir).dev, dir);
    this.unflushed.clear();
    await Promise.all([...dirByDevice.values()].map((dir) => flushFilesystem(dir)));
  }

  openFolders(): MailboxPath[] {
    return [...this.folders.keys()];
  }

  /** Adds names to the root's `subscriptions` (never removes any). Returns how many were new. */
  subscribe(paths: Iterable<MailboxPath>): number {
    const file = path.join(this.root, 'subscriptions');
    const existing = readOptional(file);
    const current = new Set(parseSubscriptions(existing));
    const before = current.size;
    // Subscribe the name the server will show, which is what the folder's directory decodes to.
    for (const name of paths) if (name !== 'INBOX') current.add(maildirppToMailboxPath(mailboxPathToMaildirpp(name)));
    const added = current.size - before;
    if (added > 0 && !this.isDryRun) writeAtomically(file, formatSubscriptionsV2(current));
    return added;
  }
}
