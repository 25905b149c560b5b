import type { CpanelAccount, Finding, FindingKind } from '../cpanel/inventory/types.js';

/**
 * Deciding what a migration must be warned about, from what src/cpanel/inventory read. Pure: same account data and
 * options, same warnings, in the same order.
 */

export type WarningKind =
  | FindingKind
  /** the mailbox is larger than --target-quota: it will not fit the new plan */
  | 'larger-than-target-quota'
  /** the mailbox uses more than its own quota on the source */
  | 'over-quota'
  /** a mail directory with no line in ~/etc/DOMAIN/passwd: nobody can log in to it */
  | 'orphan-mail-dir'
  /** a passwd line with no mail directory */
  | 'orphan-passwd-entry'
  /** a home with mailboxes, but no var/cpanel/users file */
  | 'account-not-in-cpanel'
  /** a cPanel account whose home directory is missing or unusable */
  | 'account-without-home'
  /** mdbox is reported, not copied at file level */
  | 'mdbox-not-file-copyable'
  /** mbox mailboxes are converted, not rsynced */
  | 'mbox-needs-conversion'
  /** more findings than the per-account cap */
  | 'findings-dropped';

/** 'unsafe' warnings make discover exit 3: the tree holds something a copy must not follow or cannot read. */
export type WarningSeverity = 'unsafe' | 'warning' | 'notice';

export interface DiscoverWarning {
  readonly kind: WarningKind;
  readonly severity: WarningSeverity;
  readonly account: string | null;
  /** Address of the mailbox concerned, when there is one. */
  readonly mailbox: string | null;
  /** Root-relative path, when there is one. */
  readonly path: string | null;
  readonly message: string;
  /** Link target text, for link warnings. */
  readonly target?: string;
}

const severities: Record<WarningKind, WarningSeverity> = {
  'symlink-outside-account': 'unsafe',
  'unsafe-name': 'unsafe',
  'undecodable-name': 'warning',
  unreadable: 'unsafe',
  'special-file': 'unsafe',
  // copy and resync refuse these too (cpanel/unsafe.ts): a copy would write every hole, or trust a false size.
  'sparse-file': 'unsafe',
  'size-mismatch': 'unsafe',
  'larger-than-target-quota': 'warning',
  'over-quota': 'warning',
  'orphan-mail-dir': 'warning',
  'orphan-passwd-entry': 'warning',
  'account-not-in-cpanel': 'warning',
  'account-without-home': 'warning',
  'dangling-symlink': 'warning',
  'truncated-read': 'warning',
  'findings-dropped': 'warning',
  'symlink-inside-account': 'notice',
  'empty-message': 'notice',
  'undecodable-folder-name': 'notice',
  'mdbox-not-file-copyable': 'notice',
  'mbox-needs-conversion': 'notice',
};

export function severityOf(kind: WarningKind): WarningSeverity {
  return severities[kind];
}

export interface WarningOptions {
  /** Mailboxes larger than this get a 'larger-than-target-quota' warning; null = no target plan given. */
  readonly targetQuotaBytes: number | null;
}

function fromFinding(account: string | null, finding: Finding): DiscoverWarning {
  return {
    kind: finding.kind,
    severity: severityOf(finding.kind),
    account,
    mailbox: null,
    path: finding.path,
    message: finding.detail,
    ...(finding.target !== undefined ? { target: finding.target } : {}),
  };
}

/** Warnings for findings outside any account (links in /etc, unsafe account names). */
export function decideServerWarnings(findings: readonly Finding[]): DiscoverWarning[] {
  return findings.map((f) => fromFinding(null, f));
}

const formatBytesPlain = (n: number) => `${n} bytes`;

export function decideAccountWarnings(account: CpanelAccount, options: WarningOptions): DiscoverWarning[] {
  const out: DiscoverWarning[] = [];
  const user = account.user;
  const add = (kind: WarningKind, mailbox: string | null, path: string | null, message: string) =>
    out.push({ kind, severity: severityOf(kind), account: user, mailbox, path, message });

  if (!account.sources.includes('cpuser')) {
    add('account-not-in-cpanel', null, account.home, `account ${user} has mail under ${account.home ?? account.homeConfigured} but no var/cpanel/users/${user}`);
  }
  if (account.home === null) {
    add('account-without-home', null, account.homeConfigured, `home directory ${account.homeConfigured} of ${user} is missing or unusable; its mail was not inventoried`);
  }
  for (const mb of account.mailboxes) {
    if (mb.kind === 'virtual' && !mb.inPasswd && mb.onDisk === 'dir') {
      add('orphan-mail-dir', mb.address, mb.path, `${mb.path} holds mail but ${mb.address} has no line in ~/etc/${mb.domain}/passwd`);
    }
    if (mb.kind === 'virtual' && mb.inPasswd && mb.onDisk === 'missing') {
      add('orphan-passwd-entry', mb.address, mb.path, `${mb.address} is in ~/etc/${mb.domain}/passwd but ${mb.path} does not exist`);
    }
    if (options.targetQuotaBytes !== null && mb.sizeBytes > options.targetQuotaBytes) {
      add('larger-than-target-quota', mb.address, mb.path, `${mb.address} holds ${formatBytesPlain(mb.sizeBytes)}, more than the target quota of ${formatBytesPlain(options.targetQuotaBytes)}`);
    }
    if (mb.quota.limitBytes !== null && mb.sizeBytes > mb.quota.limitBytes) {
      add('over-quota', mb.address, mb.path, `${mb.address} holds ${formatBytesPlain(mb.sizeBytes)}, over its own quota of ${formatBytesPlain(mb.quota.limitBytes)} (${mb.quota.source})`);
    }
    if (mb.format === 'mdbox' && mb.onDisk === 'dir') {
      add('mdbox-not-file-copyable', mb.address, mb.path, `${mb.address} is mdbox: convert it to maildir on the source (cPanel's convert_mdbox_to_maildir) or copy over IMAP`);
    }
    if (mb.format === 'mbox' && mb.onDisk === 'dir') {
      add('mbox-needs-conversion', mb.address, mb.path, `${mb.address} is mbox (message counts are From_ line counts): use mailshift convert`);
    }
  }
  for (const finding of account.findings) out.push(fromFinding(user, finding));
  if (account.findingsDropped > 0) add('findings-dropped', null, account.home, `${account.findingsDropped} more findings in ${user} were not kept`);
  return out;
}
