import type { MailboxPath } from '../../core/types.js';
import type { ListedMessage, MailStore } from '../../stores/store.js';
import type { MessageIdentity } from '../identity.js';
import type { SyncStateFile } from '../state.js';
import type { StoreCopyOptions, StoreDescription } from './copy.js';
import type { ConnectionBudget } from './connection-budget.js';
import type { BytePacer } from './pacing.js';
import type { FolderCopyReport } from './report.js';

/** What every step of one folder's copy shares: the two stores, the options, the state, and the run's counters. */
export interface FolderContext {
  readonly source: StoreDescription;
  readonly target: StoreDescription;
  readonly options: StoreCopyOptions;
  readonly signal: AbortSignal;
  /** The incremental state, to read and update; undefined in a dry run. */
  readonly state: SyncStateFile | undefined;
  /** The state as saved by earlier runs, to read only (also in a dry run). */
  readonly savedState: SyncStateFile | undefined;
  readonly lineEndings: 'as-is' | 'lf';
  /** `--max-bytes-per-second` and `--max-bytes`, shared by every folder of the run. */
  readonly pacer: BytePacer;
  readonly sizeIsComparable: boolean;
  readonly onCopied: (bytes: number, sourceBytes: number | undefined) => void;
  /** A folder's listing is done: with what earlier attempts copied, this many messages (source bytes) in all. */
  readonly onPlanned: (folder: FolderCopyReport, messages: number, bytes: number) => void;
  appendLanes: number;
  /** The connections each side may hold: one per folder copied, the spare ones lent to a large folder's reads. */
  readonly connections: ConnectionBudget;
}

/**
 * IMAP sends CRLF; a maildir stores LF (Dovecot converts on save, and so does every other maildir writer): an IMAP
 * message written to a maildir gets LF line ends, so its bytes equal what the source server had on disk.
 */
export function decideLineEndings(source: MailStore, target: MailStore): 'as-is' | 'lf' {
  return source.caps.crlf && !target.caps.crlf ? 'lf' : 'as-is';
}

/** A source message to copy, with its identity once the target holds anything to compare with. */
export interface Candidate {
  readonly ref: ListedMessage;
  identity?: MessageIdentity;
}

/** A target message, by identity; taken once a source message is paired with it. */
export interface TargetEntry {
  readonly ref: ListedMessage;
  readonly identity: MessageIdentity;
  isTaken: boolean;
}

/** What IncomingMessage.sourceKey starts with for a folder's messages; the UID follows. */
export function buildSourceKeyPrefix(sourceLabel: string, folder: MailboxPath, uidValidity: number): string {
  return `${sourceLabel}\u0000${folder}\u0000${uidValidity}\u0000`;
}
