import { lstatSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeInfo, formatInfo, formatMaildirName, maildirBaseName, parseMaildirName, passedKeyword } from '../../../converters/maildir/filename.js';
import { formatDovecotKeywords, isValidKeyword, KeywordAllocator, parseDovecotKeywords } from '../../../converters/maildir/keywords.js';
import { parseUidlist, type Uidlist } from '../../../converters/maildir/uidlist.js';
import { mailboxPathToMaildirpp } from '../../../converters/folders/maildirpp.js';
import { MailshiftError, systemErrorCode } from '../../core/errors.js';
import type { MailboxPath, SystemFlag } from '../../core/types.js';
import { flushFilesystem } from '../../transport/flush.js';
import { WriteQueue } from './write-queue.js';
import { MessageDraft } from './draft.js';
import { ensureRealDirectory, fileMode, readdirOptional, readOptional, removeStaleControlFileTmps, removeStaleTmpFiles, tmpPrefix, writeAtomically } from './files.js';
import { UidSet, writeUidlistStreaming } from './uidlist.js';
import type { FolderDone, PlaceRequest, PlaceResult, UidOutcome, UidSource } from './writer.js';

/** One folder of a MaildirTarget: what is on disk, the UIDs, keywords and uidlist it keeps, and its placement of drafts. */
export class MaildirFolder {
  /**
   * Base names of the messages in new/ and cur/ ("already there"), each with its UID (0 while it has none).
   * Per-message state is the largest thing a conversion keeps, so it is one Map entry and one string per message.
   */
  private readonly onDisk = new Map<string, number>();
  /** Base names the existing uidlist lists although no file has them (expunged): they keep their UID. */
  private readonly listedOnly = new Map<string, number>();
  private readonly usedUids = new UidSet();
  /** Records added this run, as parallel arrays (a record object each would cost more than the message's base). */
  private readonly addedBases: string[] = [];
  private readonly addedUids: number[] = [];
  private readonly keywords: KeywordAllocator;
  private readonly existing: Uidlist | undefined;
  private uidValidity: number | undefined;
  private nextUid = 1;
  /** UIDs at or above this may come from the source; below it, the folder may already have been served to clients. */
  private readonly sourceUidFloor: number;
  /** The highest UID the uidlist on disk holds (0 without one): see sourceUidFloorFor. */
  private readonly highestListedUid: number;
  private readonly uidCounts = { kept: 0, new: 0, renumbered: 0 };
  private uidNote: string | undefined;
  private wroteAnything = false;
  /** Records (of addedBases) already in dovecot-uidlist by a checkpoint. */
  private recordedUpTo = 0;
  private linkCounter = 0;
  /** Counts reopen(): a finish that sees it change was overtaken. */
  private openings = 0;
  /** Keyword letters already in dovecot-keywords on disk. */
  private keywordsOnDisk: number;
  /** `DIR/cur/` and `DIR/new/`: file names are appended per message, without path.join. */
  private readonly curPrefix: string;
  private readonly newPrefix: string;

  private constructor(
    readonly mailbox: MailboxPath,
    readonly dir: string,
    private readonly queue: WriteQueue | undefined,
    keywordTable: Map<number, string>,
    uidlist: Uidlist | undefined,
    namesOnDisk: Iterable<string>,
  ) {
    this.keywords = new KeywordAllocator(keywordTable);
    this.keywordsOnDisk = keywordTable.size;
    this.curPrefix = path.join(dir, 'cur') + path.sep;
    this.newPrefix = path.join(dir, 'new') + path.sep;
    this.existing = uidlist;
    for (const name of namesOnDisk) this.onDisk.set(maildirBaseName(name), 0);
    if (uidlist) {
      this.uidValidity = uidlist.uidValidity;
      this.nextUid = uidlist.nextUid;
      for (const record of uidlist.records) {
        const base = maildirBaseName(record.fileName);
        if (this.onDisk.has(base)) this.onDisk.set(base, record.uid);
        else this.listedOnly.set(base, record.uid);
        this.usedUids.add(record.uid);
      }
    }
    this.sourceUidFloor = uidlist?.nextUid ?? 1;
    this.highestListedUid = uidlist ? uidlist.records.reduce((highest, record) => Math.max(highest, record.uid), 0) : 0;
  }

  static open(root: string, mailbox: MailboxPath, isDryRun: boolean, queue: WriteQueue | undefined): MaildirFolder {
    const dirName = mailboxPathToMaildirpp(mailbox);
    const dir = dirName === '' ? root : path.join(root, dirName);
    // mailboxPathToMaildirpp never yields '/' or '..'; this guards the invariant where it matters.
    if (dir !== root && path.dirname(dir) !== root) {
      throw new MailshiftError('MAILSHIFT_UNSAFE_FOLDER', `folder ${mailbox} would be written outside the target`, { scope: 'mailbox' });
    }
    if (!isDryRun) {
      for (const sub of ['', 'cur', 'new', 'tmp']) ensureRealDirectory(path.join(dir, sub));
      if (dir !== root) {
        // Maildir++ marks every subfolder with an empty maildirfolder file.
        writeFileSync(path.join(dir, 'maildirfolder'), '', { flag: 'a', mode: fileMode });
        removeStaleTmpFiles(path.join(dir, 'tmp'));
        // The root's are removed when the tree is opened (MaildirTarget.open), as its tmp/ is.
        removeStaleControlFileTmps(dir);
      }
    }
    let uidlist: Uidlist | undefined;
    const uidlistText = readOptional(path.join(dir, 'dovecot-uidlist'));
    if (uidlistText.trim() !== '') {
      try {
        uidlist = parseUidlist(uidlistText);
      } catch (err) {
        throw new MailshiftError('MAILSHIFT_TARGET_UIDLIST', `${path.join(dir, 'dovecot-uidlist')}: ${(err as Error).message}`, {
          scope: 'mailbox',
          hint: 'the target folder has a dovecot-uidlist we cannot read, and we never overwrite one; move it aside or convert into an empty target',
        });
      }
    }
    const names: string[] = [];
    for (const sub of ['new', 'cur']) for (const name of readdirOptional(path.join(dir, sub))) if (!name.startsWith('.')) names.push(name);
    return new MaildirFolder(mailbox, dir, queue, parseDovecotKeywords(readOptional(path.join(dir, 'dovecot-keywords'))), uidlist, names);
  }

  has(base: string): boolean {
    return this.onDisk.has(base);
  }

  /**
   * Places a finished draft here (renaming it out of tmp/), or, when `linkFrom` is given, a hard link to (or copy of)
   * a file already placed in another folder of the same tree. Never overwrites: a present base name is 'exists'.
   */
  place(request: PlaceRequest, source: { draft: MessageDraft } | { linkFrom: string }): PlaceResult {
    if (this.onDisk.has(request.base)) {
      if (this.onDisk.get(request.base) === 0 && !this.listedOnly.has(request.base)) this.onDisk.set(request.base, this.assignUid(request));
      return { status: 'exists' };
    }
    const { keywordIndexes, droppedKeywords } = this.allocateKeywords(request.keywords);
    const hasInfo = !request.isNew || request.flags.size > 0 || keywordIndexes.length > 0 || request.passed;
    const fileName = formatMaildirName(request.base, hasInfo ? formatInfo(request.flags, keywordIndexes, { passed: request.passed }) : undefined);
    const finalPath = `${hasInfo ? this.curPrefix : this.newPrefix}${fileName}`;
    if (this.queue) {
      if ('draft' in source) {
        source.draft.moveTo(finalPath, request.mtime);
      } else {
        this.linkCounter += 1;
        const tmpPath = path.join(this.dir, 'tmp', `${tmpPrefix}${process.pid}.link${this.linkCounter}`);
        this.queue.enqueue({ kind: 'link', existingPath: source.linkFrom, tmpPath, finalPath, mtimeMs: request.mtime.getTime() });
      }
    }
    // A base the uidlist still lists (expunged, now back) keeps its old record; Dovecot treats it as an unexpunge.
    this.onDisk.set(request.base, this.listedOnly.get(request.base) ?? this.assignUid(request));
    this.listedOnly.delete(request.base);
    this.wroteAnything = true;
    return { status: 'written', path: finalPath, droppedKeywords };
  }

  /**
   * A message already in this folder (by base name) that has no UID yet, neither in dovecot-uidlist nor from this
   * run, gets one as place() would give it: the source's when it can be kept. For a file an earlier run wrote and
   * was killed before recording (the uidlist is written when a folder is finished). False when the base is not here
   * or already has a UID.
   */
  adoptUid(base: string, uid: number, uidSource: UidSource): boolean {
    if (this.onDisk.get(base) !== 0 || this.listedOnly.has(base)) return false;
    this.onDisk.set(base, this.assignUid({ base, uid, uidSource }));
    return true;
  }

  /**
   * Keyword letters for these names (allocating free ones), written to dovecot-keywords before any file is named with
   * a new letter: a run killed before the folder is finished must not leave names whose letters the next run would
   * give to other keywords. Names that are no valid keyword, or fit no free letter, are returned as dropped.
   */
  private allocateKeywords(keywords: Iterable<string>): { keywordIndexes: number[]; droppedKeywords: string[] } {
    const droppedKeywords: string[] = [];
    const keywordIndexes: number[] = [];
    for (const keyword of keywords) {
      const index = isValidKeyword(keyword) ? this.keywords.indexOf(keyword) : undefined;
      if (index === undefined) droppedKeywords.push(keyword);
      else keywordIndexes.push(index);
    }
    if (this.queue && this.keywords.table().size > this.keywordsOnDisk) {
      writeAtomically(path.join(this.dir, 'dovecot-keywords'), formatDovecotKeywords(this.keywords.table()));
      this.keywordsOnDisk = this.keywords.table().size;
    }
    return { keywordIndexes, droppedKeywords };
  }

  /** The keyword names the letters of a file name in this folder stand for (dovecot-keywords as this run sees it). */
  keywordTable(): ReadonlyMap<number, string> {
    return this.keywords.table();
  }

  /**
   * Renames a message file of this folder so its name carries these flags and keywords (one atomic rename: never a
   * copy, never over an existing file). Letters we do not know and fields after a further ',' are kept. A file in
   * new/ that is to carry no flags stays there. 'gone' when the file was renamed or removed meanwhile (a client read
   * it), 'exists' when the new name is taken; both leave everything as it is.
   */
  renameForFlags(sub: 'new' | 'cur', fileName: string, flags: ReadonlySet<SystemFlag>, keywords: ReadonlySet<string>): 'renamed' | 'unchanged' | 'gone' | 'exists' {
    if (!this.queue) throw new Error('renameForFlags needs a folder opened for writing');
    const { base, info: oldInfo } = parseMaildirName(fileName);
    if (oldInfo === undefined && fileName.includes(':')) return 'unchanged'; // not ':2,' (experimental ':1,'): not ours to rewrite
    const fields = (oldInfo ?? '').split(',');
    const unknownLetters = decodeInfo(fields[0]).unknown;
    // $Forwarded both ways, as place() writes it: the P letter and a keyword letter.
    const { keywordIndexes } = this.allocateKeywords(keywords);
    const letters = [...`${formatInfo(flags, keywordIndexes, { passed: keywords.has(passedKeyword) })}${unknownLetters}`].sort().join('');
    const info = [letters, ...fields.slice(1)].join(',');
    if (sub === 'new' && info === '') return 'unchanged';
    const newName = formatMaildirName(base, info);
    if (sub === 'cur' && newName === fileName) return 'unchanged';
    const from = `${sub === 'cur' ? this.curPrefix : this.newPrefix}${fileName}`;
    const to = `${this.curPrefix}${newName}`;
    try {
      lstatSync(to);
      return 'exists';
    } catch (err) {
      if (systemErrorCode(err) !== 'ENOENT') throw err;
    }
    try {
      renameSync(from, to);
    } catch (err) {
      if (systemErrorCode(err) === 'ENOENT') return 'gone';
      throw err;
    }
    this.wroteAnything = true;
    return 'renamed';
  }

  /** Gives a message its UID (the source's when it can be kept) and records it for the uidlist. */
  private assignUid(request: Pick<PlaceRequest, 'base' | 'uid' | 'uidSource'>): number {
    if (this.uidValidity === undefined) {
      // A fresh folder adopts the source's UIDVALIDITY when it has one, else a new one (as Dovecot would: the time).
      this.uidValidity = request.uidSource?.uidValidity ?? Math.floor(Date.now() / 1000);
      this.nextUid = request.uidSource?.nextUid ?? 1;
    }
    const sourceUid = request.uid;
    const canUseSourceUid =
      sourceUid !== undefined &&
      request.uidSource?.uidValidity === this.uidValidity &&
      sourceUid >= this.sourceUidFloorFor(request.uidSource) &&
      !this.usedUids.has(sourceUid);
    let uid: number;
    if (canUseSourceUid) {
      uid = sourceUid;
      this.uidCounts.kept += 1;
    } else {
      // A message without a source UID (delivered after the last IMAP session) gets the next one, as Dovecot
      // would give it: every UID a client may have cached stays valid. Anything else is a UID we could not keep.
      if (sourceUid === undefined && (!request.uidSource || request.uidSource.uidValidity === this.uidValidity)) {
        this.uidCounts.new += 1;
      } else {
        this.uidCounts.renumbered += 1;
        this.uidNote ??=
          request.uidSource && request.uidSource.uidValidity !== this.uidValidity
            ? `the target folder already has UIDVALIDITY ${this.uidValidity}; added messages got new UIDs`
            : "some source UIDs were duplicated or below the folder's next UID; those messages got new UIDs";
      }
      while (this.usedUids.has(this.nextUid)) this.nextUid += 1;
      uid = this.nextUid;
    }
    this.usedUids.add(uid);
    if (uid >= this.nextUid) this.nextUid = uid + 1;
    this.addedBases.push(request.base);
    this.addedUids.push(uid);
    return uid;
  }

  /**
   * Where the source's UIDs may start. Below the next UID of the uidlist found on disk a client may have been served
   * UIDs, so a source UID there is renumbered. Except where that uidlist is a copy's own unfinished work from this same
   * source: a fresh folder takes the source's UIDVALIDITY and next UID at its first message, and every checkpoint writes
   * that next UID, so after a crash (or a connection cut, which reopens the folder) the source UIDs of the messages still
   * to come all lay below the floor and were renumbered. Renumbered under the source's UIDVALIDITY, they took UIDs the
   * source gives other messages: a client that came from the source would show a different message under a UID it
   * knows. Same UIDVALIDITY and a next UID no higher than the source's: the UIDs between the highest listed one and
   * the next were reserved by a copy from this source, so the source's messages keep them (a UID taken meanwhile, by a
   * delivery here, is still renumbered: usedUids). The price: a client that read this half-copied folder under its
   * next UID sees those messages only on a full resync, as after any late copy; a wrong message under a known UID was
   * worse.
   */
  private sourceUidFloorFor(uidSource: UidSource | undefined): number {
    const existing = this.existing;
    if (!existing || !uidSource || existing.uidValidity !== uidSource.uidValidity || existing.nextUid > uidSource.nextUid) return this.sourceUidFloor;
    return Math.min(this.sourceUidFloor, this.highestListedUid + 1);
  }

  /**
   * Everything placed so far is in new/ or cur/ and in dovecot-uidlist (with its UID), so a caller may record it as
   * done: a kill -9 after this loses none of it, nor its UIDs. Not flushed to the disk (finish does that once); the
   * page cache outlives a killed process. Records queued while this waits are left to the next call or to finish.
   */
  async checkpoint(): Promise<void> {
    if (!this.queue) return;
    const upTo = this.addedBases.length;
    // Files are created in queue order: once the queue has drained past the last one named, all are in place.
    await this.queue.drain();
    if (upTo <= this.recordedUpTo || this.uidValidity === undefined) return;
    writeUidlistStreaming(
      path.join(this.dir, 'dovecot-uidlist'),
      { uidValidity: this.uidValidity, nextUid: this.nextUid, headerFields: this.existing?.headerFields ?? new Map() },
      this.existing?.records ?? [],
      this.addedBases.slice(0, upTo),
      this.addedUids.slice(0, upTo),
    );
    this.recordedUpTo = Math.max(this.recordedUpTo, upTo);
    this.wroteAnything = true;
  }

  /** Marks the folder as in use again after its finish started: that finish leaves the bookkeeping to the next. */
  reopen(): void {
    this.openings += 1;
  }

  /**
   * Writes dovecot-uidlist atomically (dovecot-keywords is kept up to date by place), then flushes to disk.
   * Undefined when the folder was reopened meanwhile (the next finish writes everything, this one's records too).
   */
  async finish(options: { flush: boolean }): Promise<FolderDone | undefined> {
    const opening = this.openings;
    if (this.queue) {
      // Every message file must be in place before the uidlist names it and the folder is reported done.
      await this.queue.drain();
      if (this.openings !== opening) return undefined;
      if (this.addedBases.length > 0 && this.uidValidity !== undefined) {
        writeUidlistStreaming(
          path.join(this.dir, 'dovecot-uidlist'),
          { uidValidity: this.uidValidity, nextUid: this.nextUid, headerFields: this.existing?.headerFields ?? new Map() },
          this.existing?.records ?? [],
          this.addedBases,
          this.addedUids,
        );
      }
    }
    const wroteAnything = this.queue !== undefined && (this.wroteAnything || this.addedBases.length > 0);
    if (options.flush && wroteAnything) await flushFilesystem(this.dir);
    const counts = this.uidCounts;
    const uids: UidOutcome = counts.renumbered > 0 ? 'renumbered' : counts.kept > 0 ? 'kept' : counts.new > 0 ? 'new' : 'unchanged';
    return {
      mailbox: this.mailbox,
      directory: this.dir,
      wroteAnything,
      uidValidity: this.uidValidity,
      uids,
      ...(this.uidNote ? { note: this.uidNote } : {}),
    };
  }
}
