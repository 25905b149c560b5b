/**
 * `dovecot-uidlist` version 3 (maildir-format.md §2):
 *   3 V<uidvalidity> N<nextuid> [G<guid>] ...
 *   <uid> [<key><value> ...] :<filename>
 * The file name after ':' is the last known full name; Dovecot matches records by base name.
 */

export interface UidlistRecord {
  readonly uid: number;
  /** Extension fields such as S (size), W (vsize), G (guid); kept verbatim. */
  readonly fields: ReadonlyMap<string, string>;
  readonly fileName: string;
}

export interface Uidlist {
  readonly uidValidity: number;
  readonly nextUid: number;
  readonly headerFields: ReadonlyMap<string, string>;
  readonly records: readonly UidlistRecord[];
}

export class UidlistError extends Error {}

/** Shared by every record without extension fields: a Map per record cost ~200 bytes, at 100,000 records 20 MB. */
export const noFields: ReadonlyMap<string, string> = new Map();

export function parseUidlist(text: string): Uidlist {
  const lines = text.split('\n');
  const header = (lines.shift() ?? '').trim();
  const parts = header.split(' ');
  if (parts[0] !== '3') throw new UidlistError(`unsupported dovecot-uidlist version "${parts[0] ?? ''}" (only version 3 is read)`);
  const headerFields = new Map<string, string>();
  for (const part of parts.slice(1)) if (part.length > 1) headerFields.set(part[0]!, part.slice(1));
  const uidValidity = Number(headerFields.get('V'));
  const nextUid = Number(headerFields.get('N'));
  if (!Number.isSafeInteger(uidValidity) || uidValidity <= 0) throw new UidlistError('dovecot-uidlist has no valid V (UIDVALIDITY)');
  const records: UidlistRecord[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(' :');
    if (colon < 0) throw new UidlistError(`malformed dovecot-uidlist record: ${line.slice(0, 80)}`);
    const head = line.slice(0, colon).split(' ');
    const uid = Number(head[0]);
    if (!Number.isSafeInteger(uid) || uid <= 0) throw new UidlistError(`malformed UID in dovecot-uidlist: ${line.slice(0, 80)}`);
    let fields = noFields;
    for (const part of head.slice(1)) {
      if (part.length < 2) continue;
      if (fields === noFields) fields = new Map<string, string>();
      (fields as Map<string, string>).set(part[0]!, part.slice(1));
    }
    records.push({ uid, fields, fileName: line.slice(colon + 2) });
  }
  const maxUid = records.reduce((max, r) => Math.max(max, r.uid), 0);
  return {
    uidValidity,
    nextUid: Number.isSafeInteger(nextUid) && nextUid > maxUid ? nextUid : maxUid + 1,
    headerFields,
    records,
  };
}

export function formatUidlist(list: Uidlist): string {
  let text = formatUidlistHeader(list);
  for (const record of [...list.records].sort((a, b) => a.uid - b.uid)) text += formatUidlistRecord(record);
  return text;
}

/** The first line: version 3, V and N first, then any other header fields as they were. */
export function formatUidlistHeader(list: Pick<Uidlist, 'uidValidity' | 'nextUid' | 'headerFields'>): string {
  const header = new Map(list.headerFields);
  header.set('V', String(list.uidValidity));
  header.set('N', String(list.nextUid));
  const order = ['V', 'N', ...[...header.keys()].filter((k) => k !== 'V' && k !== 'N')];
  return `3 ${order.map((key) => `${key}${header.get(key)}`).join(' ')}\n`;
}

export function formatUidlistRecord(record: UidlistRecord): string {
  let fields = '';
  for (const [key, value] of record.fields) fields += ` ${key}${value}`;
  return `${record.uid}${fields} :${record.fileName}\n`;
}
