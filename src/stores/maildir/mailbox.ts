import { isUtf8 } from 'node:buffer';
import { hash as cryptoHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { lstat, open, readdir, readFile } from 'node:fs/promises';
import path, { sep } from 'node:path';
import type { Readable } from 'node:stream';
import { formatRawName } from '../../../converters/folders/maildirpp.js';
import { buildConvertedBaseName, convertedNameHash, decodeInfo, maildirBaseName, parseMaildirName, passedKeyword, readConvertedNameHash, resolveKeywords } from '../../../converters/maildir/filename.js';
import { parseDovecotKeywords } from '../../../converters/maildir/keywords.js';
import { parseUidlist } from '../../../converters/maildir/uidlist.js';
import { MailshiftError, systemErrorCode, throwIfAborted } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { IncomingMessage, MailboxPath, MessageRef } from '../../core/types.js';
import type { FlagUpdate, FlagUpdateMode, FlagUpdateOutcome, ListedMessage, Mailbox, MailboxStatus } from '../store.js';
import type { MaildirFolder } from './folder.js';
import { MaildirTarget } from './writer.js';

/** One folder of a local maildir as a Mailbox: listed by name and lstat, read on request, written through MaildirTarget. */
export class MaildirMailbox implements Mailbox {
  /** `DIR/`: a written file's id is its path after it (path.relative per message was a tenth of a copy's garbage). */
  private readonly dirPrefix: string;

  constructor(
    readonly path: MailboxPath,
    /** A Buffer when the folder's name on disk is not UTF-8 (only read, never written to). */
    private readonly dir: string | Buffer,
    private readonly target: MaildirTarget | undefined,
    private readonly folder: MaildirFolder | undefined,
  ) {
    this.dirPrefix = typeof dir === 'string' ? dir + sep : '\u0000';
  }

  /** A path inside the folder, of the same kind as the folder's own (bytes for a name that is not UTF-8). */
  private at(...parts: string[]): string | Buffer {
    return typeof this.dir === 'string' ? path.join(this.dir, ...parts) : Buffer.concat([this.dir, Buffer.from(`${sep}${parts.join(sep)}`)]);
  }

  /**
   * Messages whose file name is not UTF-8 (written by an old tool in Latin-1): their id shows the name with \\xNN
   * escapes, and this map holds the real path in bytes, so they are served like any other message, never dropped.
   */
  private readonly byteNamedFiles = new Map<string, Buffer>();

  /** The path of a message file named in bytes. */
  private atBytes(sub: 'new' | 'cur', raw: Buffer): Buffer {
    return Buffer.concat([typeof this.dir === 'string' ? Buffer.from(this.dir) : this.dir, Buffer.from(`${sep}${sub}${sep}`), raw]);
  }

  private get shownDir(): string {
    return typeof this.dir === 'string' ? this.dir : formatRawName(this.dir);
  }

  /** A message's id: its path inside the folder (`cur/NAME`). */
  private idOf(file: string): string {
    return file.startsWith(this.dirPrefix) ? file.slice(this.dirPrefix.length) : path.relative(this.shownDir, file);
  }

  async status(): Promise<MailboxStatus> {
    const text = await readOptional(this.at('dovecot-uidlist'));
    if (!text.trim()) return {};
    try {
      const list = parseUidlist(text);
      return { uidValidity: list.uidValidity, uidNext: list.nextUid };
    } catch {
      return {};
    }
  }

  async *list(signal?: AbortSignal): AsyncIterable<ListedMessage> {
    const keywordTable = parseDovecotKeywords(await readOptional(this.at('dovecot-keywords')));
    const uids = new Map<string, number>();
    const uidlistText = await readOptional(this.at('dovecot-uidlist'));
    if (uidlistText.trim()) {
      try {
        for (const record of parseUidlist(uidlistText).records) uids.set(parseMaildirName(record.fileName).base, record.uid);
      } catch {
        // An unreadable uidlist only costs us UIDs, not messages.
      }
    }
    for (const sub of ['new', 'cur'] as const) {
      let rawNames: Buffer[];
      try {
        rawNames = await readdir(this.at(sub), { encoding: 'buffer' });
      } catch (err) {
        if (systemErrorCode(err) === 'ENOENT') continue;
        throw unreadableError(this.at(sub), err);
      }
      // Names as bytes: one that is not UTF-8 would come back from a 'utf8' readdir with U+FFFD, name no file, and
      // its message would be passed over as "expunged while we listed".
      const names = rawNames.map((raw) => (isUtf8(raw) ? { name: raw.toString('utf8'), raw: undefined } : { name: formatRawName(raw), raw }));
      names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const utf8Names = new Set(names.filter((each) => !each.raw).map((each) => each.name));
      for (const { name, raw } of names) {
        throwIfAborted(signal);
        if (name.startsWith('.')) continue;
        if (raw && utf8Names.has(name)) {
          // Its shown name ("caf\xe9") is the real name of another file here: it cannot be served under it, so it is
          // listed as a problem (skipped, with the reason), never taken for the other file nor dropped.
          yield {
            id: `${sub}/${name} (bytes)`,
            key: name,
            flags: new Set(),
            keywords: new Set(),
            problem: new MailshiftError('MAILSHIFT_MAILDIR_NAME_CLASH', `${this.shownDir}${sep}${sub}${sep}${name}: its file name is not UTF-8 and reads as the name of another file here; not copied`, {
              scope: 'message',
              hint: 'rename the file (its bytes are the problem), then run again',
            }),
          };
          continue;
        }
        let file: string | Buffer;
        if (raw) {
          const bytes = this.atBytes(sub, raw);
          this.byteNamedFiles.set(`${sub}/${name}`, bytes);
          file = bytes;
        } else {
          file = this.at(sub, name);
        }
        let stat;
        try {
          stat = await lstat(file);
        } catch (err) {
          if (systemErrorCode(err) === 'ENOENT') continue; // renamed or expunged while we listed: a live maildir
          throw err;
        }
        if (!stat.isFile()) continue; // never follow a symlink planted among messages
        const parsed = parseMaildirName(name);
        const info = decodeInfo(sub === 'cur' ? parsed.info : undefined);
        const keywords = resolveKeywords(info, keywordTable);
        const uid = uids.get(parsed.base);
        const writtenFrom = readConvertedNameHash(name);
        yield {
          id: `${sub}/${name}`,
          key: parsed.base,
          flags: info.flags,
          keywords,
          internalDate: stat.mtime,
          sizeBytes: stat.size,
          ...(uid !== undefined ? { uid } : {}),
          ...(writtenFrom !== undefined ? { writtenFrom } : {}),
        };
      }
    }
  }

  async read(ref: MessageRef): Promise<Readable> {
    // A message listed as a problem cannot be served: reading it says why (the store contract).
    const { problem } = ref as ListedMessage;
    if (problem) throw problem;
    const relative = ref.id;
    if (!/^(new|cur)\/[^/]+$/.test(relative)) throw new MailshiftError('MAILSHIFT_BAD_REF', `not a message of this maildir: ${relative}`);
    let file = this.byteNamedFiles.get(relative) ?? this.at(relative);
    try {
      const handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      return handle.createReadStream();
    } catch (err) {
      if (systemErrorCode(err) !== 'ENOENT' || !ref.key) throw err;
    }
    // Flags changed since we listed it: the file has a new name with the same base.
    for (const sub of ['cur', 'new']) {
      for (const name of await readdir(this.at(sub), 'utf8')) {
        if (parseMaildirName(name).base === ref.key) {
          file = this.at(sub, name);
          const handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
          return handle.createReadStream();
        }
      }
    }
    throw new MailshiftError('MAILSHIFT_MESSAGE_GONE', `${path.join(this.shownDir, relative)} was expunged while we worked`, { scope: 'message', retry: 'now' });
  }

  async append(message: IncomingMessage): Promise<MessageRef> {
    return this.appendNow(message);
  }

  /** A batch in one call: each message is queued for the writer at once, with no round trip through the event loop. */
  async appendMany(messages: readonly IncomingMessage[]): Promise<void> {
    for (const message of messages) this.appendNow(message);
  }

  private appendNow(message: IncomingMessage): MessageRef {
    if (!this.target || !this.folder) throw new MailshiftError('MAILSHIFT_READ_ONLY', `mailbox ${this.path} was opened for reading`);
    const internalDate = message.internalDate ?? new Date();
    const draft = this.target.beginDraft({ isHashed: message.sourceKey === undefined });
    try {
      if (message.virtualSizeBytes !== undefined) draft.writeWhole(message.content, message.virtualSizeBytes);
      else draft.write(message.content);
      const base = buildConvertedBaseName({
        receivedSecs: internalDate.getTime() / 1000,
        // Named from the source's identity when it has one.
        contentHashHex: message.sourceKey !== undefined ? hashSourceKey(message.sourceKey) : draft.contentHashHex(),
        ordinal: 0,
        sizeBytes: draft.size,
        virtualSizeBytes: draft.virtualSize,
      });
      // $Forwarded is written both ways: as the maildir P flag (mutt and Courier read it) and as a Dovecot keyword,
      // because Dovecot does not map P to $Forwarded and would otherwise lose it.
      const keywords = new Set(message.keywords);
      const passed = keywords.has(passedKeyword);
      const result = this.folder.place(
        {
          base,
          flags: message.flags,
          keywords,
          passed,
          isNew: false,
          mtime: internalDate,
          ...(message.uid !== undefined ? { uid: message.uid } : {}),
          ...(message.uidSource ? { uidSource: message.uidSource } : {}),
        },
        { draft },
      );
      const id = result.status === 'written' ? this.idOf(result.path) : `cur/${base}`;
      return { id, key: base, flags: message.flags, keywords: message.keywords, internalDate, sizeBytes: draft.size };
    } finally {
      draft.close();
    }
  }

  async checkpoint(): Promise<void> {
    await this.folder?.checkpoint();
  }

  sourceKeyFingerprint(sourceKey: string): string {
    return convertedNameHash(hashSourceKey(sourceKey));
  }

  adoptSourceUid(ref: MessageRef, source: { readonly uid: number; readonly uidSource: { readonly uidValidity: number; readonly nextUid: number } }): void {
    if (!this.folder) throw new MailshiftError('MAILSHIFT_READ_ONLY', `mailbox ${this.path} was opened for reading`);
    if (!/^(new|cur)\/[^/]+$/.test(ref.id)) throw new MailshiftError('MAILSHIFT_BAD_REF', `not a message of this maildir: ${ref.id}`);
    this.folder.adoptUid(maildirBaseName(ref.id.slice(4)), source.uid, source.uidSource);
  }

  async updateFlags(updates: readonly FlagUpdate[], mode: FlagUpdateMode, options: { dryRun?: boolean } = {}): Promise<FlagUpdateOutcome> {
    // Files appendNow named from a source identity, by the hash their name carries.
    const byIdentity = new Map<string, { sub: 'new' | 'cur'; name: string }>();
    for (const sub of ['new', 'cur'] as const) {
      for (const name of await readdirOptional(this.at(sub))) {
        const hash = readConvertedNameHash(name);
        if (hash) byIdentity.set(hash, { sub, name });
      }
    }
    const table = this.folder?.keywordTable() ?? parseDovecotKeywords(await readOptional(this.at('dovecot-keywords')));
    const outcome = { differences: 0, applied: 0, notFound: 0, changedMeanwhile: 0 };
    for (const update of updates) {
      const found = byIdentity.get(convertedNameHash(hashSourceKey(update.sourceKey)));
      if (!found) {
        outcome.notFound += 1;
        continue;
      }
      const info = decodeInfo(found.sub === 'cur' ? parseMaildirName(found.name).info : undefined);
      const flags = new Set(info.flags);
      const keywords = resolveKeywords(info, table);
      const wantedFlags = mode === 'source' ? new Set(update.flags) : new Set([...flags, ...update.flags]);
      const wantedKeywords = mode === 'source' ? new Set(update.keywords) : new Set([...keywords, ...update.keywords]);
      if (isSameSet(flags, wantedFlags) && isSameSet(keywords, wantedKeywords)) continue;
      outcome.differences += 1;
      if (options.dryRun || !this.folder) continue;
      const result = this.folder.renameForFlags(found.sub, found.name, wantedFlags, wantedKeywords);
      if (result === 'renamed') outcome.applied += 1;
      else if (result === 'gone' || result === 'exists') outcome.changedMeanwhile += 1;
      // The difference was only in what a maildir name cannot carry (a keyword past the 26 letters, or one no
      // maildir keyword can be): nothing to change, and not counted, or every run would report it again.
      else outcome.differences -= 1;
    }
    return outcome;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.target && this.folder) await this.target.finishFolder(this.path);
  }
}

/**
 * What a message named from its source's identity is named by (hashing a few bytes, not the message). Exported for
 * the streamed export (archive/export-layout.ts), which names a message in the archive as this store would.
 */
export function hashSourceKey(sourceKey: string): string {
  return cryptoHash('sha256', sourceKey, 'hex');
}

function isSameSet<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean {
  if (a.size !== b.size) return false;
  for (const item of a) if (!b.has(item)) return false;
  return true;
}

async function readdirOptional(dir: string | Buffer): Promise<string[]> {
  try {
    return await readdir(dir, 'utf8');
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/** A folder that is there but cannot be read is an error, never "no folder": its mail would go unnoticed. */

export async function isMaildirDir(dir: string | Buffer): Promise<boolean> {
  try {
    const stat = await lstat(dir);
    if (!stat.isDirectory()) return false;
    const cur = await lstat(typeof dir === 'string' ? path.join(dir, 'cur') : Buffer.concat([dir, Buffer.from(`${sep}cur`)]));
    return cur.isDirectory();
  } catch (err) {
    if (isPermissionError(err)) throw unreadableError(dir, err);
    return false;
  }
}

async function readOptional(file: string | Buffer): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return '';
    if (isPermissionError(err)) throw unreadableError(file, err);
    throw err;
  }
}

function isPermissionError(err: unknown): boolean {
  const code = systemErrorCode(err);
  return code === 'EACCES' || code === 'EPERM';
}

function unreadableError(file: string | Buffer, err: unknown): MailshiftError {
  const code = systemErrorCode(err);
  // A path held as bytes (a folder name that is not UTF-8) is shown decoded, for the message only.
  const shown = typeof file === 'string' ? file : file.toString('utf8');
  return new MailshiftError('MAILSHIFT_FOLDER_UNREADABLE', `cannot read ${shown}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? String(err))}`, {
    scope: 'mailbox',
    hint: 'run mailshift as root or as the mailbox owner, or make the folder readable (chmod u+rx), then run again',
    exitCode: ExitCode.config,
    cause: err,
  });
}
