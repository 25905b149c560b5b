import { MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { TreeReader } from '../fsops/walk.js';
import { listAccountRefs } from '../cpanel/inventory/accounts.js';
import { readAccountsInOrder } from '../cpanel/inventory/account.js';
import type { CpanelAccount } from '../cpanel/inventory/types.js';
import { buildAccountDoc, buildDiscoverDocument, type AccountDoc, type DiscoverDocument } from './document.js';
import { decideAccountWarnings, decideServerWarnings, type DiscoverWarning } from './warnings.js';

export interface DiscoverOptions {
  readonly targetQuotaBytes?: number | null;
  readonly statEveryMessage?: boolean;
  /** Accounts read at the same time (each also has its directory reads bounded by the reader). */
  readonly concurrency?: number;
  /** Only these accounts. */
  readonly users?: readonly string[];
  readonly signal?: AbortSignal;
  /** Called after each account, in name order (progress). */
  readonly onAccount?: (account: CpanelAccount, done: number, total: number) => void;
  readonly now?: () => Date;
}

/**
 * Reads a cPanel root and builds the discover document. Holds the per-account summaries (folders, not messages),
 * so memory grows with the number of folders, never with the number of messages.
 */
export async function runDiscover(root: string, options: DiscoverOptions = {}): Promise<DiscoverDocument> {
  let reader: TreeReader;
  try {
    reader = await TreeReader.open(root);
  } catch (err) {
    throw new MailshiftError('MAILSHIFT_DISCOVER_ROOT', `cannot read ${root}: ${err instanceof Error ? err.message : String(err)}`, {
      hint: 'pass the directory that holds etc/, home/ and var/cpanel/ of the cPanel server (/ on the server itself)',
      exitCode: ExitCode.usage,
      cause: err,
    });
  }
  const listing = await listAccountRefs(reader, options.signal);
  const refs = options.users ? listing.accounts.filter((a) => options.users!.includes(a.user)) : listing.accounts;
  if (options.users) {
    const missing = options.users.filter((u) => !listing.accounts.some((a) => a.user === u));
    if (missing.length > 0) {
      throw new MailshiftError('MAILSHIFT_DISCOVER_NO_ACCOUNT', `no cPanel account named ${missing.join(', ')} under ${reader.root}`, {
        hint: `accounts found: ${listing.accounts.map((a) => a.user).slice(0, 20).join(', ') || 'none'}`,
        exitCode: ExitCode.usage,
      });
    }
  }
  if (listing.accounts.length === 0) {
    const looksLikeCpanel = (await reader.resolveSystemPath('var/cpanel/users')).ok || (await reader.resolveSystemPath('etc/userdomains')).ok;
    if (!looksLikeCpanel) {
      throw new MailshiftError('MAILSHIFT_DISCOVER_NOT_CPANEL', `${reader.root} does not look like a cPanel server: no var/cpanel/users, no etc/userdomains, no home/*/etc/*/passwd`, {
        hint: 'point discover at the root of the server (or of a mounted copy of it)',
        exitCode: ExitCode.usage,
      });
    }
  }

  const targetQuotaBytes = options.targetQuotaBytes ?? null;
  const accounts: AccountDoc[] = [];
  const warnings: DiscoverWarning[] = decideServerWarnings(listing.findings);
  const reading = readAccountsInOrder(reader, refs, {
    statEveryMessage: options.statEveryMessage ?? false,
    concurrency: options.concurrency ?? 4,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  for await (const account of reading) {
    accounts.push(buildAccountDoc(account));
    warnings.push(...decideAccountWarnings(account, { targetQuotaBytes }));
    options.onAccount?.(account, accounts.length, refs.length);
  }
  return buildDiscoverDocument({
    root: reader.root,
    generatedAt: (options.now ?? (() => new Date()))(),
    options: { targetQuotaBytes, statEveryMessage: options.statEveryMessage ?? false },
    accounts,
    warnings,
  });
}
