import { describe, expect, it } from 'vitest';
import { decideAccountWarnings, decideServerWarnings, severityOf } from '../../src/discover/warnings.js';
import type { CpanelAccount, MailboxInventory } from '../../src/cpanel/inventory/types.js';

function mailbox(over: Partial<MailboxInventory>): MailboxInventory {
  return {
    address: 'info@a.example',
    kind: 'virtual',
    localPart: 'info',
    domain: 'a.example',
    path: 'home/a/mail/a.example/info',
    onDisk: 'dir',
    format: 'maildir',
    countMethod: 'maildir-names',
    folders: [],
    messages: 0,
    sizeBytes: 0,
    newestDeliveryMs: null,
    quota: { limitBytes: null, source: 'none', etcQuotaBytes: null, maildirsize: null },
    password: 'set',
    inPasswd: true,
    hasFilter: false,
    hasRoundcubeDb: false,
    ...over,
  };
}

function account(mailboxes: MailboxInventory[], over: Partial<CpanelAccount> = {}): CpanelAccount {
  return {
    user: 'a',
    sources: ['cpuser', 'home-passwd', 'trueuserdomains', 'userdomains'],
    home: 'home/a',
    homeConfigured: 'home/a',
    cpuser: null,
    primaryDomain: 'a.example',
    domains: [],
    formatMarker: 'maildir',
    mailboxes,
    forwarders: [],
    catchAlls: [],
    domainForwarders: [],
    filters: { accountFilters: [], accountRuleStore: false, defaultMailboxFilter: false, mailboxFilters: [] },
    autoresponders: [],
    spamAssassin: { enabled: false, disabled: false, spamBox: false, userPrefs: false, bayes: false },
    webmail: { horde: { present: false, sizeBytes: 0 }, squirrelmail: { present: false, files: 0 }, roundcube: { present: false, databases: [] } },
    findings: [],
    findingsDropped: 0,
    ...over,
  };
}

const kinds = (a: CpanelAccount, targetQuotaBytes: number | null = null) => decideAccountWarnings(a, { targetQuotaBytes }).map((w) => `${w.severity} ${w.kind} ${w.mailbox ?? '-'}`);

describe('decideAccountWarnings', () => {
  it('warns about the mailbox that will not fit the target plan, and only with a target given', () => {
    const a = account([mailbox({ sizeBytes: 2000 }), mailbox({ address: 'small@a.example', sizeBytes: 1000 })]);
    expect(kinds(a, 1000)).toEqual(['warning larger-than-target-quota info@a.example']);
    expect(kinds(a)).toEqual([]);
  });

  it('warns about a mailbox over its own quota', () => {
    const quota = { limitBytes: 100, source: 'etc-quota' as const, etcQuotaBytes: 100, maildirsize: null };
    expect(kinds(account([mailbox({ sizeBytes: 101, quota }), mailbox({ address: 'ok@a.example', sizeBytes: 100, quota })]))).toEqual(['warning over-quota info@a.example']);
  });

  it('reports orphans both ways: a mail dir without passwd line, a passwd line without mail dir', () => {
    const a = account([
      mailbox({ address: 'ghost@a.example', inPasswd: false, password: 'missing' }),
      mailbox({ address: 'nodir@a.example', onDisk: 'missing', messages: null }),
      // a symlinked mailbox is neither: it is reported as a link finding
      mailbox({ address: 'link@a.example', onDisk: 'link', inPasswd: false }),
    ]);
    expect(kinds(a)).toEqual(['warning orphan-mail-dir ghost@a.example', 'warning orphan-passwd-entry nodir@a.example']);
  });

  it('reports accounts missing from cPanel or without a usable home', () => {
    expect(kinds(account([], { sources: ['home-passwd'] }))).toEqual(['warning account-not-in-cpanel -']);
    expect(kinds(account([], { home: null }))).toEqual(['warning account-without-home -']);
  });

  it('notes formats that cannot be rsynced as they are', () => {
    expect(kinds(account([mailbox({ format: 'mdbox' }), mailbox({ address: 'old@a.example', format: 'mbox' })]))).toEqual([
      'notice mdbox-not-file-copyable info@a.example',
      'notice mbox-needs-conversion old@a.example',
    ]);
  });

  it('turns findings into warnings and only link-outs, unsafe names, unreadable and special files into unsafe ones', () => {
    const a = account([], {
      findings: [
        { kind: 'symlink-outside-account', path: 'home/a/mail/.x', detail: 'd', target: '/etc' },
        { kind: 'symlink-inside-account', path: 'home/a/mail/.y', detail: 'd' },
        { kind: 'dangling-symlink', path: 'home/a/mail/.z', detail: 'd' },
        { kind: 'unsafe-name', path: 'home/a/mail/..q', detail: 'd' },
        { kind: 'unreadable', path: 'home/a/mail/inbox', detail: 'd' },
        { kind: 'special-file', path: 'home/a/mail/cur/fifo', detail: 'd' },
        { kind: 'empty-message', path: 'home/a/mail/cur/1', detail: 'd' },
      ],
      findingsDropped: 3,
    });
    const out = decideAccountWarnings(a, { targetQuotaBytes: null });
    expect(out.filter((w) => w.severity === 'unsafe').map((w) => w.kind)).toEqual(['symlink-outside-account', 'unsafe-name', 'unreadable', 'special-file']);
    expect(out[0]).toMatchObject({ account: 'a', path: 'home/a/mail/.x', target: '/etc' });
    expect(out.at(-1)).toMatchObject({ kind: 'findings-dropped', severity: 'warning' });
    expect(severityOf('symlink-inside-account')).toBe('notice');
  });

  it('keeps server-level findings without an account', () => {
    expect(decideServerWarnings([{ kind: 'unsafe-name', path: '../x', detail: 'd' }])).toEqual([
      { kind: 'unsafe-name', severity: 'unsafe', account: null, mailbox: null, path: '../x', message: 'd' },
    ]);
  });
});
