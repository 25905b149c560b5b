import path from 'node:path';
import { FolderNameError, mailboxPathToMaildirpp } from '../../converters/folders/maildirpp.js';
import { ConvertedNameSequence } from '../../converters/maildir/filename.js';
import type { MessageStart } from '../../converters/mbox/framer.js';
import type { MboxMessageMetadata } from '../../converters/mbox/metadata.js';
import { decideMboxPlacement } from '../../converters/mbox/placement.js';
import { describeError, isMailshiftError, MailshiftError } from '../core/errors.js';
import type { MailboxPath } from '../core/types.js';
import { MaildirTarget, OrderedPlacement, type FolderDone, type MessageDraft, type UidSource } from '../stores/maildir/index.js';
import {
  MboxMessageAssembler,
  readMboxFile,
  readMboxFraming,
  type AssembledMessage,
  type IgnoredSourceEntry,
  type MboxMessageHandler,
  type MboxMessageSink,
  type MboxSourceFile,
} from '../stores/mbox/index.js';
import type { ConvertOptions, FolderReport, SkippedItem } from './convert.js';

/**
 * One mbox file's conversion (convertFile, FileConverter) and what the whole run keeps while files are converted
 * (ConvertState: folders, reports, skipped items, the ordered placement of messages across files).
 */

/** Thrown when more items are skipped than --max-bad allows: the run stops, with everything before it complete. */
export class TooManyBadMessages extends Error {}

export class ConvertState {
  readonly folderReports = new Map<MailboxPath, FolderReport>();
  readonly skipped: SkippedItem[] = [];
  readonly ignored: IgnoredSourceEntry[] = [];
  readonly warnings: string[] = [];
  /** Folders filled by Gmail label routing: any file may add to them, so they are finished at the end. */
  readonly dynamicFolders = new Set<MailboxPath>();
  readonly totals = { messages: 0, bytes: 0, alreadyPresent: 0, pseudoMessagesSkipped: 0 };
  /** Messages of every file so far that wait to be named and placed, in source order. */
  readonly placements = new OrderedPlacement<WaitingMessage>((waiting, draft) => waiting.converter.placeMessage(waiting.start, waiting.meta, draft, waiting.received));
  stopped: { reason: string } | undefined;

  constructor(
    readonly options: ConvertOptions,
    readonly target: MaildirTarget,
  ) {}

  private readonly directoryOwners = new Map<string, MailboxPath>();
  private readonly resolvedFolders = new Map<MailboxPath, MailboxPath>();
  /** Folders being finished in the background, and the first of their failures. */
  private readonly finishing: Promise<void>[] = [];
  private finishFailure: { error: unknown } | undefined;

  /**
   * The folder a source folder is written to: itself, unless another source folder already owns the same directory
   * (possible only through name mapping, e.g. a name that already contains U+2024); then a " (2)" suffix, so two
   * source folders never merge. Throws FolderNameError for names that cannot be stored.
   */
  resolveFolder(mailbox: MailboxPath): MailboxPath {
    const known = this.resolvedFolders.get(mailbox);
    if (known) return known;
    let candidate = mailbox;
    for (let n = 2; ; n++) {
      const owner = this.directoryOwners.get(mailboxPathToMaildirpp(candidate));
      if (owner === undefined || owner === mailbox) break;
      candidate = `${mailbox} (${n})`;
    }
    this.directoryOwners.set(mailboxPathToMaildirpp(candidate), mailbox);
    this.resolvedFolders.set(mailbox, candidate);
    if (candidate !== mailbox) this.warnings.push(`folder ${mailbox} is written as ${candidate}: its name maps to the same directory as another folder's`);
    return candidate;
  }

  /** The folder a source folder was written to, once resolved. */
  writtenFolder(mailbox: MailboxPath): MailboxPath | undefined {
    return this.resolvedFolders.get(mailbox);
  }

  folderReport(mailbox: MailboxPath, sourceFile: string): FolderReport {
    let report = this.folderReports.get(mailbox);
    if (!report) {
      const folder = this.target.folder(mailbox);
      report = { mailbox, directory: folder.dir, sourceFiles: [], messages: 0, bytes: 0, alreadyPresent: 0 };
      this.folderReports.set(mailbox, report);
    }
    if (!report.sourceFiles.includes(sourceFile)) report.sourceFiles.push(sourceFile);
    return report;
  }

  recordBad(item: SkippedItem): void {
    this.skipped.push(item);
    this.options.logger.warn(`skipped ${item.file} at byte ${item.offset}: ${item.reason}`);
    if (this.skipped.length > this.options.maxBad) {
      throw new TooManyBadMessages(
        `${this.skipped.length} item(s) could not be converted, more than --max-bad ${this.options.maxBad} allows; the first: ${this.skipped[0]!.file} at byte ${this.skipped[0]!.offset}: ${this.skipped[0]!.reason}`,
      );
    }
  }

  async finishFolder(mailbox: MailboxPath): Promise<void> {
    // Flushed all together before the report (finishAll): convert keeps no state that could run ahead of the disk.
    const done = await this.target.finishFolder(mailbox, { flush: 'later' });
    if (done) this.applyFolderDone(done);
  }

  /**
   * Finishes a folder (its files on disk, dovecot-uidlist) while the next source file is read:
   * waiting for it stopped the reader at every folder boundary (~5 ms each, a twentieth of a 10,000-message tree).
   */
  finishFolderInBackground(mailbox: MailboxPath): void {
    this.finishing.push(
      this.finishFolder(mailbox).catch((err: unknown) => {
        this.finishFailure ??= { error: err };
      }),
    );
  }

  /** Rethrows the first failure of a folder finished in the background. */
  throwIfFinishFailed(): void {
    if (this.finishFailure) throw this.finishFailure.error;
  }

  /** Finishes every folder still open and waits for those finishing in the background. */
  async finishAll(): Promise<void> {
    for (const mailbox of this.target.openFolders()) this.finishFolderInBackground(mailbox);
    await Promise.all(this.finishing.splice(0));
    this.throwIfFinishFailed();
    await this.target.flushFinishedFolders();
  }

  private applyFolderDone(done: FolderDone): void {
    const report = this.folderReports.get(done.mailbox);
    if (!report) return;
    if (done.uidValidity !== undefined) report.uidValidity = done.uidValidity;
    report.uids = done.uids;
    if (done.note) {
      report.note = done.note;
      this.warnings.push(`${done.mailbox}: ${done.note}`);
    }
  }
}

/** Converts one mbox file: frames it, and hands each message to the folder(s) it belongs in, in source order. */
export async function convertFile(file: MboxSourceFile, state: ConvertState, isSingleFile: boolean, onProgress: (done: number) => void): Promise<void> {
  const { options } = state;
  const displayName = file.relativePath || path.basename(file.file);
  let folder: MailboxPath;
  try {
    folder = state.resolveFolder(file.folder);
  } catch (err) {
    if (!(err instanceof FolderNameError)) throw err;
    state.recordBad({ file: displayName, offset: 0, reason: `folder name cannot be stored safely (${err.message}); the whole file was skipped` });
    return;
  }
  let framing;
  try {
    framing = await readMboxFraming(file.file, { isGzip: file.isGzip, variant: options.variant, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (err) {
    if (isSingleFile || !isSourceReadError(err)) throw err;
    // One file that cannot be opened or read (gone, refused, a damaged .gz) is that file's problem, not the run's.
    state.recordBad({ file: displayName, offset: 0, reason: `cannot read the file: ${describeError(err)}` });
    return;
  }
  if (framing.kind === 'empty') {
    state.folderReport(folder, displayName); // an empty mbox is an empty folder
    return;
  }
  if (framing.kind === 'not-mbox') {
    if (isSingleFile) {
      throw new MailshiftError('MAILSHIFT_SOURCE_NOT_MBOX', `${file.file} is not an mbox: no "From " separator line in its first 64 KB`, {
        hint: 'give an mbox file (messages separated by "From sender date" lines), a .gz of one, or a directory of them',
      });
    }
    const evidence = file.hasThunderbirdIndex ? `its Thunderbird index ${path.basename(file.file)}.msf lies beside it` : framing.mailEvidence;
    if (evidence) {
      // Evidently a mail folder that yields no message: mail we cannot read is skipped and counted, never a warning.
      state.recordBad({ file: displayName, offset: 0, reason: `no message could be read: no "From " separator line in its first 64 KB, though ${evidence}` });
      return;
    }
    state.ignored.push({ path: displayName, reason: 'not an mbox (no "From " separator line in its first 64 KB)' });
    state.warnings.push(`${displayName}: not an mbox, not converted`);
    return;
  }
  const { unescape, honorContentLength } = framing;
  if (unescape === 'mboxrd') options.logger.debug(`${displayName}: reading as mboxrd (">From " lines lose one ">")`);
  const converter = new FileConverter(folder, displayName, state);
  const assembler = new MboxMessageAssembler(converter, options.signal);
  // Where the last whole message ended: a read failure is reported from there.
  let readUpTo = 0;
  const tracker: MboxMessageSink = {
    messageStart: (start) => assembler.messageStart(start),
    header: (bytes) => assembler.header(bytes),
    body: (bytes) => assembler.body(bytes),
    messageEnd: (end) => {
      assembler.messageEnd(end);
      readUpTo = end.offset;
    },
    garbage: (offset, length) => assembler.garbage(offset, length),
    abortMessage: () => assembler.abortMessage(),
  };
  try {
    await readMboxFile(
      file.file,
      { isGzip: file.isGzip, unescape, honorContentLength, onProgress, ...(options.signal ? { signal: options.signal } : {}) },
      tracker,
    );
  } catch (err) {
    if (!isSourceReadError(err)) throw err;
    assembler.abortMessage();
    // What was read before the failure is converted; the rest of the file is one skipped item.
    converter.placeWaiting();
    state.recordBad({ file: displayName, offset: readUpTo, reason: `cannot read the file from here on: ${describeError(err)}` });
  } finally {
    assembler.abortMessage();
  }
  converter.reportDateNotes();
  if (assembler.messagesSeen === 0 && !assembler.sawPseudoMessage) state.folderReport(folder, displayName);
}

/** What places a message once its digest is known (OrderedPlacement hands the draft back). */
interface WaitingMessage {
  readonly converter: FileConverter;
  readonly start: MessageStart;
  readonly meta: MboxMessageMetadata;
  readonly received: Date;
}

/** Receives one file's messages (through MboxMessageAssembler) and writes each into its folder(s). */
class FileConverter implements MboxMessageHandler<MessageDraft> {
  private uidSource: UidSource | undefined;
  private readonly names = new ConvertedNameSequence();

  constructor(
    private readonly folder: MailboxPath,
    private readonly displayName: string,
    private readonly state: ConvertState,
  ) {}

  beginDraft(): MessageDraft {
    return this.state.target.beginDraft({ hashOnWriter: true });
  }

  pseudoMessage(): void {
    // UW-IMAP / Dovecot "FOLDER INTERNAL DATA": bookkeeping, not mail. Its X-IMAP carried the UIDVALIDITY.
    this.state.totals.pseudoMessagesSkipped += 1;
  }

  message({ start, meta, draft, end, imapBase, received }: AssembledMessage<MessageDraft>): void {
    if (imapBase && !this.uidSource) this.uidSource = { uidValidity: imapBase.uidValidity, nextUid: imapBase.lastUid + 1 };
    if (received.note) this.noteDate(received.note);
    if (end.note && !end.truncated) this.state.warnings.push(`${this.displayName} at byte ${start.offset}: ${end.note}`);
    if (end.truncated) {
      draft.close();
      this.placeWaiting(); // a stop for too many bad messages leaves everything before it placed
      this.state.recordBad({ file: this.displayName, offset: start.offset, reason: `truncated message: ${end.truncated}` });
      return;
    }
    this.state.placements.add(draft, received.date, { converter: this, start, meta, received: received.date });
  }

  /** Messages whose received date did not come from their From_ line, by reason: one report line per file and reason. */
  readonly dateNotes = new Map<string, number>();

  private noteDate(note: string): void {
    this.dateNotes.set(note, (this.dateNotes.get(note) ?? 0) + 1);
  }

  /** Says in the report which messages got their received date elsewhere than from their From_ line. */
  reportDateNotes(): void {
    for (const [note, count] of this.dateNotes) this.state.warnings.push(`${this.displayName}: ${count} message(s): ${note}`);
  }

  /** Places every waiting message, this file's and earlier files': a skip is reported after all that came before. */
  placeWaiting(): void {
    this.state.placements.placeAll();
  }

  garbage(offset: number, length: number): void {
    this.placeWaiting();
    this.state.recordBad({ file: this.displayName, offset, reason: `${length} bytes before the first "From " line belong to no message` });
  }

  placeMessage(start: MessageStart, meta: MboxMessageMetadata, draft: MessageDraft, received: Date): void {
    const { state } = this;
    const placement = decideMboxPlacement(meta, this.folder, state.options.gmailLabels);
    const folders = placement.folders;
    if (placement.isRouted) for (const folder of folders) state.dynamicFolders.add(folder);
    const base = this.names.next({
      receivedSecs: received.getTime() / 1000,
      contentHashHex: draft.contentHashHex(),
      sizeBytes: draft.size,
      virtualSizeBytes: draft.virtualSize,
    });
    const request = {
      base,
      flags: placement.flags,
      keywords: placement.keywords,
      passed: placement.passed,
      isNew: placement.isNew,
      mtime: received,
      ...(meta.uid !== undefined ? { uid: meta.uid } : {}),
      ...(this.uidSource ? { uidSource: this.uidSource } : {}),
    };
    let placedPath: string | undefined;
    for (const labelOrFolder of folders) {
      let report: FolderReport;
      let mailbox: MailboxPath;
      try {
        mailbox = labelOrFolder === this.folder ? labelOrFolder : state.resolveFolder(labelOrFolder);
        report = state.folderReport(mailbox, this.displayName);
      } catch (err) {
        if (!(err instanceof FolderNameError)) throw err;
        state.recordBad({ file: this.displayName, offset: start.offset, reason: `label folder "${labelOrFolder}" cannot be stored safely: ${err.message}` });
        continue;
      }
      const folder = state.target.folder(mailbox);
      const result = folder.place(request, placedPath ? { linkFrom: placedPath } : { draft });
      if (result.status === 'exists') {
        report.alreadyPresent += 1;
        state.totals.alreadyPresent += 1;
        continue;
      }
      if (!state.target.isDryRun) placedPath = result.path;
      report.messages += 1;
      report.bytes += draft.size;
      state.totals.messages += 1;
      state.totals.bytes += draft.size;
      if (result.droppedKeywords.length > 0) {
        state.warnings.push(
          `${this.displayName} at byte ${start.offset}: keyword(s) ${result.droppedKeywords.join(', ')} not stored (invalid, or the folder's 26 keyword letters are taken)`,
        );
      }
    }
  }
}

/** A source file that cannot be opened or read (gone, refused, a damaged .gz): MailshiftError from the reader. */
function isSourceReadError(err: unknown): boolean {
  return isMailshiftError(err) && (err.code === 'MAILSHIFT_SOURCE_READ' || err.code === 'MAILSHIFT_SOURCE_OPEN');
}
