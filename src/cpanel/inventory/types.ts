import type { MailboxPath } from '../../core/types.js';

/**
 * What src/cpanel/inventory reads from a cPanel server tree. All paths are relative to ROOT, '/'-separated, never
 * starting with '/' (so a report from a mounted copy reads the same as one from the live server).
 */

export type MailboxFormat = 'maildir' | 'mbox' | 'mdbox' | 'unknown';

/** Where an account was seen (cpanel-layout.md §4.4/§4.5/§3.1). */
export type AccountSource = 'trueuserdomains' | 'userdomains' | 'cpuser' | 'home-passwd';

export interface CpanelAccountRef {
  readonly user: string;
  readonly sources: readonly AccountSource[];
  /** Home directory as configured (ROOT/etc/passwd field 6, else home/USER), before links are resolved. */
  readonly homeConfigured: string;
  readonly domainsFromMaps: readonly string[];
  readonly primaryDomainFromMaps?: string;
}

/** Things seen on disk that a migration must know about. Never followed, never opened when unsafe. */
export type FindingKind =
  /** a link whose target (read as text) leaves the account's home (or ROOT) */
  | 'symlink-outside-account'
  /** a link that stays inside the account, where cPanel does not put one; not followed */
  | 'symlink-inside-account'
  /** a link whose in-account target does not exist */
  | 'dangling-symlink'
  /** a name with control characters, invalid UTF-8, "/", or ".." where the name becomes a path */
  | 'unsafe-name'
  /** a name that is not valid UTF-8: discover cannot open it by name, copy carries its bytes as they are */
  | 'undecodable-name'
  /** EACCES/EPERM from the kernel, or a file whose mode lets nobody read it (only root's override could) */
  | 'unreadable'
  /** a FIFO, socket or device where a message or control file should be */
  | 'special-file'
  /** a message file with far fewer blocks than its length: copying it writes the full length */
  | 'sparse-file'
  /** a message file whose name claims a huge size (",S=") that its length does not have */
  | 'size-mismatch'
  | 'empty-message'
  /** a Maildir++ folder name that is not valid modified UTF-7 (kept under its raw name) */
  | 'undecodable-folder-name'
  /** a control file longer than discover reads */
  | 'truncated-read';

export interface Finding {
  readonly kind: FindingKind;
  readonly path: string;
  readonly detail: string;
  /** Link target text, for link findings. */
  readonly target?: string;
  readonly errno?: string;
}

export interface FolderInventory {
  /** '/'-separated UTF-8, INBOX canonical. */
  readonly name: MailboxPath;
  /** Directory (maildir) or file (mbox) name on disk, relative to the mailbox root; '' for a maildir INBOX. */
  readonly onDisk: string;
  /** null when the format does not allow counting from the file system (mdbox). */
  readonly messages: number | null;
  readonly sizeBytes: number;
  /** Epoch ms of the newest delivery: Dovecot's "<secs>." name prefix for maildir, file mtime for mbox. */
  readonly newestDeliveryMs: number | null;
  /** Files in tmp/ (deliveries in progress or abandoned; not messages); null when not counted (counted with --stat). */
  readonly tmpFiles: number | null;
  /** Messages whose size was taken from the file system because the name had no ",S=". */
  readonly statted: number;
}

export interface MaildirsizeInfo {
  /** Bytes limit from line 1 ("<n>S"); null = 0 = unlimited. */
  readonly limitBytes: number | null;
  readonly limitMessages: number | null;
  /** Sum of the delta lines. */
  readonly usedBytes: number;
  readonly usedMessages: number;
  readonly fileBytes: number;
}

export interface QuotaInfo {
  /** The limit that applies: etc/DOMAIN/quota (authoritative), else maildirsize; null = unlimited. */
  readonly limitBytes: number | null;
  readonly source: 'etc-quota' | 'maildirsize' | 'none';
  /** Value from etc/DOMAIN/quota; null = unlimited or no line. */
  readonly etcQuotaBytes: number | null;
  readonly maildirsize: MaildirsizeInfo | null;
}

/** 'set' a hash is present; 'locked' it starts with '!' (suspended); 'empty' no hash; 'missing' no shadow line; 'system' the account's own login. */
export type PasswordState = 'set' | 'locked' | 'empty' | 'missing' | 'system';

export interface MailboxInventory {
  /** "local@domain"; the default mailbox uses the cPanel user name. */
  readonly address: string;
  readonly kind: 'default' | 'virtual';
  readonly localPart: string;
  readonly domain: string | null;
  /** Mailbox root (maildir root, mbox directory, mdbox root). */
  readonly path: string;
  /** 'dir' = a real directory was found; 'missing' = none; 'link' = a symlink stands there (not followed). */
  readonly onDisk: 'dir' | 'missing' | 'link' | 'other';
  readonly format: MailboxFormat;
  /** How messages were counted: from names in cur/ and new/, from mbox From_ lines (an estimate), or not at all. */
  readonly countMethod: 'maildir-names' | 'mbox-from-lines' | 'none';
  readonly folders: FolderInventory[];
  readonly messages: number | null;
  readonly sizeBytes: number;
  readonly newestDeliveryMs: number | null;
  readonly quota: QuotaInfo;
  readonly password: PasswordState;
  /** Listed in etc/DOMAIN/passwd (always false for the default mailbox, which has no such line). */
  readonly inPasswd: boolean;
  readonly hasFilter: boolean;
  readonly hasRoundcubeDb: boolean;
}

export interface DomainInfo {
  readonly name: string;
  readonly sources: readonly ('cpuser' | 'userdomains' | 'trueuserdomains' | 'etc-dir' | 'mail-dir')[];
}

export interface ForwarderInfo {
  readonly address: string;
  readonly destinations: readonly string[];
  /** 'autoresponder' = cPanel's autorespond pipe; 'pipe' any other program; 'fail'/'blackhole'/'defer' special actions. */
  readonly kind: 'forward' | 'autoresponder' | 'pipe' | 'file' | 'fail' | 'blackhole' | 'defer' | 'include';
}

export interface CatchAllInfo {
  readonly domain: string;
  /** The raw "*:" value, e.g. ":fail: No Such User Here", ":blackhole:", the user name, an address. */
  readonly action: string;
  readonly kind: 'fail' | 'blackhole' | 'defer' | 'default-mailbox' | 'forward' | 'pipe' | 'file' | 'include';
}

export interface DomainForwarderInfo {
  readonly domain: string;
  readonly target: string;
}

export interface FilterInfo {
  /** /etc/vfilters/DOMAIN with at least one rule. */
  readonly accountFilters: readonly { readonly domain: string; readonly rules: number }[];
  /** ~/.cpanel/filter.yaml present. */
  readonly accountRuleStore: boolean;
  /** ~/etc/filter present (filters of the default mailbox). */
  readonly defaultMailboxFilter: boolean;
  /** Addresses with ~/etc/DOMAIN/LOCAL/filter. */
  readonly mailboxFilters: readonly string[];
}

export interface AutoresponderInfo {
  readonly address: string;
  readonly hasSettings: boolean;
  /** Epoch seconds from ADDRESS.json / .conf; null = no bound. */
  readonly start: number | null;
  readonly stop: number | null;
  readonly intervalHours: number | null;
}

export interface SpamAssassinInfo {
  readonly enabled: boolean;
  readonly disabled: boolean;
  readonly spamBox: boolean;
  readonly userPrefs: boolean;
  readonly bayes: boolean;
}

export interface WebmailInfo {
  readonly horde: { readonly present: boolean; readonly sizeBytes: number };
  readonly squirrelmail: { readonly present: boolean; readonly files: number };
  /** Root-relative paths of Roundcube SQLite databases (~/etc/USER.rcube.db, ~/etc/DOMAIN/LOCAL.rcube.db). */
  readonly roundcube: { readonly present: boolean; readonly databases: readonly string[] };
}

export interface CpuserInfo {
  readonly mailboxFormat: string | null;
  readonly utf8MailboxNames: boolean;
  readonly suspended: boolean;
  readonly domains: readonly string[];
  readonly primaryDomain: string | null;
  readonly maxEmailQuota: string | null;
  readonly owner: string | null;
  readonly plan: string | null;
}

export interface CpanelAccount {
  readonly user: string;
  readonly sources: readonly AccountSource[];
  /** Resolved home (system links followed inside ROOT); null when it could not be used. */
  readonly home: string | null;
  readonly homeConfigured: string;
  readonly cpuser: CpuserInfo | null;
  readonly primaryDomain: string | null;
  readonly domains: readonly DomainInfo[];
  /** Contents of ~/mail/mailbox_format.cpanel. */
  readonly formatMarker: string | null;
  /**
   * The account's own mailbox (~/mail) first, then virtual mailboxes sorted by address: every passwd line and
   * every mail directory, so orphans show as inPasswd=false (a directory nobody can log in to) or onDisk='missing'.
   */
  readonly mailboxes: MailboxInventory[];
  readonly forwarders: readonly ForwarderInfo[];
  readonly catchAlls: readonly CatchAllInfo[];
  readonly domainForwarders: readonly DomainForwarderInfo[];
  readonly filters: FilterInfo;
  readonly autoresponders: readonly AutoresponderInfo[];
  readonly spamAssassin: SpamAssassinInfo;
  readonly webmail: WebmailInfo;
  readonly findings: readonly Finding[];
  /** Findings not kept because the per-account cap was reached. */
  readonly findingsDropped: number;
}
