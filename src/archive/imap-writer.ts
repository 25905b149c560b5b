import { maildirBaseName } from '../../converters/maildir/filename.js';
import { parseDovecotKeywords } from '../../converters/maildir/keywords.js';
import { toCrlf } from '../../converters/message/crlf.js';
import type { FolderEntry, FolderMappingOptions, FolderMappingRow } from '../../converters/folders/imap-mapping.js';
import { isMailshiftError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { MailboxPath } from '../core/types.js';
import { buildContentHash, buildIdentity } from '../engine/identity.js';
import { ByteBudgetReachedError, BytePacer } from '../engine/messages/pacing.js';
import { readAll } from '../engine/messages/read.js';
import type { FolderCopyReport } from '../engine/messages/report.js';
import type { FlagUpdate } from '../stores/store.js';
import { ImapAppends, type ImapAppendsOptions, type TargetFolder } from './imap-appends.js';
import { buildClaimKey, buildCompactKey, decideImapFolder, decideMessageFlags } from './imap-plan.js';
import { nothingToFlush, type ControlFileOutcome, type FlushOutcome, type MessageOutcome, type RestoreWriter } from './restore-writer.js';
import type { EntryBody } from './tar.js';

/**
 * The restore's writer for an IMAP account (any MailStore, reached through the store interface only): restore.ts
 * reads the backup once and hands each message of the selected mailbox here as it passes, and it is appended to the
 * account's folder at once. Nothing is extracted or staged on disk.
 *
 * - Memory: one message's bytes while it is decided, plus the batches in flight (at most `appendSlots` MULTIAPPENDs
 *   of 100 messages or 2 MiB each, waited for before more are read: back-pressure on the archive stream), plus per
 *   message a small record (its claim key and target UID, for hard links and late keywords), as the maildir writer
 *   keeps a base name per message.
 * - Exactly once across crashes and re-runs, without any state on disk: each target folder is listed by identity when
 *   first met, and every message either claims one the target has that no other message of this run claimed, or is
 *   appended (imap-plan.ts ClaimLedger). A run killed after some appends leaves them on the target, where the next run
 *   claims them. Sending, and settling an append whose answer was lost against a new listing of the folder, is
 *   imap-appends.ts.
 * - Keywords: letters in a file name need the folder's dovecot-keywords, which may come after the messages in the
 *   archive. A message appended before it keeps its letters and its target UID (APPENDUID), and gets the keywords by
 *   UID STORE (Mailbox.updateFlags, adding only) once the pass is over; what cannot be set is said, never dropped.
 */

export interface ImapRestoreWriterOptions extends ImapAppendsOptions {
  readonly label: string;
  readonly mapping: FolderMappingOptions;
  readonly maxSizeBytes?: number;
  readonly maxBytesPerSecond?: number;
  readonly maxBytes?: number;
  readonly dryRun: boolean;
}

/** Keywords a message should get after the pass: named ones, and letters for the folder's table. */
interface KeywordWork {
  readonly baseKey: string;
  readonly keywords: ReadonlySet<string>;
  readonly indexes: readonly number[];
}

interface SourceFolder {
  readonly dirName: string;
  readonly report?: FolderCopyReport;
  readonly target?: TargetFolder;
  keywordTable?: ReadonlyMap<number, string>;
  readonly keywordWork: KeywordWork[];
  /**
   * Each message of the folder met so far, by its base name's compact key: its UID on the target once known, else
   * its claim key. What findMessage and linkMessage work from (a hard link names an earlier entry), and the late
   * keywords' UIDs; two short strings or a number per message.
   */
  readonly placed: Map<string, number | string>;
}

const maxKeywordsFileBytes = 64 * 1024;

export class ImapRestoreWriter implements RestoreWriter {
  readonly mapping: FolderMappingRow[] = [];
  readonly folders: FolderCopyReport[] = [];
  readonly skippedFolders: { folder: string; reason: string }[] = [];
  readonly warnings: string[] = [];
  private readonly sources = new Map<string, SourceFolder>();
  /** SPECIAL-USE roles an earlier folder of the backup was given. */
  private readonly rolesTaken = new Set<string>();
  /** Target path -> the first source folder sent there. */
  private readonly sourceOfTarget = new Map<MailboxPath, MailboxPath>();
  /** dovecot-keywords met before its folder was. */
  private readonly tables = new Map<string, ReadonlyMap<number, string>>();
  private readonly pacer: BytePacer;
  /** A dry run's message sizes by `folder\0base name`: what a hard link to one would append (nothing to read back). */
  private readonly dryRunSizes = new Map<string, number>();
  private readonly appends: ImapAppends;

  private constructor(
    private readonly options: ImapRestoreWriterOptions,
    private readonly targetFolders: readonly FolderEntry[],
  ) {
    this.pacer = new BytePacer(options.maxBytesPerSecond, options.maxBytes);
    this.appends = new ImapAppends(options);
  }

  /** The writer, with the target's folders listed once (the mapping's SPECIAL-USE rows need them). */
  static async open(options: ImapRestoreWriterOptions): Promise<ImapRestoreWriter> {
    const targetFolders: FolderEntry[] = [];
    for await (const folder of options.store.listMailboxes(options.signal)) targetFolders.push(folder as FolderEntry);
    return new ImapRestoreWriter(options, targetFolders);
  }

  get root(): string {
    return this.options.label;
  }

  /** Directories have no meaning in an IMAP account: folders are made by openFolder. */
  ensureDir(): Promise<string> {
    return Promise.resolve(this.options.label);
  }

  /** The folder's decision, made once, and its target folder opened (created when missing) and listed by identity. */
  async openFolder(folderRel: string): Promise<SourceFolder> {
    const known = this.sources.get(folderRel);
    if (known) return known;
    const decision = decideImapFolder(folderRel, this.rolesTaken, this.targetFolders, this.options.mapping);
    let source: SourceFolder = { dirName: folderRel, keywordWork: [], placed: new Map() };
    if (decision.kind === 'unreadable') {
      this.skippedFolders.push({ folder: JSON.stringify(folderRel).slice(1, -1), reason: decision.reason });
      this.options.logger.warn(`${folderRel}: ${decision.reason}`);
    } else {
      const { row } = decision;
      if (decision.entry.specialUse && row.action === 'copy' && row.reason.startsWith('SPECIAL-USE')) this.rolesTaken.add(decision.entry.specialUse);
      const notes = decision.note ? [decision.note] : [];
      const shared = row.action === 'copy' ? this.sourceOfTarget.get(row.target) : undefined;
      if (shared !== undefined) {
        // Only when a later folder's own name is where an earlier one's role sent it: said, never silent.
        notes.push(`shares the target folder with ${shared}, which came first in the backup`);
        this.warn(`${row.source} and ${shared} both go to the target folder ${row.action === 'copy' ? row.target : ''}`);
      } else if (row.action === 'copy') this.sourceOfTarget.set(row.target, row.source);
      this.mapping.push(notes.length > 0 ? { ...row, reason: `${row.reason}; ${notes.join('; ')}` } : row);
      if (row.action === 'skip') this.options.logger.info(`${row.source}: not restored (${row.reason})`);
      else {
        const report = newFolderReport(row.source, row.target, row.reason);
        this.folders.push(report);
        try {
          const target = await this.appends.open(row.target);
          target.reports.add(report);
          source = { ...source, report, target };
        } catch (err) {
          if (!isMailshiftError(err) || err.scope === 'account' || err.scope === 'run') throw err;
          report.error = { code: err.code, message: err.message, ...(err.retry === 'later' ? { retry: 'later' as const } : {}) };
          this.options.logger.error(`${row.source}: ${err.message}`);
          source = { ...source, report };
        }
      }
    }
    const table = this.tables.get(folderRel);
    if (table) source.keywordTable = table;
    this.sources.set(folderRel, source);
    return source;
  }

  /** `folder\0base name` when this run placed the message: what linkMessage takes as `from`. */
  findMessage(folderRel: string, name: string): string | undefined {
    const base = maildirBaseName(name);
    return this.sources.get(folderRel)?.placed.has(buildCompactKey(base)) ? `${folderRel}\u0000${base}` : undefined;
  }

  async writeMessage(folderRel: string, _sub: 'cur' | 'new', name: string, body: EntryBody, mtimeSec: number, sizeBytes?: number): Promise<MessageOutcome> {
    this.appends.raiseFailure();
    const source = await this.openFolder(folderRel);
    if (!source.report) {
      body.resume();
      return 'exists';
    }
    if (this.options.maxSizeBytes !== undefined && sizeBytes !== undefined && sizeBytes > this.options.maxSizeBytes) {
      body.resume();
      source.report.examined += 1;
      source.report.skipped.push({ id: name, reason: `larger than --max-size (${sizeBytes} bytes)` });
      return 'exists';
    }
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk);
    return this.place(source, name, Buffer.concat(chunks), mtimeSec, 'written');
  }

  /**
   * A hard link (Dovecot's copy between folders): the first copy's bytes are read back from the target, by the UID it
   * got there, and go into this folder like any message.
   */
  async linkMessage(folderRel: string, _sub: 'cur' | 'new', name: string, from: string, mtimeSec: number): Promise<MessageOutcome> {
    this.appends.raiseFailure();
    const source = await this.openFolder(folderRel);
    const separator = from.indexOf('\u0000');
    const first = this.sources.get(from.slice(0, separator));
    const baseKey = buildCompactKey(from.slice(separator + 1));
    const firstTarget = first?.target;
    if (!source.report) return 'exists';
    if (!first || !firstTarget || !first.placed.has(baseKey)) {
      // Its first copy's folder could not be opened on the target: nothing to read it back from.
      source.report.examined += 1;
      source.report.skipped.push({ id: name, reason: 'hardlink-target-missing: its first copy is in a folder that failed; not written' });
      return 'exists';
    }
    if (typeof first.placed.get(baseKey) !== 'number') await this.appends.drain(firstTarget);
    let uid = first.placed.get(baseKey);
    if (typeof uid === 'string' && !this.options.dryRun) {
      // A server without UIDPLUS says no UIDs: any message of the same claim key is the same message.
      firstTarget.ledger.relist(await this.appends.listTarget(await this.appends.boxOf(firstTarget)));
      uid = firstTarget.ledger.anyUid(uid);
    }
    if (typeof uid !== 'number') {
      // A dry run appended nothing to read back: counted as the append it would be.
      source.report.examined += 1;
      if (this.options.dryRun) {
        source.report.copied += 1;
        source.report.copiedBytes += this.dryRunSizes.get(from) ?? 0;
      }
      else source.report.skipped.push({ id: name, reason: 'hardlink-target-missing: its first copy was not found on the target; not written' });
      return 'linked';
    }
    const content = await readAll(await (await this.appends.boxOf(firstTarget)).read({ id: String(uid), uid, flags: new Set(), keywords: new Set() }, this.options.signal));
    return this.place(source, name, content, mtimeSec, 'linked');
  }

  /** Decides one message: claimed (on the target already) or queued for the next MULTIAPPEND of its folder. */
  private async place(source: SourceFolder, name: string, content: Buffer, mtimeSec: number, appended: MessageOutcome): Promise<MessageOutcome> {
    const report = source.report!;
    const target = source.target;
    report.examined += 1;
    if (!target) {
      report.skipped.push({ id: name, reason: `folder failed: ${report.error?.message ?? 'not opened'}` });
      return 'exists';
    }
    const { flags, keywords, pendingIndexes } = decideMessageFlags(name, source.keywordTable);
    const crlf = toCrlf(content);
    const identity = buildIdentity(crlf);
    const key = buildClaimKey(identity, identity.isWeak ? buildContentHash(crlf) : undefined);
    const baseKey = buildCompactKey(maildirBaseName(name));
    if (this.options.dryRun) this.dryRunSizes.set(`${source.dirName}\u0000${maildirBaseName(name)}`, crlf.length);
    const claim = this.options.skipExisting ? target.ledger.claim(key) : ({ outcome: 'append' } as const);
    source.placed.set(baseKey, claim.outcome === 'present' && claim.uid !== undefined ? claim.uid : key);
    if (claim.outcome === 'present') {
      report.alreadyPresent += 1;
      // An interrupted run may have appended it before its keywords were known: they are added (never removed).
      if (keywords.size > 0 || pendingIndexes.length > 0) source.keywordWork.push({ baseKey, keywords, indexes: pendingIndexes });
      return 'exists';
    }
    if (pendingIndexes.length > 0) source.keywordWork.push({ baseKey, keywords: new Set(), indexes: pendingIndexes });
    if (!this.pacer.tryReserve(crlf.length)) throw new ByteBudgetReachedError(this.options.maxBytes ?? this.pacer.reservedBytes, this.pacer.reservedBytes);
    await this.pacer.pace(crlf.length, this.options.signal);
    const message = { content: crlf, flags, keywords, internalDate: new Date(Math.floor(mtimeSec) * 1000) };
    await this.appends.add(target, { key, name, report, message, noteUid: (uid) => source.placed.set(baseKey, uid) });
    return appended;
  }

  /** The folder's dovecot-keywords (its letters' names), whenever it comes in the archive; the other files mean nothing to IMAP. */
  async stageControlFile(folderRel: string, name: string, body: EntryBody): Promise<void> {
    if (name !== 'dovecot-keywords') {
      body.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of body) {
      length += chunk.length;
      if (length <= maxKeywordsFileBytes) chunks.push(chunk);
    }
    const table = parseDovecotKeywords(Buffer.concat(chunks).toString('utf8'));
    this.tables.set(folderRel, table);
    const source = this.sources.get(folderRel);
    if (source) source.keywordTable = table;
  }

  writeIfAbsent(_rel: string, body: EntryBody): Promise<boolean> {
    body.resume();
    return Promise.resolve(false);
  }

  /** Every batch sent and answered: what the restore counts is on the target (only the open folder has any). */
  async flush(): Promise<FlushOutcome> {
    await this.appends.flush();
    return nothingToFlush;
  }

  /**
   * The keywords of messages that got them late (or were on the target already without them), by UID STORE, adding
   * only. What cannot be set is a warning: letters the backup's dovecot-keywords does not name, a message without a
   * known UID (a server without UIDPLUS), a target that cannot store flags by UID.
   */
  async settleControlFiles(): Promise<ControlFileOutcome[]> {
    const byTarget = new Map<TargetFolder, { updates: FlagUpdate[]; report: FolderCopyReport }>();
    for (const source of this.sources.values()) {
      let unnamed = 0;
      let noUid = 0;
      for (const work of source.keywordWork) {
        const keywords = new Set(work.keywords);
        for (const index of work.indexes) {
          const named = source.keywordTable?.get(index);
          if (named) keywords.add(named);
          else unnamed += 1;
        }
        if (keywords.size === 0) continue;
        const uid = source.placed.get(work.baseKey);
        if (typeof uid !== 'number' || !source.target) {
          noUid += 1;
          continue;
        }
        const entry = byTarget.get(source.target) ?? { updates: [], report: source.report! };
        entry.updates.push({ sourceKey: '', targetUid: uid, flags: new Set(), keywords });
        byTarget.set(source.target, entry);
      }
      const where = source.report?.source ?? source.dirName;
      if (unnamed > 0) this.warn(`${where}: ${unnamed} keyword letter(s) in file names that the backup's dovecot-keywords does not name; those keywords are not set`);
      if (noUid > 0 && !this.options.dryRun) this.warn(`${where}: keywords of ${noUid} message(s) not set: the server gave no UID for them (no UIDPLUS)`);
    }
    for (const [target, { updates, report }] of byTarget) {
      const box = await this.appends.boxOf(target);
      if (!box.updateFlags) {
        this.warn(`${target.path}: keywords of ${updates.length} message(s) not set: the target cannot store flags by UID`);
        continue;
      }
      const outcome = await this.appends.retrying(`setting keywords in "${target.path}"`, () => box.updateFlags!(updates, 'merge', { dryRun: this.options.dryRun }));
      report.flagDifferences += outcome.differences;
      report.flagsApplied += outcome.applied;
      if (outcome.notFound > 0) this.warn(`${target.path}: keywords of ${outcome.notFound} message(s) not set: gone from the target`);
    }
    return [];
  }

  private warn(text: string): void {
    this.warnings.push(text);
    this.options.logger.warn(text);
  }

  /**
   * Closes every target folder. After a failure of the archive (`sendPending`: truncated or corrupt), the messages
   * read whole before it still go out, so everything before the damage is on the target; after an interruption only
   * the appends in flight are waited for.
   */
  async close(options: { readonly sendPending: boolean }): Promise<void> {
    await this.appends.close(options);
  }
}

function newFolderReport(source: MailboxPath, target: MailboxPath, reason: string): FolderCopyReport {
  return { source, target, reason, mode: 'full', examined: 0, copied: 0, copiedBytes: 0, alreadyPresent: 0, skipped: [], vanished: 0, flagDifferences: 0, flagsApplied: 0, retries: 0 };
}
