import type { CpanelAccount, MailboxInventory } from '../cpanel/inventory/types.js';
import type { DiscoverWarning } from './warnings.js';

/**
 * The `mailshift discover --json` document, version 1. Stable: fields are only ever added within a version;
 * renaming or removing one bumps `version`. Sizes are bytes, times ISO 8601 UTC, paths relative to `root`.
 *
 * {
 *   schema: "mailshift.discover", version: 1, generatedAt, root,
 *   options: { targetQuotaBytes: number|null, statEveryMessage: boolean },
 *   totals: { accounts, mailboxes, messages, sizeBytes, warnings: { unsafe, warning, notice } },
 *   accounts: [ {
 *     user, sources[], home, homeConfigured, primaryDomain, domains: [{ name, sources[] }],
 *     mailboxFormat, utf8MailboxNames, suspended,
 *     mailboxes: [ { address, kind: default|virtual, localPart, domain, path, onDisk: dir|missing|link|other,
 *       format: maildir|mbox|mdbox|unknown, countMethod, messages|null, sizeBytes, newestDelivery|null,
 *       quota: { limitBytes|null, source: etc-quota|maildirsize|none, etcQuotaBytes|null,
 *                maildirsize: { limitBytes, limitMessages, usedBytes, usedMessages, fileBytes }|null },
 *       password: set|locked|empty|missing|system, inPasswd, hasFilter, hasRoundcubeDb,
 *       folders: [ { name, onDisk, messages|null, sizeBytes, newestDelivery|null, tmpFiles|null (counted with --stat), statted } ] } ],
 *     forwarders: [ { address, destinations[], kind } ], catchAlls: [ { domain, action, kind } ],
 *     domainForwarders: [ { domain, target } ],
 *     filters: { accountFilters: [ { domain, rules } ], accountRuleStore, defaultMailboxFilter, mailboxFilters[] },
 *     autoresponders: [ { address, hasSettings, start|null, stop|null, intervalHours|null } ],
 *     spamAssassin: { enabled, disabled, spamBox, userPrefs, bayes },
 *     webmail: { horde: { present, sizeBytes }, squirrelmail: { present, files }, roundcube: { present, databases[] } },
 *     totals: { mailboxes, messages, sizeBytes } } ],
 *   warnings: [ { kind, severity: unsafe|warning|notice, account|null, mailbox|null, path|null, message, target? } ]
 * }
 * Password hashes are never part of it: the reader keeps only whether one exists.
 */

export const discoverSchema = 'mailshift.discover';
export const discoverVersion = 1;

export interface FolderDoc {
  readonly name: string;
  readonly onDisk: string;
  readonly messages: number | null;
  readonly sizeBytes: number;
  readonly newestDelivery: string | null;
  readonly tmpFiles: number | null;
  readonly statted: number;
}

export interface MailboxDoc extends Omit<MailboxInventory, 'folders' | 'newestDeliveryMs'> {
  readonly newestDelivery: string | null;
  readonly folders: FolderDoc[];
}

export interface AccountDoc
  extends Pick<
    CpanelAccount,
    | 'user'
    | 'sources'
    | 'home'
    | 'homeConfigured'
    | 'primaryDomain'
    | 'domains'
    | 'forwarders'
    | 'catchAlls'
    | 'domainForwarders'
    | 'filters'
    | 'autoresponders'
    | 'spamAssassin'
    | 'webmail'
  > {
  readonly mailboxFormat: string | null;
  readonly utf8MailboxNames: boolean;
  readonly suspended: boolean;
  readonly mailboxes: MailboxDoc[];
  readonly totals: { readonly mailboxes: number; readonly messages: number; readonly sizeBytes: number };
}

export interface DiscoverDocument {
  readonly schema: typeof discoverSchema;
  readonly version: typeof discoverVersion;
  readonly generatedAt: string;
  readonly root: string;
  readonly options: { readonly targetQuotaBytes: number | null; readonly statEveryMessage: boolean };
  readonly totals: {
    readonly accounts: number;
    readonly mailboxes: number;
    readonly messages: number;
    readonly sizeBytes: number;
    readonly warnings: { readonly unsafe: number; readonly warning: number; readonly notice: number };
  };
  readonly accounts: AccountDoc[];
  readonly warnings: DiscoverWarning[];
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function buildMailboxDoc(mb: MailboxInventory): MailboxDoc {
  const { folders, newestDeliveryMs, ...rest } = mb;
  return {
    ...rest,
    newestDelivery: iso(newestDeliveryMs),
    folders: folders.map(({ newestDeliveryMs: folderNewest, ...f }) => ({ ...f, newestDelivery: iso(folderNewest) })),
  };
}

export function buildAccountDoc(account: CpanelAccount): AccountDoc {
  const mailboxes = account.mailboxes.map(buildMailboxDoc);
  return {
    user: account.user,
    sources: account.sources,
    home: account.home,
    homeConfigured: account.homeConfigured,
    primaryDomain: account.primaryDomain,
    domains: account.domains,
    mailboxFormat: account.formatMarker ?? account.cpuser?.mailboxFormat ?? null,
    utf8MailboxNames: account.cpuser?.utf8MailboxNames ?? false,
    suspended: account.cpuser?.suspended ?? false,
    mailboxes,
    forwarders: account.forwarders,
    catchAlls: account.catchAlls,
    domainForwarders: account.domainForwarders,
    filters: account.filters,
    autoresponders: account.autoresponders,
    spamAssassin: account.spamAssassin,
    webmail: account.webmail,
    totals: {
      mailboxes: mailboxes.length,
      messages: mailboxes.reduce((n, m) => n + (m.messages ?? 0), 0),
      sizeBytes: mailboxes.reduce((n, m) => n + m.sizeBytes, 0),
    },
  };
}

export function buildDiscoverDocument(input: {
  root: string;
  generatedAt: Date;
  options: DiscoverDocument['options'];
  accounts: AccountDoc[];
  warnings: DiscoverWarning[];
}): DiscoverDocument {
  const count = (severity: DiscoverWarning['severity']) => input.warnings.filter((w) => w.severity === severity).length;
  return {
    schema: discoverSchema,
    version: discoverVersion,
    generatedAt: input.generatedAt.toISOString(),
    root: input.root,
    options: input.options,
    totals: {
      accounts: input.accounts.length,
      mailboxes: input.accounts.reduce((n, a) => n + a.totals.mailboxes, 0),
      messages: input.accounts.reduce((n, a) => n + a.totals.messages, 0),
      sizeBytes: input.accounts.reduce((n, a) => n + a.totals.sizeBytes, 0),
      warnings: { unsafe: count('unsafe'), warning: count('warning'), notice: count('notice') },
    },
    accounts: input.accounts,
    warnings: input.warnings,
  };
}
