import type { Readable } from 'node:stream';
import type { MailshiftError } from '../core/errors.js';
import type { IncomingMessage, MailboxPath, MessageRef, SpecialUse, SystemFlag } from '../core/types.js';

/**
 * THE store interface. Every source and target of the message engine (maildir, mbox, IMAP) implements it; the engine
 * and verify see only this file (and open.ts, spec.ts, probe.ts, dry-run.ts), never a driver: what differs between stores is said
 * by `caps` and by the optional members, never by `kind`. One contract suite (test/stores/contract.ts) runs against
 * every store (maildir, mbox, IMAP on Dovecot, and an in-memory store that proves it is not tied to files).
 *
 * Ownership: a store owns its connections and file handles and releases them on dispose. Listing is metadata only
 * (dsync's "metadata first, bodies on demand"); bodies are read on request, as streams.
 */
/** Which driver: for labels and logs only ('memory' is the contract suite's store); decisions read `caps`. */
export type StoreKind = 'maildir' | 'mbox' | 'imap' | 'memory';

export interface StoreCaps {
  /** Where the files are when the store is a file tree: rsync can be used as a transport between two such stores. */
  readonly files?: { readonly location: 'local' | 'ssh'; readonly layout: 'maildir++' | 'mbox' };
  readonly readable: boolean;
  readonly writable: boolean;
  /**
   * Messages are served and stored with CRLF line ends (IMAP, on the wire). A store without it keeps LF (a maildir:
   * Dovecot converts on save, and so does every other maildir writer), so a message from a CRLF store written to it
   * gets LF line ends.
   */
  readonly crlf: boolean;
  /**
   * ListedMessage.sizeBytes is the server's RFC822.SIZE: two stores that both say so count the same message alike, so
   * a size that differs tells two messages apart. File sizes (LF, or a Dovecot ,S= size) are not compared.
   */
  readonly sizeComparable: boolean;
  /** Several Mailbox handles of one folder may append side by side (IMAP: one APPEND at a time per connection). */
  readonly parallelAppend: boolean;
  /**
   * Optional: several Mailbox handles of one folder read side by side, each over a connection of its own (IMAP), so
   * the engine may split a large folder's bodies over the connections no other folder uses.
   */
  readonly parallelRead?: boolean;
  /** `waitForNewMail` can be told of new mail as it arrives (IMAP IDLE), not only by listing again. */
  readonly newMailSignal: boolean;
  /**
   * Messages this store wrote keep the source's identity (a maildir names the file from it), so the flags of what an
   * earlier run copied can be brought over later (Mailbox.updateFlags, `resync --flags source|merge`).
   */
  readonly flagsBySourceKey: boolean;
  /**
   * Optional: the store takes flag updates by its own UID (FlagUpdate.targetUid; IMAP UID STORE), which the engine
   * keeps in the sync state for what it copied (from UIDPLUS's APPENDUID, or found by identity once), so
   * `resync --flags source|merge` can bring flags over although the messages carry no source identity.
   */
  readonly flagsByTargetUid?: boolean;
}

/** What a store that logs in to a server found there (`--justlogin` shows it). */
export interface ServerFacts {
  readonly greeting: string | undefined;
  readonly capabilities: string[];
  /** The personal namespace: prefix and hierarchy delimiter (null for a flat one). */
  readonly namespace: { readonly prefix: string; readonly delimiter: string | null };
  readonly serverId: Record<string, unknown> | undefined;
  /** How it logged in ("password", "password (AUTH=PLAIN)", "OAuth2 access token"): never the secret. */
  readonly credential: string;
}

export interface MailboxInfo {
  readonly path: MailboxPath;
  readonly specialUse?: SpecialUse;
  /** How the name was read when the store had to interpret it (not UTF-8, not modified UTF-7): shown in reports. */
  readonly note?: string;
}

/** A folder the store found but cannot offer, and why (shown as skipped; the run is partial). */
export interface SkippedFolderName {
  readonly directory: string;
  readonly reason: string;
}

export interface MailboxStatus {
  readonly uidValidity?: number;
  readonly uidNext?: number;
  /**
   * The folder's HIGHESTMODSEQ when it was opened, where the store keeps mod-sequences (IMAP CONDSTORE): every flag
   * change after that point gets a higher one (ListOptions.changedSinceModseq).
   */
  readonly highestModseq?: number;
}

export interface ListOptions {
  /** Only messages with a UID above this one (refs without a UID are always listed). */
  readonly afterUid?: number;
  /** Return these raw header fields with each message when that is cheap (IMAP BODY.PEEK[HEADER.FIELDS]). */
  readonly headerFields?: readonly string[];
  /**
   * Only messages whose flags changed after this mod-sequence (IMAP CONDSTORE's CHANGEDSINCE), where the store can
   * say; a store that cannot lists them all. A HIGHESTMODSEQ from MailboxStatus.
   */
  readonly changedSinceModseq?: number;
}

/** A listed message; `headers` holds the requested header fields when the store could return them with the listing. */
export interface ListedMessage extends MessageRef {
  readonly headers?: Buffer;
  /**
   * Set when the store found something that should be a message but cannot serve it (an mbox message cut off, bytes
   * before the first From_ line): a message-level error saying what and where. The caller reports it as skipped and
   * never reads it; reading it throws this error.
   */
  readonly problem?: MailshiftError;
  /**
   * Set by a store that keeps which source message it wrote this one from (a maildir names the file from a hash of
   * IncomingMessage.sourceKey): compare it with Mailbox.sourceKeyFingerprint(sourceKey).
   */
  readonly writtenFrom?: string;
}

/** What the caller will ask of a mailbox it opens, so a store can save round trips (all optional to honour). */
export interface OpenHints {
  /**
   * The caller will list above this UID first (its saved watermark): IMAP sends that listing in the same round trip as
   * EXAMINE, and a list() with this afterUid and no header fields then costs none.
   */
  readonly listAfterUid?: number;
}

export interface MailStore extends AsyncDisposable {
  readonly kind: StoreKind;
  readonly caps: StoreCaps;
  listMailboxes(signal?: AbortSignal): AsyncIterable<MailboxInfo>;
  /** Optional: what the last `listMailboxes` found and could not offer. Never silently left out. */
  readonly skippedFolders?: readonly SkippedFolderName[];
  /**
   * Optional: folders the last `listMailboxes` left out as another namespace's (other users' or shared mail on an IMAP
   * server), as the server names them. Not the account's mail, so not a partial copy; listed so nothing goes unsaid.
   */
  readonly otherNamespaceFolders?: readonly string[];
  /** 'write' creates the mailbox when it is missing. `hints` may be ignored. */
  openMailbox(path: MailboxPath, mode: 'read' | 'write', hints?: OpenHints): Promise<Mailbox>;
  /** Optional, for a store behind a login: what the server said about itself. */
  readonly serverFacts?: ServerFacts;
  /**
   * Optional: waits until new mail arrives in a folder, at most `timeoutMs`, on a connection of its own. 'unsupported'
   * at once when the store cannot be told (caps.newMailSignal false); 'timeout' also when the wait could not be set up
   * (the caller's next poll finds the mail anyway). Ends at once on `signal`.
   */
  waitForNewMail?(path: MailboxPath, timeoutMs: number, signal: AbortSignal): Promise<'new-mail' | 'timeout' | 'unsupported'>;
}

export interface Mailbox extends AsyncDisposable {
  readonly path: MailboxPath;
  status(): Promise<MailboxStatus>;
  /** Metadata only, in store order. A store may honour `options` (IMAP does); callers must not rely on it. */
  list(signal?: AbortSignal, options?: ListOptions): AsyncIterable<ListedMessage>;
  read(ref: MessageRef, signal?: AbortSignal): Promise<Readable>;
  /**
   * Optional: the bodies of many messages in one streamed pass (one IMAP UID FETCH instead of a round trip each), one
   * at a time with back-pressure, in store order. Messages that vanished meanwhile are simply not yielded. Each
   * content buffer is handed over: the caller may change it in place.
   */
  readMany?(refs: readonly MessageRef[], signal?: AbortSignal): AsyncIterable<{ readonly ref: MessageRef; readonly content: Buffer }>;
  /**
   * Idempotent where the store can make it so: a maildir store derives the file name from the content, so appending
   * the same message twice leaves one file. Nothing existing is ever overwritten.
   */
  append(message: IncomingMessage, signal?: AbortSignal): Promise<MessageRef>;
  /**
   * Optional: several messages in one operation, in order; it stops at the first failure. IMAP sends one
   * MULTIAPPEND, which the server stores all or nothing; a maildir queues each message for its writer, so the messages
   * before the one at fault may be stored. Either way the caller may then append them one by one to find the one at
   * fault: appending again is harmless, since a maildir names a file from its content (the same message twice leaves
   * one file) and an IMAP server stored none of them. May return the UIDs the messages got here, in order, where
   * the store knows them (IMAP with UIDPLUS).
   */
  appendMany?(messages: readonly IncomingMessage[], signal?: AbortSignal): Promise<void | readonly (number | undefined)[]>;
  /**
   * Optional: how many append/appendMany calls may be in flight on this handle at once (IMAP pipelines them on its
   * one connection). Default 1: the caller waits for each before the next.
   */
  readonly appendSlots?: number;
  /**
   * Optional, for a store that writes behind its appends (a maildir): returns once every message appended so far is
   * in place and its UID recorded, so the caller may record them as done (a kill -9 after that loses none of them).
   * A store without it has stored a message when append returns.
   */
  checkpoint?(): Promise<void>;
  /** Optional, with ListedMessage.writtenFrom: what `writtenFrom` holds for a message written from this source key. */
  sourceKeyFingerprint?(sourceKey: string): string;
  /**
   * Optional: a message already here, written from a source message by an earlier run that ended before it recorded
   * UIDs (killed), gets the source's UID recorded now, exactly as append would have done; one that already has a UID
   * keeps it. Only on a mailbox opened for writing; recorded when the mailbox is disposed, like appends.
   */
  adoptSourceUid?(ref: MessageRef, source: { readonly uid: number; readonly uidSource: { readonly uidValidity: number; readonly nextUid: number } }): void;
  /**
   * Optional: gives messages this store wrote earlier from a source's identity (IncomingMessage.sourceKey), found by
   * that identity, the source's flags ('source') or the union of both ('merge'). Messages it cannot find (written by
   * another tool, or gone) are counted, never guessed at. With `dryRun`, or on a mailbox opened for reading, it only
   * counts the differences.
   */
  updateFlags?(updates: readonly FlagUpdate[], mode: FlagUpdateMode, options?: { dryRun?: boolean }): Promise<FlagUpdateOutcome>;
}

/** Whose flags a message copied earlier gets: the source's ('source'), or both sides' together ('merge'). */
export type FlagUpdateMode = 'source' | 'merge';

/** `--flags`: keep the target's flags on messages already there ('target', the default), or as FlagUpdateMode says. */
export type FlagsMode = 'target' | FlagUpdateMode;

export interface FlagUpdate {
  readonly sourceKey: string;
  /** The message's UID in the target folder, where the engine knows it (for a store with caps.flagsByTargetUid). */
  readonly targetUid?: number;
  readonly flags: ReadonlySet<SystemFlag>;
  readonly keywords: ReadonlySet<string>;
}

export interface FlagUpdateOutcome {
  /** Messages found whose flags or keywords differ from what the mode asks for. */
  readonly differences: number;
  /** Of those, renamed (changed) now. */
  readonly applied: number;
  /** Not found by their source identity. */
  readonly notFound: number;
  /** Found, but renamed or removed by someone else (a mail client, Dovecot) before we could: left as they are. */
  readonly changedMeanwhile: number;
}
