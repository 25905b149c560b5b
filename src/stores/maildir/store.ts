import { isUtf8 } from 'node:buffer';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { FolderNameError, formatRawName, mailboxPathToMaildirpp, readMaildirppDirName } from '../../../converters/folders/maildirpp.js';
import { Mutf7Error } from '../../../converters/folders/mutf7.js';
import { MailshiftError, systemErrorCode, throwIfAborted } from '../../core/errors.js';
import type { MailboxPath } from '../../core/types.js';
import { guessSpecialUse } from '../special-use.js';
import type { Mailbox, MailboxInfo, MailStore, StoreCaps } from '../store.js';
import { MaildirTarget } from './writer.js';
import { isMaildirDir, MaildirMailbox } from './mailbox.js';

/**
 * A local Maildir++ tree as a MailStore (INBOX at the root, folders as `.A.B` siblings, mUTF-7 names).
 *
 * Listing reads names and one lstat per message (size from `,S=` when present, INTERNALDATE from the mtime);
 * bodies are opened only on `read`. Symlinked folders (cPanel's `.user@domain_tld` links to other mailboxes) are not
 * folders of this mailbox and are never followed. Appends go through MaildirTarget: tmp/ then rename, content-derived
 * names, so appending the same message twice leaves one file.
 */
export class MaildirStore implements MailStore {
  readonly kind = 'maildir' as const;
  readonly caps: StoreCaps;
  private target: MaildirTarget | undefined;
  /**
   * Folders on disk that `listMailboxes` cannot offer (a name that is no folder, two directories read as one name),
   * each with its reason: the caller lists them as skipped, never drops them silently. Refilled by each listing.
   */
  readonly skippedFolders: { directory: string; reason: string }[] = [];
  /** The directory of each listed folder: what `openMailbox` reads (a name read leniently has another Maildir++ form). */
  private readonly listedDirs = new Map<MailboxPath, string | Buffer>();

  constructor(
    readonly root: string,
    private readonly options: { writable?: boolean } = {},
  ) {
    this.caps = { files: { location: 'local', layout: 'maildir++' }, readable: true, writable: Boolean(options.writable), crlf: false, sizeComparable: false, parallelAppend: false, newMailSignal: false, flagsBySourceKey: true };
  }

  async *listMailboxes(signal?: AbortSignal): AsyncIterable<MailboxInfo> {
    this.skippedFolders.length = 0;
    this.listedDirs.clear();
    const hasInbox = await isMaildirDir(this.root);
    // Names as bytes: a name that is not UTF-8 (Latin-1 from an old server) read as a string would become U+FFFD
    // and name a directory that does not exist.
    let entries;
    try {
      entries = await readdir(this.root, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      throw new MailshiftError('MAILSHIFT_MAILDIR_MISSING', `cannot read maildir ${this.root}: ${systemErrorCode(err) ?? String(err)}`, { cause: err });
    }
    const candidates: { dir: string | Buffer; shown: string; path: MailboxPath; notes: string[] }[] = [];
    for (const entry of entries) {
      throwIfAborted(signal);
      const raw = entry.name;
      if (raw[0] !== 0x2e || raw.length === 1 || (raw.length === 2 && raw[1] === 0x2e) || !entry.isDirectory()) continue;
      const isUtf8Name = isUtf8(raw);
      const dir: string | Buffer = isUtf8Name ? path.join(this.root, raw.toString('utf8')) : Buffer.concat([Buffer.from(`${this.root}/`), raw]);
      if (!(await isMaildirDir(dir))) continue;
      const shown = formatRawName(raw);
      try {
        const read = readMaildirppDirName(isUtf8Name ? raw.toString('utf8') : raw.toString('latin1'));
        candidates.push({ dir, shown, path: read.path, notes: isUtf8Name ? read.notes : ['the name is not UTF-8: read as Latin-1', ...read.notes] });
      } catch (err) {
        if (!(err instanceof FolderNameError) && !(err instanceof Mutf7Error)) throw err;
        this.skippedFolders.push({ directory: shown, reason: (err as Error).message });
      }
    }
    // Two directories read as one name: the one written as Dovecot writes it keeps the name, whatever readdir's order.
    candidates.sort((a, b) => a.notes.length - b.notes.length || (a.shown < b.shown ? -1 : a.shown > b.shown ? 1 : 0));
    const folders: MailboxInfo[] = [];
    const dirOfPath = new Map<MailboxPath, string>();
    if (hasInbox) dirOfPath.set('INBOX', '(the maildir itself)');
    for (const { dir, shown, path: mailbox, notes } of candidates) {
      const clash = dirOfPath.get(mailbox);
      if (clash !== undefined) {
        this.skippedFolders.push({ directory: shown, reason: `read as the folder name "${mailbox}", which ${clash} already has; rename one of them` });
        continue;
      }
      dirOfPath.set(mailbox, shown);
      // Read from the directory listed, not from the name's Maildir++ form (".café" in raw UTF-8 is not ".caf&AOk-").
      this.listedDirs.set(mailbox, dir);
      const specialUse = guessSpecialUse(mailbox);
      folders.push({ path: mailbox, ...(specialUse ? { specialUse } : {}), ...(notes.length > 0 ? { note: `${shown}: ${notes.join('; ')}` } : {}) });
    }
    if (hasInbox) yield { path: 'INBOX' };
    folders.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    yield* folders;
  }

  async openMailbox(mailbox: MailboxPath, mode: 'read' | 'write'): Promise<Mailbox> {
    if (mode === 'write') {
      if (!this.options.writable) throw new MailshiftError('MAILSHIFT_READ_ONLY', `maildir ${this.root} was opened read-only`);
      this.target ??= MaildirTarget.open(this.root, { dryRun: false });
      const folder = this.target.folder(mailbox);
      return new MaildirMailbox(mailbox, folder.dir, this.target, folder);
    }
    const listed = this.listedDirs.get(mailbox);
    const dirName = listed === undefined ? mailboxPathToMaildirpp(mailbox) : undefined;
    const dir = listed ?? (dirName === '' ? this.root : path.join(this.root, dirName!));
    if (!(await isMaildirDir(dir))) {
      throw new MailshiftError('MAILSHIFT_MAILBOX_MISSING', `no folder ${mailbox} in ${this.root}`, { scope: 'mailbox' });
    }
    return new MaildirMailbox(mailbox, dir, undefined, undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.target) return;
    try {
      for (const mailbox of this.target.openFolders()) await this.target.finishFolder(mailbox);
    } finally {
      await this.target.close();
    }
  }
}
