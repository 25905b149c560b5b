import { FolderNameError } from '../../converters/folders/maildirpp.js';
import { planFolderMapping, type FolderEntry, type FolderMapRule } from '../../converters/folders/imap-mapping.js';
import { toLfInPlace } from '../../converters/message/crlf.js';
import { collect, decideBackoffMs, retryAfterMs, sleep } from '../core/async.js';
import { isMailshiftError, MailshiftError, throwIfAborted } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { MailboxPath, MessageRef } from '../core/types.js';
import { buildSourceKeyPrefix } from '../engine/messages/context.js';
import { readBodies } from '../engine/messages/read.js';
import type { ListedMessage, Mailbox, MailStore } from '../stores/store.js';
import { ExportFolder, formatExportSubscriptions } from './export-layout.js';
import type { SkippedEntry } from './restore.js';
import type { PaxWriter } from './tar.js';

/**
 * A mailbox read from a store (an IMAP account) streamed into a backup being written, message by message: each body
 * is read from the store (readMany: one pipelined fetch, with back-pressure) and written as one tar entry (its size
 * goes in the header before its bytes, so one message is held at a time), then the folder's dovecot-uidlist and
 * dovecot-keywords, then the mailbox's subscriptions. Nothing touches the disk but the archive: memory holds one
 * message's bytes, and per message its base name and UID (what the uidlist written after the messages needs).
 *
 * What the archive holds is what `mailshift copy SOURCE MAILDIR` writes (export-layout.ts names it), with the
 * folder selection of a copy (--map, --exclude, virtual folders left out). A transient failure (a reset, BYE,
 * [UNAVAILABLE]) opens the folder again after the engine's back-off and goes on with the messages not written yet;
 * anything that cannot be read is returned in `unread`, with its reason, for the caller to decide on.
 */

export interface StoreExportSource {
  readonly store: MailStore;
  /** How the account is named in names and reports ("imaps://alice@mail.example.com:993"): also part of each message's source key. */
  readonly label: string;
  /** `cpmove-USER/homedir/mail/DOMAIN/LOCAL` (buildMailboxEntryPrefix). */
  readonly prefix: string;
  readonly folders: { readonly maps: readonly FolderMapRule[]; readonly excludes: readonly RegExp[]; readonly skipVirtual: boolean };
  /** `--max-size`: larger messages are left out and listed. */
  readonly maxSizeBytes?: number;
  /** Transient failures in a row, per folder, before it is given up (`--retries`; default 6), and the first back-off. */
  readonly retries?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
}

export interface StoreExportOutcome {
  readonly files: number;
  readonly bytes: number;
  readonly messages: number;
  /** Left out as asked (--max-size): listed, and the run is partial. */
  readonly skipped: SkippedEntry[];
  /** Folders and messages that could not be read: the archive is missing them. */
  readonly unread: SkippedEntry[];
}

const fileMode = 0o600;
const dirMode = 0o755;

export async function writeStoreMailbox(writer: PaxWriter, source: StoreExportSource, options: { readonly signal?: AbortSignal; readonly logger: Logger }): Promise<StoreExportOutcome> {
  const { store, label, prefix } = source;
  const { signal, logger } = options;
  const outcome = { files: 0, bytes: 0, messages: 0, skipped: [] as SkippedEntry[], unread: [] as SkippedEntry[] };
  const nowSec = () => Date.now() / 1000;
  const addFile = async (name: string, text: string) => {
    const body = Buffer.from(text);
    await writer.add({ name, type: 'file', size: body.length, mode: fileMode, mtimeSec: nowSec() }, [body]);
    outcome.files += 1;
    outcome.bytes += body.length;
  };

  const listed = await withRetries(source, signal, logger, 'listing the folders', () => collect(store.listMailboxes(signal)));
  for (const each of store.skippedFolders ?? []) outcome.unread.push({ item: `${label} folder ${each.directory}`, reason: each.reason });
  const rows = planFolderMapping(listed as FolderEntry[], [], source.folders);
  /** Source folders by the archive folder they go to: two mapped to one (--map) share its directory and uidlist. */
  const groups = new Map<string, { folder: ExportFolder; sources: MailboxPath[] }>();
  for (const row of rows) {
    if (row.action === 'skip') {
      // Left out as asked (--exclude, or a virtual folder whose mail is in the others); any other reason is mail missing.
      const isAsked = source.folders.excludes.some((pattern) => pattern.test(row.source)) || /virtual folder/.test(row.reason);
      if (isAsked) logger.info(`${row.source}: not exported (${row.reason})`);
      else outcome.unread.push({ item: `${label} folder ${row.source}`, reason: row.reason });
      continue;
    }
    let folder: ExportFolder;
    try {
      folder = new ExportFolder(prefix, row.target);
    } catch (err) {
      if (!(err instanceof FolderNameError)) throw err;
      outcome.unread.push({ item: `${label} folder ${row.source}`, reason: err.message });
      continue;
    }
    const group = groups.get(folder.dir) ?? { folder, sources: [] };
    group.sources.push(row.source);
    groups.set(folder.dir, group);
  }
  // INBOX (the mailbox's own directory) first, then folders by name: the order of `tar -t`.
  const ordered = [...groups.values()].sort((a, b) => (a.folder.isInbox ? -1 : b.folder.isInbox ? 1 : a.folder.dir < b.folder.dir ? -1 : 1));
  if (!ordered.some((group) => group.folder.isInbox)) ordered.unshift({ folder: new ExportFolder(prefix, 'INBOX'), sources: [] });

  for (const { folder, sources } of ordered) {
    throwIfAborted(signal);
    for (const name of folder.directoryNames()) await writer.add({ name, type: 'directory', mode: dirMode, mtimeSec: nowSec() });
    for (const sourcePath of sources) {
      const written = await exportSourceFolder(writer, source, folder, sourcePath, outcome, options);
      outcome.messages += written.messages;
      outcome.bytes += written.bytes;
      outcome.files += written.messages;
    }
    // After the messages: a tar entry's size comes first, and the uidlist names every message of the folder.
    if (!folder.isInbox) await addFile(`${folder.dir}/maildirfolder`, '');
    const uidlist = folder.formatUidlist();
    if (uidlist !== undefined) await addFile(`${folder.dir}/dovecot-uidlist`, uidlist);
    const keywords = folder.formatKeywords();
    if (keywords !== undefined) await addFile(`${folder.dir}/dovecot-keywords`, keywords);
    if (folder.renumbered > 0) logger.warn(`${folder.mailbox}: ${folder.renumbered} message(s) from a second source folder mapped here got new UIDs`);
  }
  const subscriptions = formatExportSubscriptions(ordered.map((group) => group.folder.mailbox));
  if (subscriptions !== undefined) await addFile(`${prefix}/subscriptions`, subscriptions);
  return outcome;
}

/**
 * One source folder's messages into `folder`, with retries: after a transient failure the folder is opened again
 * and listed, and what was written already is passed over (by message id, under an unchanged UIDVALIDITY).
 */
async function exportSourceFolder(
  writer: PaxWriter,
  source: StoreExportSource,
  folder: ExportFolder,
  sourcePath: MailboxPath,
  outcome: { readonly skipped: SkippedEntry[]; readonly unread: SkippedEntry[] },
  options: { readonly signal?: AbortSignal; readonly logger: Logger },
): Promise<{ messages: number; bytes: number }> {
  const { store, label } = source;
  const { signal, logger } = options;
  const written = new Set<string>();
  /** Problems and oversized messages already reported: a retry lists them again. */
  const noted = new Set<string>();
  const counts = { messages: 0, bytes: 0 };
  let uidValidity: number | undefined;
  let failuresInRow = 0;
  const itemOf = (ref: MessageRef) => `${label} ${sourcePath} ${ref.uid !== undefined ? `UID ${ref.uid}` : ref.id}`;
  for (;;) {
    let box: Mailbox | undefined;
    let toRead: ListedMessage[] | undefined;
    const before = counts.messages;
    try {
      box = await store.openMailbox(sourcePath, 'read');
      const status = await box.status();
      if (uidValidity !== undefined && status.uidValidity !== uidValidity) {
        throw new MailshiftError('MAILSHIFT_EXPORT_INCOMPLETE', `${label}: folder "${sourcePath}" changed its UIDVALIDITY (${uidValidity} -> ${status.uidValidity}) while it was exported`, {
          scope: 'account',
          hint: 'the server renumbered the folder; run the export again',
        });
      }
      uidValidity = status.uidValidity;
      const keyPrefix = buildSourceKeyPrefix(label, sourcePath, status.uidValidity ?? 0);
      const uidSource = status.uidValidity !== undefined && status.uidNext !== undefined ? { uidValidity: status.uidValidity, nextUid: status.uidNext } : undefined;
      // Set once the listing is whole: a listing that fails leaves the folder as one unread item below, never as
      // an empty list of messages missing.
      const listing: ListedMessage[] = [];
      for await (const ref of box.list(signal)) {
        if (written.has(ref.id)) continue;
        const isNoted = noted.has(ref.id);
        if (ref.problem) {
          if (!isNoted) outcome.unread.push({ item: itemOf(ref), reason: ref.problem.message });
        } else if (source.maxSizeBytes !== undefined && ref.sizeBytes !== undefined && ref.sizeBytes > source.maxSizeBytes) {
          if (!isNoted) outcome.skipped.push({ item: itemOf(ref), reason: `larger than --max-size (${ref.sizeBytes} bytes)` });
        } else {
          listing.push(ref);
          continue;
        }
        noted.add(ref.id);
      }
      toRead = listing;
      toRead.sort((a, b) => (a.uid ?? Number.MAX_SAFE_INTEGER) - (b.uid ?? Number.MAX_SAFE_INTEGER));
      const toLf = store.caps.crlf;
      for await (const { ref, content } of readBodies(box, toRead, signal, (ref, reason) => outcome.unread.push({ item: itemOf(ref), reason }))) {
        throwIfAborted(signal);
        // IMAP sends CRLF; a maildir keeps LF (engine/messages/context.ts decideLineEndings), and so does the archive.
        const converted = toLf ? toLfInPlace(content) : { content, virtualSizeBytes: countVirtualSize(content) };
        const body = converted.content;
        const listedRef = ref as ListedMessage;
        const internalDate = listedRef.internalDate ?? new Date();
        const placed = folder.place(
          {
            sourceKey: `${keyPrefix}${listedRef.uid ?? listedRef.id}`,
            ...(listedRef.uid !== undefined ? { uid: listedRef.uid } : {}),
            flags: listedRef.flags,
            keywords: listedRef.keywords,
            internalDate,
            sizeBytes: body.length,
            virtualSizeBytes: converted.virtualSizeBytes,
          },
          uidSource,
        );
        if (placed.droppedKeywords.length > 0) logger.warn(`${itemOf(ref)}: keyword(s) ${placed.droppedKeywords.join(', ')} cannot be kept in a maildir name; the message is exported without them`);
        await writer.add({ name: placed.name, type: 'file', size: body.length, mode: fileMode, mtimeSec: internalDate.getTime() / 1000 }, [body]);
        written.add(ref.id);
        counts.messages += 1;
        counts.bytes += body.length;
      }
      const vanished = toRead.filter((ref) => !written.has(ref.id)).length;
      if (vanished > 0) logger.info(`${sourcePath}: ${vanished} message(s) were expunged on the server while the folder was exported`);
      logger.info(`${sourcePath}: ${counts.messages} message(s) exported`);
      return counts;
    } catch (err) {
      if (!isMailshiftError(err) || signal?.aborted || err.scope === 'account' || err.scope === 'run') throw err;
      if (err.retry === 'later') {
        if (counts.messages > before) failuresInRow = 0;
        failuresInRow += 1;
        if (failuresInRow <= (source.retries ?? 6)) {
          const delayMs = decideBackoffMs(failuresInRow, source.retryBaseMs ?? 2_000, source.retryMaxMs ?? 300_000, retryAfterMs(err));
          logger.warn(`${sourcePath}: ${err.message}; going on in ${(delayMs / 1000).toFixed(1)} s (${failuresInRow}/${source.retries ?? 6})`);
          await sleep(delayMs, signal);
          continue;
        }
      }
      // The folder cannot be read (further): whatever it holds that is not in the archive is listed with the reason.
      if (toRead === undefined) outcome.unread.push({ item: `${label} folder ${sourcePath}`, reason: err.message });
      else for (const ref of toRead) if (!written.has(ref.id)) outcome.unread.push({ item: itemOf(ref), reason: err.message });
      return counts;
    } finally {
      await box?.[Symbol.asyncDispose]();
    }
  }
}

/** RFC822.SIZE of a message kept with LF line ends: every bare LF counts as CRLF. */
function countVirtualSize(content: Buffer): number {
  let bareLf = 0;
  for (let i = content.indexOf(0x0a); i >= 0; i = content.indexOf(0x0a, i + 1)) if (i === 0 || content[i - 1] !== 0x0d) bareLf += 1;
  return content.length + bareLf;
}

/** A whole-store step (the folder listing) again after transient failures, with the engine's back-off. */
async function withRetries<T>(source: StoreExportSource, signal: AbortSignal | undefined, logger: Logger, what: string, step: () => Promise<T>): Promise<T> {
  const retries = source.retries ?? 6;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await step();
    } catch (err) {
      if (!isMailshiftError(err) || err.retry !== 'later' || signal?.aborted || attempt > retries) throw err;
      const delayMs = decideBackoffMs(attempt, source.retryBaseMs ?? 2_000, source.retryMaxMs ?? 300_000, retryAfterMs(err));
      logger.warn(`${what}: ${err.message}; retrying in ${(delayMs / 1000).toFixed(1)} s (${attempt}/${retries})`);
      await sleep(delayMs, signal);
    }
  }
}
