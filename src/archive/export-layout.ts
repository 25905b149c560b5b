import { formatSubscriptionsV2 } from '../../converters/folders/subscriptions.js';
import { mailboxPathToMaildirpp, maildirppToMailboxPath } from '../../converters/folders/maildirpp.js';
import { buildConvertedBaseName, formatInfo, formatMaildirName, passedKeyword } from '../../converters/maildir/filename.js';
import { formatDovecotKeywords, isValidKeyword, KeywordAllocator } from '../../converters/maildir/keywords.js';
import { formatUidlistHeader } from '../../converters/maildir/uidlist.js';
import type { MailboxPath, SystemFlag } from '../core/types.js';
import { hashSourceKey } from '../stores/maildir/index.js';

/**
 * Where a mailbox read from a store (an IMAP account) goes inside a cPanel backup, and what each of its files is
 * called and holds: the maildir++ tree the maildir store would write for the same messages, as tar entry names and
 * control-file texts. Pure: the streamed export (export-store.ts) writes what this decides.
 *
 *   cpmove-USER/homedir/mail/DOMAIN/LOCAL/{cur,new,tmp}/                     INBOX
 *   cpmove-USER/homedir/mail/DOMAIN/LOCAL/.A.B/cur/BASE:2,FLAGS              folder A/B (names as the maildir store encodes them)
 *   .../.A.B/dovecot-uidlist, .../.A.B/dovecot-keywords, .../.A.B/maildirfolder, .../LOCAL/subscriptions
 *
 * Names, flag letters, keyword letters and base names come from the same converters the maildir store uses (and the
 * base from its hashSourceKey), so a message exported here has the name a `mailshift copy` into a maildir gives it:
 * a later copy from the same account into the restored maildir recognises it and adds nothing twice.
 */

/** `cpmove-USER/homedir/mail/DOMAIN/LOCAL`: the mailbox's directory in the backup, without a trailing '/'. */
export function buildMailboxEntryPrefix(user: string, mailbox: { readonly localPart: string; readonly domain: string }): string {
  return `cpmove-${user}/homedir/mail/${mailbox.domain}/${mailbox.localPart}`;
}

/** A message as the export places it: what the store listed, and its bytes' sizes after the line-end conversion. */
export interface ExportedMessage {
  /** IMAP: account, folder, UIDVALIDITY and UID (engine/messages/context.ts buildSourceKeyPrefix + UID). */
  readonly sourceKey: string;
  readonly uid?: number;
  readonly flags: ReadonlySet<SystemFlag>;
  readonly keywords: ReadonlySet<string>;
  readonly internalDate: Date;
  readonly sizeBytes: number;
  /** RFC822.SIZE: every line end counted as CRLF (Dovecot's W=). */
  readonly virtualSizeBytes: number;
}

/** The source folder's UIDs, kept in the archive's dovecot-uidlist where they can be. */
export interface UidSource {
  readonly uidValidity: number;
  readonly nextUid: number;
}

export interface PlacedMessage {
  /** The tar entry name. */
  readonly name: string;
  readonly uid: number;
  /** Keywords no maildir name can carry (not an IMAP atom, or past the 26 letters): the message is kept without them. */
  readonly droppedKeywords: readonly string[];
}

/**
 * One maildir++ folder of the exported mailbox: names its messages as they come and keeps what its dovecot-uidlist
 * and dovecot-keywords must say once they are all written. Per message it keeps one base name and one UID, as the
 * maildir store's folder does (MaildirFolder): the uidlist follows the messages, since a tar entry's size is written
 * before its bytes.
 */
export class ExportFolder {
  /** `PREFIX/.A.B` or `PREFIX` for INBOX. */
  readonly dir: string;
  readonly isInbox: boolean;
  private readonly keywords = new KeywordAllocator();
  private readonly bases: string[] = [];
  private readonly uids: number[] = [];
  private readonly usedUids = new Set<number>();
  private uidValidity: number | undefined;
  private nextUid = 1;
  /** Messages that could not keep their source UID (a second source folder mapped here, or no UID at all). */
  renumbered = 0;

  /** Throws FolderNameError (converters/folders/maildirpp.ts) for a name the maildir store could not write either. */
  constructor(
    prefix: string,
    readonly mailbox: MailboxPath,
    private readonly now: () => Date = () => new Date(),
  ) {
    const dirName = mailboxPathToMaildirpp(mailbox);
    this.isInbox = dirName === '';
    this.dir = this.isInbox ? prefix : `${prefix}/${dirName}`;
  }

  /** The directory entries the folder needs even when empty (a maildir is recognised by its cur/). */
  directoryNames(): string[] {
    return [`${this.dir}/`, `${this.dir}/cur/`, `${this.dir}/new/`, `${this.dir}/tmp/`];
  }

  /**
   * Names a message and records its UID. As the maildir store appends it: cur/ with the flags after `:2,` (the
   * maildir writer never puts an appended message in new/), $Forwarded both as P and as a keyword letter, the base
   * named from the source identity, received time and both sizes.
   */
  place(message: ExportedMessage, uidSource: UidSource | undefined): PlacedMessage {
    const base = buildConvertedBaseName({
      receivedSecs: message.internalDate.getTime() / 1000,
      contentHashHex: hashSourceKey(message.sourceKey),
      ordinal: 0,
      sizeBytes: message.sizeBytes,
      virtualSizeBytes: message.virtualSizeBytes,
    });
    const keywordIndexes: number[] = [];
    const droppedKeywords: string[] = [];
    for (const keyword of message.keywords) {
      const index = isValidKeyword(keyword) ? this.keywords.indexOf(keyword) : undefined;
      if (index === undefined) droppedKeywords.push(keyword);
      else keywordIndexes.push(index);
    }
    const info = formatInfo(message.flags, keywordIndexes, { passed: message.keywords.has(passedKeyword) });
    const uid = this.assignUid(message.uid, uidSource);
    this.bases.push(base);
    this.uids.push(uid);
    return { name: `${this.dir}/cur/${formatMaildirName(base, info)}`, uid, droppedKeywords };
  }

  /**
   * The source's UID when it can be kept (same UIDVALIDITY as the folder took, not used yet), else the next free one,
   * as MaildirFolder does for a fresh folder: the first source folder's UIDVALIDITY and UIDNEXT become the folder's.
   */
  private assignUid(sourceUid: number | undefined, uidSource: UidSource | undefined): number {
    if (this.uidValidity === undefined) {
      this.uidValidity = uidSource?.uidValidity ?? Math.floor(this.now().getTime() / 1000);
      this.nextUid = uidSource?.nextUid ?? 1;
    }
    let uid: number;
    if (sourceUid !== undefined && uidSource?.uidValidity === this.uidValidity && !this.usedUids.has(sourceUid)) {
      uid = sourceUid;
    } else {
      if (sourceUid !== undefined) this.renumbered += 1;
      while (this.usedUids.has(this.nextUid)) this.nextUid += 1;
      uid = this.nextUid;
    }
    this.usedUids.add(uid);
    if (uid >= this.nextUid) this.nextUid = uid + 1;
    return uid;
  }

  get messageCount(): number {
    return this.bases.length;
  }

  /**
   * dovecot-uidlist version 3, records sorted by UID, each naming the base only (Dovecot matches by base name, and
   * the maildir store writes them so). Undefined for a folder without messages: Dovecot makes its own.
   */
  formatUidlist(): string | undefined {
    if (this.uidValidity === undefined || this.bases.length === 0) return undefined;
    const order = Array.from(this.uids.keys()).sort((a, b) => this.uids[a]! - this.uids[b]!);
    let text = formatUidlistHeader({ uidValidity: this.uidValidity, nextUid: this.nextUid, headerFields: new Map() });
    for (const at of order) text += `${this.uids[at]} :${this.bases[at]}\n`;
    return text;
  }

  /** dovecot-keywords, when any message carried a keyword. */
  formatKeywords(): string | undefined {
    const table = this.keywords.table();
    return table.size > 0 ? formatDovecotKeywords(table) : undefined;
  }
}

/**
 * The mailbox's `subscriptions`: every exported folder but INBOX, under the name its directory decodes to (as
 * MaildirTarget.subscribe writes it). The store interface does not say what the account subscribed to, so a client
 * of the restored mailbox shows every folder.
 */
export function formatExportSubscriptions(folders: Iterable<MailboxPath>): string | undefined {
  const names = [...folders].filter((name) => mailboxPathToMaildirpp(name) !== '').map((name) => maildirppToMailboxPath(mailboxPathToMaildirpp(name)));
  return names.length > 0 ? formatSubscriptionsV2(names) : undefined;
}
