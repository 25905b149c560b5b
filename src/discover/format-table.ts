import { formatBytes, formatTable, printable } from '../core/format.js';
import type { DiscoverDocument, MailboxDoc } from './document.js';

/**
 * The readable report: a summary line, one row per mailbox, one row per account for the extras, then the
 * warnings. Names come from the tree and may hold terminal escape sequences: every cell goes through `printable`.
 */

/** Control characters shown as \xNN, so a hostile file name cannot drive the terminal (one rule for every table). */
export { printable };

function day(iso: string | null): string {
  return iso === null ? '-' : iso.slice(0, 10);
}

function mailboxRow(user: string, mb: MailboxDoc): (string | number)[] {
  const name = mb.kind === 'default' ? `${mb.address} (default)` : mb.address;
  const state = mb.onDisk === 'dir' ? mb.format : mb.onDisk === 'missing' ? 'no dir' : mb.onDisk;
  return [
    printable(user),
    printable(name),
    state,
    String(mb.folders.length),
    mb.messages === null ? '-' : String(mb.messages),
    formatBytes(mb.sizeBytes),
    mb.quota.limitBytes === null ? '-' : formatBytes(mb.quota.limitBytes),
    day(mb.newestDelivery),
    mb.password,
  ];
}

function yesNo(value: boolean): string {
  return value ? 'yes' : '-';
}

export function formatDiscoverTable(doc: DiscoverDocument): string {
  const t = doc.totals;
  let out = `cPanel root ${printable(doc.root)}: ${t.accounts} accounts, ${t.mailboxes} mailboxes, ${t.messages} messages, ${formatBytes(t.sizeBytes)}\n\n`;
  const rows = doc.accounts.flatMap((a) => a.mailboxes.map((mb) => mailboxRow(a.user, mb)));
  out += formatTable(['ACCOUNT', 'MAILBOX', 'FORMAT', 'FOLDERS', 'MESSAGES', 'SIZE', 'QUOTA', 'NEWEST', 'PASSWORD'], rows);

  out += '\n';
  const extras = doc.accounts.map((a) => {
    const catchAll = a.catchAlls.map((c) => `${c.domain}:${c.kind}`).join(' ') || '-';
    const filters = a.filters.accountFilters.reduce((n, f) => n + f.rules, 0) + a.filters.mailboxFilters.length + (a.filters.defaultMailboxFilter ? 1 : 0);
    const sa = a.spamAssassin.enabled ? (a.spamAssassin.spamBox ? 'on+box' : 'on') : a.spamAssassin.userPrefs || a.spamAssassin.bayes ? 'data' : '-';
    const webmail = [a.webmail.horde.present ? 'horde' : '', a.webmail.squirrelmail.present ? 'squirrelmail' : '', a.webmail.roundcube.present ? `roundcube(${a.webmail.roundcube.databases.length})` : '']
      .filter(Boolean)
      .join(',');
    return [
      printable(a.user),
      printable(a.domains.map((d) => d.name).join(',') || '-'),
      String(a.forwarders.length),
      printable(catchAll),
      printable(a.domainForwarders.map((d) => `${d.domain}>${d.target}`).join(' ') || '-'),
      String(filters),
      String(a.autoresponders.length),
      sa,
      webmail || '-',
      yesNo(a.suspended),
    ];
  });
  out += formatTable(['ACCOUNT', 'DOMAINS', 'FORWARDERS', 'CATCH-ALL', 'DOMAIN-FWD', 'FILTERS', 'AUTORESP', 'SPAMASSASSIN', 'WEBMAIL', 'SUSPENDED'], extras);

  const w = t.warnings;
  out += `\n${w.unsafe} unsafe, ${w.warning} warnings, ${w.notice} notices\n`;
  if (doc.warnings.length > 0) {
    out += formatTable(
      ['SEVERITY', 'ACCOUNT', 'KIND', 'WHERE', 'DETAIL'],
      doc.warnings.map((x) => [
        x.severity,
        printable(x.account ?? '-'),
        x.kind,
        printable(x.path ?? x.mailbox ?? '-') + (x.target !== undefined ? ` -> ${printable(x.target)}` : ''),
        printable(x.message),
      ]),
    );
  }
  return out;
}
