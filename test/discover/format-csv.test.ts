import { describe, expect, it } from 'vitest';
import { buildDiscoverDocument, type AccountDoc, type MailboxDoc } from '../../src/discover/document.js';
import { csvColumns, csvField, formatDiscoverCsv } from '../../src/discover/format-csv.js';

/** A minimal RFC 4180 reader, to check the writer against (quoted fields may hold commas, quotes and CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

function mailboxDoc(over: Partial<MailboxDoc>): MailboxDoc {
  return {
    address: 'x@a.example',
    kind: 'virtual',
    localPart: 'x',
    domain: 'a.example',
    path: 'home/a/mail/a.example/x',
    onDisk: 'dir',
    format: 'maildir',
    countMethod: 'maildir-names',
    folders: [],
    messages: 3,
    sizeBytes: 300,
    newestDelivery: '2024-05-01T00:00:00.000Z',
    quota: { limitBytes: 1000, source: 'etc-quota', etcQuotaBytes: 1000, maildirsize: null },
    password: 'set',
    inPasswd: true,
    hasFilter: false,
    hasRoundcubeDb: false,
    ...over,
  };
}

function accountDoc(mailboxes: MailboxDoc[]): AccountDoc {
  return {
    user: 'a',
    sources: ['cpuser'],
    home: 'home/a',
    homeConfigured: 'home/a',
    primaryDomain: 'a.example',
    domains: [],
    mailboxFormat: 'maildir',
    utf8MailboxNames: false,
    suspended: false,
    mailboxes,
    forwarders: [],
    catchAlls: [],
    domainForwarders: [],
    filters: { accountFilters: [], accountRuleStore: false, defaultMailboxFilter: false, mailboxFilters: [] },
    autoresponders: [],
    spamAssassin: { enabled: false, disabled: false, spamBox: false, userPrefs: false, bayes: false },
    webmail: { horde: { present: false, sizeBytes: 0 }, squirrelmail: { present: false, files: 0 }, roundcube: { present: false, databases: [] } },
    totals: { mailboxes: mailboxes.length, messages: 0, sizeBytes: 0 },
  };
}

describe('formatDiscoverCsv', () => {
  const hostileLocal = 'we,ird "x"\r\nline';
  const doc = buildDiscoverDocument({
    root: '/srv',
    generatedAt: new Date(0),
    options: { targetQuotaBytes: null, statEveryMessage: false },
    accounts: [
      accountDoc([
        mailboxDoc({ address: 'a', kind: 'default', localPart: 'a', domain: null, path: 'home/a/mail', quota: { limitBytes: null, source: 'none', etcQuotaBytes: null, maildirsize: null } }),
        mailboxDoc({ address: `${hostileLocal}@a.example`, localPart: hostileLocal, path: 'home/a/mail/a.example/weird' }),
        mailboxDoc({ address: '=HYPERLINK("http://x")@a.example', localPart: '=HYPERLINK("http://x")', messages: null }),
      ]),
    ],
    warnings: [
      { kind: 'over-quota', severity: 'warning', account: 'a', mailbox: `${hostileLocal}@a.example`, path: null, message: 'm' },
      { kind: 'empty-message', severity: 'notice', account: 'a', mailbox: null, path: 'home/a/mail/cur/1', message: 'm' },
      { kind: 'empty-message', severity: 'notice', account: 'a', mailbox: null, path: 'home/a/mail/a.example/x/cur/1', message: 'm' },
    ],
  });
  const rows = parseCsv(formatDiscoverCsv(doc));

  it('writes a header and one row per mailbox, each as wide as the header', () => {
    expect(rows[0]).toEqual([...csvColumns]);
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row).toHaveLength(csvColumns.length);
  });

  it('round-trips commas, quotes and line breaks in names', () => {
    const col = (name: string) => csvColumns.indexOf(name as (typeof csvColumns)[number]);
    expect(rows[2]![col('local_part')]).toBe(hostileLocal);
    expect(rows[1]![col('domain')]).toBe('');
    expect(rows[1]![col('quota_bytes')]).toBe('');
    expect(rows[3]![col('messages')]).toBe('');
  });

  it('keeps spreadsheets from evaluating names as formulas', () => {
    expect(rows[3]![csvColumns.indexOf('local_part')]).toBe('\'=HYPERLINK("http://x")');
    expect(csvField('-5')).toBe("'-5");
    expect(csvField(-5)).toBe('-5');
  });

  it('counts each warning on the mailbox that holds it, the deepest one for paths', () => {
    const w = csvColumns.indexOf('warnings');
    expect(rows.slice(1).map((r) => r[w])).toEqual(['1', '1', '1']);
  });
});
