import { MailshiftError } from '../../core/errors.js';
import { TreeReader } from '../../fsops/walk.js';
import { listAccountRefs, type AccountListing } from './accounts.js';
import { readAccount, readAccountsInOrder, type ReadAccountOptions } from './account.js';
import type { CpanelAccount } from './types.js';

/**
 * src/cpanel/inventory — reading a cPanel server's mail from its file system (ROOT = "/" on the server itself, or a
 * mounted copy). Layout: shared/reference/cpanel-layout.md. Used by `mailshift discover`; copy, chown, resync and
 * verify find what they move through cpanel/resolve.ts, on the same tables (cpanel/files.ts) and rules
 * (cpanel/layout.ts, cpanel/unsafe.ts).
 *
 * API
 *   listCpanelAccounts(root, { signal })            -> { root, accounts: CpanelAccountRef[], findings }
 *       every account named by etc/trueuserdomains, etc/userdomains, var/cpanel/users/*, or a home holding
 *       etc/DOMAIN/passwd; each with its sources, configured home and domains from the maps.
 *   readCpanelAccount(root, user, options)          -> CpanelAccount
 *       home (resolved), cpuser settings (format, UTF8MAILBOX, suspended), domains, every mailbox (the default
 *       ~/mail first, then LOCAL@DOMAIN sorted; orphans included: inPasswd=false or onDisk='missing') with
 *       format, folders (MailboxPath names, decoded from Maildir++/mUTF-7 or raw UTF-8), counts, bytes, newest
 *       delivery, quota, password state (never the hash), filter/Roundcube flags; forwarders, catch-alls, domain
 *       forwarders, filters, autoresponders, SpamAssassin and webmail data; findings (links, unsafe names,
 *       unreadable and special files) with paths relative to ROOT.
 *   readCpanelAccounts(root, options)               -> AsyncIterable<CpanelAccount>, accounts read concurrently,
 *       yielded in name order (what discover uses; memory holds `concurrency` accounts in flight).
 *   Lower level, sharing one TreeReader (its caches) across calls: TreeReader.open(root), listAccountRefs(reader),
 *   readAccount(reader, ref, options).
 *
 * Guarantees: nothing is written; no symlink inside an account is followed (cPanel's `.LOCAL@DOMAIN_TLD` links
 * are recognised and skipped, so nothing is counted twice); links in system paths (/home -> /data/home) are
 * followed only while they stay inside ROOT; files are opened with O_NOFOLLOW|O_NONBLOCK and must be regular; a
 * maildir message file is never opened (names give size and delivery time; names without ",S=" are stat'ed).
 * Paths to copy from: `CpanelAccount.home`, `MailboxInventory.path` and `FolderInventory.onDisk` (relative to the
 * mailbox path), all relative to ROOT.
 */

export * from './types.js';
export { listAccountRefs, type AccountListing } from './accounts.js';
export { readAccount, readAccountsInOrder, type ReadAccountOptions } from './account.js';
export { parseMaildirsize } from './parse.js';
export { parseShadowStates, parseQuotaFile, parseValiases, parseVdomainaliases, parseCpuserFile, parseMailPasswd } from '../files.js';
export { TreeReader } from '../../fsops/walk.js';

async function openRoot(root: string): Promise<TreeReader> {
  try {
    return await TreeReader.open(root);
  } catch (err) {
    throw new MailshiftError('MAILSHIFT_CPANEL_ROOT', `cannot open the cPanel root ${root}: ${err instanceof Error ? err.message : String(err)}`, {
      hint: 'pass the directory that holds etc/, home/ and var/cpanel/ (/ on the server itself)',
      cause: err,
    });
  }
}

export async function listCpanelAccounts(root: string, options: { signal?: AbortSignal } = {}): Promise<AccountListing & { root: string }> {
  const reader = await openRoot(root);
  const listing = await listAccountRefs(reader, options.signal);
  return { root: reader.root, ...listing };
}

export async function readCpanelAccount(root: string, user: string, options: ReadAccountOptions = {}): Promise<CpanelAccount> {
  const reader = await openRoot(root);
  const { accounts } = await listAccountRefs(reader, options.signal);
  const ref = accounts.find((a) => a.user === user);
  if (!ref) {
    throw new MailshiftError('MAILSHIFT_CPANEL_NO_ACCOUNT', `no cPanel account "${user}" under ${reader.root}`, {
      scope: 'account',
      hint: `accounts found: ${accounts.map((a) => a.user).slice(0, 20).join(', ') || 'none'}`,
    });
  }
  return readAccount(reader, ref, options);
}

export interface ReadAccountsOptions extends ReadAccountOptions {
  /** Accounts read at the same time. */
  concurrency?: number;
  /** Only these users (default: all). */
  users?: readonly string[];
  reader?: TreeReader;
}

/** Reads all (or the named) accounts, `concurrency` at a time, yielding them in name order. */
export async function* readCpanelAccounts(root: string, options: ReadAccountsOptions = {}): AsyncGenerator<CpanelAccount> {
  const reader = options.reader ?? (await openRoot(root));
  const listing = await listAccountRefs(reader, options.signal);
  const wanted = options.users ? listing.accounts.filter((a) => options.users!.includes(a.user)) : listing.accounts;
  yield* readAccountsInOrder(reader, wanted, options);
}
