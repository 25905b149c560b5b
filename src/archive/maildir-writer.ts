import { closeSync, constants as fsConstants, futimesSync, linkSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readdir, readFile, rename, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { maildirBaseName } from '../../converters/maildir/filename.js';
import { MailshiftError, systemErrorCode } from '../core/errors.js';
import { decideControlFile } from '../engine/tree/control-files.js';
import { readRegularTextFile } from '../fsops/read-regular.js';
import { nothingToFlush, type ControlFileOutcome, type FlushOutcome, type MessageOutcome, type RestoreWriter } from './restore-writer.js';
import type { EntryBody } from './tar.js';

/**
 * Writes a restore's maildir files into a local tree (a cPanel account's ~/mail, or one maildir), as the archive
 * streams past. The rules that make a re-run safe and a crash harmless:
 *
 * - A message is written under tmp/ (O_EXCL, O_NOFOLLOW), given its archived mtime (the received date), and then
 *   hard-linked into cur/ or new/ under its archived name: link() never replaces a file, so nothing on the target is
 *   ever overwritten, and a name in cur/ or new/ always holds a whole message.
 * - A message whose maildir base name (the part before ":2,") the target folder already has is not written again,
 *   whatever its flags: the base name is the message's identity, so a second run adds nothing twice.
 * - Directories are created one level at a time and never through a link, so no name can lead out of the tree.
 * - Dovecot's control files (dovecot-uidlist, dovecot-keywords, subscriptions) are staged under the folder's tmp/
 *   and settled at the end by the rules copy uses (engine/tree/control-files.ts): the target's own never lose.
 *
 * Memory: the base names of the folders written to (a name per message, no data).
 */

/** Messages up to this size are read whole and written with synchronous calls; larger ones are streamed. */
const smallMessageBytes = 4 * 1024 * 1024;

export type { ControlFileOutcome, MessageOutcome } from './restore-writer.js';

/** One folder's base names: base -> 'cur/NAME' as it is on disk. */
type FolderIndex = Map<string, string>;

export class MaildirTreeWriter implements RestoreWriter {
  private readonly verified = new Set<string>();
  private readonly indexes = new Map<string, FolderIndex>();
  private readonly staged = new Map<string, Set<string>>();
  private counter = 0;

  /** `root`: the absolute directory written into (created if missing); `rootCreate`: its levels, parents first. */
  constructor(
    readonly root: string,
    private readonly options: { readonly dryRun: boolean; readonly dirMode?: number },
  ) {}

  /** A directory under root, made (one level at a time, never through a link) unless it is known already. */
  async ensureDir(rel: string): Promise<string> {
    const abs = rel === '' ? this.root : path.join(this.root, rel);
    if (this.verified.has(abs)) return abs;
    if (rel !== '') await this.ensureDir(path.dirname(rel) === '.' ? '' : path.dirname(rel));
    else if (!this.options.dryRun) await mkdir(path.dirname(abs), { recursive: true });
    if (!this.options.dryRun) {
      try {
        await mkdir(abs, { mode: this.options.dirMode ?? 0o700 });
      } catch (err) {
        if (systemErrorCode(err) !== 'EEXIST') throw err;
        const stats = await lstat(abs);
        if (!stats.isDirectory()) {
          throw new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${abs} exists and is not a directory (${stats.isSymbolicLink() ? 'a symlink' : 'a file'}); nothing is written through it`, { scope: 'mailbox' });
        }
      }
    }
    this.verified.add(abs);
    return abs;
  }

  /** A folder's cur/, new/ and tmp/ exist, and its base names are known. */
  async openFolder(folderRel: string): Promise<FolderIndex> {
    const known = this.indexes.get(folderRel);
    if (known) return known;
    const index: FolderIndex = new Map();
    for (const sub of ['cur', 'new', 'tmp']) await this.ensureDir(path.join(folderRel, sub));
    for (const sub of ['cur', 'new']) {
      let names: string[] = [];
      try {
        names = await readdir(path.join(this.root, folderRel, sub));
      } catch (err) {
        if (systemErrorCode(err) !== 'ENOENT') throw err;
      }
      for (const name of names) index.set(maildirBaseName(name), `${sub}/${name}`);
    }
    this.indexes.set(folderRel, index);
    return index;
  }

  /** The file of this folder with the same base name as `name`, if the target has one (absolute path). */
  findMessage(folderRel: string, name: string): string | undefined {
    const found = this.indexes.get(folderRel)?.get(maildirBaseName(name));
    return found === undefined ? undefined : path.join(this.root, folderRel, found);
  }

  /** Writes one message from its archived bytes, unless the folder has its base name already. */
  async writeMessage(folderRel: string, sub: 'cur' | 'new', name: string, body: EntryBody, mtimeSec: number, sizeBytes = Number.POSITIVE_INFINITY): Promise<MessageOutcome> {
    const index = await this.openFolder(folderRel);
    const base = maildirBaseName(name);
    if (index.has(base)) return 'exists';
    if (this.options.dryRun) {
      index.set(base, `${sub}/${name}`);
      return 'written';
    }
    const tmp = this.tmpName(folderRel);
    if (sizeBytes <= smallMessageBytes) {
      // Most messages: read whole, then created with a handful of synchronous calls. The archive cannot move on
      // before this entry is consumed anyway, and six hops through libuv's thread pool per message cost more than
      // the file itself (the maildir writer does the same on its worker thread).
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      return this.placeSync(index, folderRel, sub, name, tmp, chunks, mtimeSec);
    }
    if (!(await writeNewFile(tmp, body, 0o600))) throw new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${tmp}: a file is already at this temporary name; nothing is written over it`, { scope: 'message' });
    await utimes(tmp, mtimeSec, mtimeSec);
    return this.place(index, folderRel, sub, name, tmp, 'written');
  }

  /**
   * A hard-linked copy of a message already on the target (`from`, absolute): linked where the filesystem allows,
   * else copied (with its mtime). Never an empty file.
   */
  async linkMessage(folderRel: string, sub: 'cur' | 'new', name: string, from: string, mtimeSec: number): Promise<MessageOutcome> {
    const index = await this.openFolder(folderRel);
    const base = maildirBaseName(name);
    if (index.has(base)) return 'exists';
    if (this.options.dryRun) {
      index.set(base, `${sub}/${name}`);
      return 'linked';
    }
    const final = path.join(this.root, folderRel, sub, name);
    try {
      await link(from, final);
      index.set(base, `${sub}/${name}`);
      return 'linked';
    } catch (err) {
      const code = systemErrorCode(err);
      if (code === 'EEXIST') {
        index.set(base, `${sub}/${name}`);
        return 'exists';
      }
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    }
    const tmp = this.tmpName(folderRel);
    await copyFile(from, tmp, fsConstants.COPYFILE_EXCL);
    await utimes(tmp, mtimeSec, mtimeSec);
    return this.place(index, folderRel, sub, name, tmp, 'copied');
  }

  /** writeMessage's small-message path: tmp/ (O_EXCL, O_NOFOLLOW), mtime, then link() into place. */
  private placeSync(index: FolderIndex, folderRel: string, sub: 'cur' | 'new', name: string, tmp: string, chunks: Buffer[], mtimeSec: number): MessageOutcome {
    const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
    try {
      for (const chunk of chunks) {
        let offset = 0;
        while (offset < chunk.length) offset += writeSync(fd, chunk, offset);
      }
      futimesSync(fd, mtimeSec, mtimeSec);
    } catch (err) {
      closeSync(fd);
      unlinkSync(tmp);
      throw err;
    }
    closeSync(fd);
    const final = path.join(this.root, folderRel, sub, name);
    let outcome: MessageOutcome = 'written';
    try {
      linkSync(tmp, final);
    } catch (err) {
      if (systemErrorCode(err) !== 'EEXIST') {
        unlinkSync(tmp);
        throw err;
      }
      outcome = 'exists';
    }
    unlinkSync(tmp);
    index.set(maildirBaseName(name), `${sub}/${name}`);
    return outcome;
  }

  private tmpName(folderRel: string): string {
    this.counter += 1;
    return path.join(this.root, folderRel, 'tmp', `mailshift-restore.${process.pid}.${this.counter}`);
  }

  /** tmp/ to cur/ or new/ without ever replacing a file (link, then unlink the tmp name). */
  private async place(index: FolderIndex, folderRel: string, sub: 'cur' | 'new', name: string, tmp: string, outcome: MessageOutcome): Promise<MessageOutcome> {
    const final = path.join(this.root, folderRel, sub, name);
    let placed = outcome;
    try {
      await link(tmp, final);
    } catch (err) {
      if (systemErrorCode(err) !== 'EEXIST') {
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      placed = 'exists';
    }
    await unlink(tmp);
    index.set(maildirBaseName(name), `${sub}/${name}`);
    return placed;
  }

  /** Every write here is in place as soon as it returns. */
  flush(): Promise<FlushOutcome> {
    return Promise.resolve(nothingToFlush);
  }

  /** Keeps the archive's version of a control file under the folder's tmp/, to be settled by settleControlFiles. */
  async stageControlFile(folderRel: string, name: string, body: EntryBody): Promise<void> {
    await this.openFolder(folderRel);
    let names = this.staged.get(folderRel);
    if (!names) {
      names = new Set();
      this.staged.set(folderRel, names);
    }
    names.add(name);
    if (this.options.dryRun) {
      body.resume();
      return;
    }
    const file = this.stagedPath(folderRel, name);
    await unlink(file).catch(() => undefined);
    await writeNewFile(file, body, 0o600);
  }

  private stagedPath(folderRel: string, name: string): string {
    return path.join(this.root, folderRel, 'tmp', `mailshift-restore.control.${name}`);
  }

  /**
   * The staged control files against what the target has: a file the target lacks is taken as archived; one it has
   * is decided by engine/tree/control-files.ts (a uidlist replaces the target's only when that is an older state of
   * it; keywords only when they agree; subscriptions are the union).
   */
  async settleControlFiles(): Promise<ControlFileOutcome[]> {
    const out: ControlFileOutcome[] = [];
    for (const [folderRel, names] of this.staged) {
      for (const name of names) {
        const rel = path.join(folderRel, name);
        if (this.options.dryRun) {
          out.push({ path: rel, action: 'unchanged', reason: 'dry run: would be settled' });
          continue;
        }
        const staged = this.stagedPath(folderRel, name);
        const final = path.join(this.root, rel);
        const targetText = await readRegularTextFile(final);
        if (targetText === undefined) {
          try {
            await link(staged, final);
            out.push({ path: rel, action: 'written', reason: 'the target had none' });
          } catch (err) {
            if (systemErrorCode(err) !== 'EEXIST') throw err;
            out.push({ path: rel, action: 'keep-target', reason: 'the target has one that is not a regular file; left as it is' });
          }
          await unlink(staged);
          continue;
        }
        const sourceText = await readFile(staged, 'utf8');
        const decision = decideControlFile(name, sourceText, targetText);
        if (decision.action === 'keep-target') {
          await unlink(staged);
          out.push({ path: rel, action: decision.reason === 'identical' ? 'unchanged' : 'keep-target', reason: decision.reason });
          continue;
        }
        if (decision.action === 'write') await writeFile(staged, decision.text, { mode: 0o600 });
        // A control file is replaced whole by rename (Dovecot itself replaces it so), never edited in place.
        await rename(staged, final);
        out.push({ path: rel, action: 'take-source', reason: decision.reason });
      }
    }
    this.staged.clear();
    return out;
  }

  /** A small file the target lacks, written whole (O_EXCL: an existing one is kept). False when one was there. */
  async writeIfAbsent(rel: string, body: EntryBody, mtimeSec: number, mode = 0o600): Promise<boolean> {
    const dir = path.dirname(rel);
    await this.ensureDir(dir === '.' ? '' : dir);
    const file = path.join(this.root, rel);
    if (this.options.dryRun) {
      body.resume();
      return !(await exists(file));
    }
    if (!(await writeNewFile(file, body, mode))) return false;
    await utimes(file, mtimeSec, mtimeSec);
    return true;
  }
}

/**
 * Creates `file` (O_EXCL: never over an existing name; O_NOFOLLOW: never through a link) and streams `body` into it.
 * False when the name was taken.
 */
async function writeNewFile(file: string, body: EntryBody, mode: number): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, mode);
  } catch (err) {
    if (systemErrorCode(err) === 'EEXIST') return false;
    throw err;
  }
  // The stream owns the handle from here and closes it, whether the copy ends or fails; a failed copy leaves no file.
  try {
    await pipeline(body, handle.createWriteStream());
  } catch (err) {
    await unlink(file).catch(() => undefined);
    throw err;
  }
  return true;
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}
