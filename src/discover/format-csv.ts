import type { DiscoverDocument } from './document.js';

/** One row per mailbox, RFC 4180 (CRLF line ends, fields quoted when needed), for a spreadsheet. */

export const csvColumns = [
  'account',
  'address',
  'kind',
  'domain',
  'local_part',
  'format',
  'on_disk',
  'in_passwd',
  'password',
  'folders',
  'messages',
  'size_bytes',
  'quota_bytes',
  'quota_source',
  'maildirsize_used_bytes',
  'newest_delivery',
  'has_filter',
  'has_roundcube_db',
  'warnings',
  'path',
] as const;

/**
 * Quotes a field when it holds a comma, quote or line break. Text starting with = + - @ (or a tab or CR) is
 * prefixed with ' so a spreadsheet shows it instead of evaluating it: folder and mailbox names come from users.
 */
export function csvField(value: string | number | boolean | null): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function formatDiscoverCsv(doc: DiscoverDocument): string {
  // A warning belongs to the mailbox it names, or to the mailbox whose directory holds its path (the deepest one:
  // the default mailbox ~/mail contains the directories of all the others).
  const warningsByMailbox = new Map<string, number>();
  const byUser = new Map(doc.accounts.map((a) => [a.user, a]));
  for (const w of doc.warnings) {
    const account = w.account === null ? undefined : byUser.get(w.account);
    if (!account) continue;
    let owner = w.mailbox === null ? undefined : account.mailboxes.find((mb) => mb.address === w.mailbox);
    if (!owner && w.path !== null) {
      for (const mb of account.mailboxes) {
        const holds = w.path === mb.path || w.path.startsWith(`${mb.path}/`);
        if (holds && (!owner || mb.path.length > owner.path.length)) owner = mb;
      }
    }
    if (owner) warningsByMailbox.set(`${account.user}\u0000${owner.address}`, (warningsByMailbox.get(`${account.user}\u0000${owner.address}`) ?? 0) + 1);
  }
  const rows = [csvColumns.join(',')];
  for (const a of doc.accounts) {
    for (const mb of a.mailboxes) {
      rows.push(
        [
          a.user,
          mb.address,
          mb.kind,
          mb.domain,
          mb.localPart,
          mb.format,
          mb.onDisk,
          mb.inPasswd,
          mb.password,
          mb.folders.length,
          mb.messages,
          mb.sizeBytes,
          mb.quota.limitBytes,
          mb.quota.source,
          mb.quota.maildirsize?.usedBytes ?? null,
          mb.newestDelivery,
          mb.hasFilter,
          mb.hasRoundcubeDb,
          warningsByMailbox.get(`${a.user}\u0000${mb.address}`) ?? 0,
          mb.path,
        ]
          .map(csvField)
          .join(','),
      );
    }
  }
  return `${rows.join('\r\n')}\r\n`;
}
