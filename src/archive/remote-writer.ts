import path from 'node:path';
import { maildirBaseName } from '../../converters/maildir/filename.js';
import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { decideControlFile } from '../engine/tree/control-files.js';
import type { TreeEntryType } from '../hosts/find.js';
import type { FileSide } from '../hosts/side.js';
import type { RemoteStage } from './remote-stage.js';
import type { ControlFileOutcome, FlushOutcome, MessageOutcome, RestoreWriter } from './restore-writer.js';
import { nothingToFlush } from './restore-writer.js';
import type { EntryBody } from './tar.js';

/**
 * A restore's writes into a tree on an ssh host, with the same rules as MaildirTreeWriter (restore-writer.ts), through
 * a RemoteStage (one remote tar per batch, then rename without clobbering). What the target has is read once, at the
 * start, by one streamed `find -P` (readRemoteTree): which names are directories, links or files, and every folder's
 * maildir base names. A run is alone on its target's new names (the staging names are random, the final names are
 * placed with `mv -n`), so the picture taken at the start only needs to be right about what existed before.
 */

/** Relative path -> type, folder -> (base name -> 'cur/NAME'), and staging directories earlier runs left behind. */
export interface RemoteTree {
  readonly types: Map<string, TreeEntryType>;
  readonly folders: Map<string, Map<string, string>>;
  readonly leftovers: string[];
}

/** A staging directory of a restore over ssh (remote-stage.ts buildStagingDir), relative to the tree. Pure. */
export function isStagingLeftover(rel: string): boolean {
  return /^(?:.*\/)?tmp\/mailshift-restore\.[0-9a-f]+$/.test(rel);
}

/**
 * Reads what is under `root` (nothing followed). `subtrees`: only these relative paths (and `root`'s own entries one
 * level down), for a home directory whose web files the restore never touches.
 */
export async function readRemoteTree(side: FileSide, root: string, options: { readonly subtrees?: readonly string[]; readonly signal?: AbortSignal } = {}): Promise<RemoteTree> {
  const tree: RemoteTree = { types: new Map(), folders: new Map(), leftovers: [] };
  const add = (prefix: string) => (entry: { type: TreeEntryType; path: string }) => {
    const rel = prefix === '' ? entry.path : `${prefix}/${entry.path}`;
    tree.types.set(rel, entry.type);
    if (entry.type === 'dir' && isStagingLeftover(rel)) tree.leftovers.push(rel);
    const placed = parseMessagePath(rel);
    if (placed && entry.type === 'file') {
      let index = tree.folders.get(placed.folderRel);
      if (!index) {
        index = new Map();
        tree.folders.set(placed.folderRel, index);
      }
      index.set(maildirBaseName(placed.name), `${placed.sub}/${placed.name}`);
    }
  };
  const signal = options.signal ? { signal: options.signal } : {};
  if (options.subtrees === undefined) {
    await side.list(root, add(''), signal);
    return tree;
  }
  await side.list(root, add(''), { maxDepth: 1, ...signal });
  for (const sub of options.subtrees) {
    const first = sub.split('/')[0]!;
    if (tree.types.get(first) !== 'dir') continue;
    await side.list(path.posix.join(root, first), add(first), signal);
  }
  return tree;
}

/** `FOLDER/cur/NAME` or `FOLDER/new/NAME` (FOLDER may be ''), else undefined. Pure. */
export function parseMessagePath(rel: string): { folderRel: string; sub: 'cur' | 'new'; name: string } | undefined {
  const parts = rel.split('/');
  if (parts.length < 2) return undefined;
  const sub = parts[parts.length - 2];
  if (sub !== 'cur' && sub !== 'new') return undefined;
  return { folderRel: parts.slice(0, -2).join('/'), sub, name: parts[parts.length - 1]! };
}

/** Control files above 16 MiB are not what Dovecot writes; they are refused, as restore.ts refuses account files. */
const maxControlBytes = 16 * 1024 * 1024;

export class RemoteTreeWriter implements RestoreWriter {
  private readonly verified = new Set<string>();
  private readonly opened = new Set<string>();
  private readonly staged: { folderRel: string; name: string; path: string }[] = [];

  constructor(
    readonly root: string,
    private readonly side: FileSide,
    private readonly stage: RemoteStage | undefined,
    private readonly tree: RemoteTree,
  ) {}

  /** A directory under root, to be made at the next settle unless the target has it; never through a link. */
  async ensureDir(relAsGiven: string): Promise<string> {
    const rel = normalFolder(relAsGiven);
    const abs = rel === '' ? this.root : path.posix.join(this.root, rel);
    if (this.verified.has(abs)) return abs;
    if (rel !== '') {
      const parent = path.posix.dirname(rel);
      await this.ensureDir(parent === '.' ? '' : parent);
      const type = this.tree.types.get(rel);
      if (type !== undefined && type !== 'dir') {
        throw new MailshiftError('MAILSHIFT_TARGET_NOT_DIR', `${this.side.describe(abs)} exists and is not a directory (${type === 'symlink' ? 'a symlink' : 'a file'}); nothing is written through it`, { scope: 'mailbox' });
      }
      if (type === 'dir') this.stage?.knowDir(abs);
      else this.stage?.needDir(abs);
    } else this.stage?.knowDir(abs); // made (never through a link) before the restore began
    this.verified.add(abs);
    return abs;
  }

  async openFolder(folderRelAsGiven: string): Promise<Map<string, string>> {
    const folderRel = normalFolder(folderRelAsGiven);
    let index = this.tree.folders.get(folderRel);
    if (!index) {
      index = new Map();
      this.tree.folders.set(folderRel, index);
    }
    if (!this.opened.has(folderRel)) {
      for (const sub of ['cur', 'new', 'tmp']) await this.ensureDir(path.posix.join(folderRel, sub));
      this.opened.add(folderRel);
    }
    return index;
  }

  findMessage(folderRel: string, name: string): string | undefined {
    const found = this.tree.folders.get(normalFolder(folderRel))?.get(maildirBaseName(name));
    return found === undefined ? undefined : path.posix.join(this.root, folderRel, found);
  }

  async writeMessage(folderRel: string, sub: 'cur' | 'new', name: string, body: EntryBody, mtimeSec: number, sizeBytes = Number.POSITIVE_INFINITY): Promise<MessageOutcome> {
    const index = await this.openFolder(folderRel);
    const base = maildirBaseName(name);
    if (index.has(base)) return 'exists';
    index.set(base, `${sub}/${name}`);
    if (!this.stage) return 'written';
    const to = path.posix.join(this.root, folderRel, sub, name);
    if (Number.isFinite(sizeBytes)) await this.stage.addFile(to, body, sizeBytes, mtimeSec, 0o600);
    else {
      const bytes = await readWhole(body, Number.POSITIVE_INFINITY, to);
      await this.stage.addFile(to, [bytes], bytes.length, mtimeSec, 0o600);
    }
    await this.stage.settleIfFull();
    return 'written';
  }

  /** A hard link in the staging stream when its first copy is in the open batch, else an `ln` at the next settle. */
  async linkMessage(folderRel: string, sub: 'cur' | 'new', name: string, from: string, mtimeSec: number): Promise<MessageOutcome> {
    const index = await this.openFolder(folderRel);
    const base = maildirBaseName(name);
    if (index.has(base)) return 'exists';
    index.set(base, `${sub}/${name}`);
    if (!this.stage) return 'linked';
    const to = path.posix.join(this.root, folderRel, sub, name);
    const staged = this.stage.stagedNameOf(from);
    if (staged !== undefined) await this.stage.addLink(to, staged, mtimeSec);
    else this.stage.linkPlaced(from, to);
    await this.stage.settleIfFull();
    return 'linked';
  }

  async stageControlFile(folderRel: string, name: string, body: EntryBody): Promise<void> {
    await this.openFolder(folderRel);
    if (!this.stage) {
      body.resume();
      this.staged.push({ folderRel, name, path: '' });
      return;
    }
    const bytes = await readWhole(body, maxControlBytes, path.posix.join(folderRel, name));
    const staged = await this.stage.addFile(undefined, [bytes], bytes.length, Date.now() / 1000, 0o600);
    this.staged.push({ folderRel, name, path: staged });
  }

  async writeIfAbsent(rel: string, body: EntryBody, mtimeSec: number, mode = 0o600): Promise<boolean> {
    const dir = path.posix.dirname(rel);
    await this.ensureDir(dir === '.' ? '' : dir);
    if (this.tree.types.has(rel)) {
      body.resume();
      return false;
    }
    this.tree.types.set(rel, 'file');
    if (!this.stage) {
      body.resume();
      return true;
    }
    const bytes = await readWhole(body, maxControlBytes, rel);
    await this.stage.addFile(path.posix.join(this.root, rel), [bytes], bytes.length, mtimeSec, mode);
    return true;
  }

  flush(): Promise<FlushOutcome> {
    return this.stage ? this.stage.flush() : Promise.resolve(nothingToFlush);
  }

  /**
   * As MaildirTreeWriter.settleControlFiles: one the target lacks is placed without clobbering; one it has is decided
   * by engine/tree/control-files.ts, both versions read in one round trip (never through a link, at most 1 MiB each:
   * a larger one is kept as the target has it, and said so). Called after `flush`, which placed the staged files.
   */
  async settleControlFiles(): Promise<ControlFileOutcome[]> {
    const out: ControlFileOutcome[] = [];
    const staged = this.staged.splice(0);
    if (!this.stage) return staged.map((s) => ({ path: path.posix.join(s.folderRel, s.name), action: 'unchanged', reason: 'dry run: would be settled' }));
    const absent: { from: string; to: string; rel: string }[] = [];
    const compare: { staged: string; final: string; rel: string; name: string }[] = [];
    for (const s of staged) {
      const rel = path.posix.join(s.folderRel, s.name);
      const final = path.posix.join(this.root, rel);
      const type = this.tree.types.get(rel);
      if (type === undefined) absent.push({ from: s.path, to: final, rel });
      else if (type !== 'file') out.push({ path: rel, action: 'keep-target', reason: 'the target has one that is not a regular file; left as it is' });
      else compare.push({ staged: s.path, final, rel, name: s.name });
    }
    const renamed = new Set((await this.side.renameNoClobber(absent)).map((p) => p.rel));
    for (const a of absent) {
      out.push(renamed.has(a.rel) ? { path: a.rel, action: 'written', reason: 'the target had none' } : { path: a.rel, action: 'keep-target', reason: 'the target had one by the time it was placed; left as it is' });
    }
    const texts = await this.side.readSmallFiles(compare.flatMap((c) => [c.staged, c.final]), { within: this.root });
    for (const c of compare) {
      const sourceText = texts.get(c.staged);
      const targetText = texts.get(c.final);
      if (sourceText === undefined || targetText === undefined) {
        out.push({ path: c.rel, action: 'keep-target', reason: 'not compared: larger than 1 MiB, or not a regular file; the target keeps its own' });
        continue;
      }
      const decision = decideControlFile(c.name, sourceText, targetText);
      if (decision.action === 'keep-target') {
        out.push({ path: c.rel, action: decision.reason === 'identical' ? 'unchanged' : 'keep-target', reason: decision.reason });
        continue;
      }
      // Replaced whole by rename (Dovecot replaces it so), never edited in place.
      await this.side.writeAtomic(c.final, decision.action === 'write' ? decision.text : sourceText, { mode: 0o600, within: this.root });
      out.push({ path: c.rel, action: 'take-source', reason: decision.reason });
    }
    return out;
  }
}

/** The maildir's own folder is '' in the listing; path.join makes it '.'. */
function normalFolder(folderRel: string): string {
  return folderRel === '.' ? '' : folderRel;
}

/** A small entry's bytes (a control file, an extra, a message of unknown size), refused above `maxBytes`. */
async function readWhole(body: EntryBody, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += chunk.length;
    if (length > maxBytes) {
      throw new MailshiftError('MAILSHIFT_ARCHIVE_CORRUPT', `${what} is larger than ${maxBytes} bytes, which no such file is`, { hint: 'check the backup; it is not a cPanel backup as mailshift knows it', exitCode: ExitCode.failed });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
