import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCpanelAccounts, readCpanelAccount, type CpanelAccount } from '../../../src/cpanel/inventory/index.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
// @ts-ignore -- plain .mjs script without type declarations (scripts run without a build step)
import { generateCpanelTree, generateScaleTree } from '../../../scripts/gen-cpanel-tree.mjs';

/** What the generator says it wrote (scripts/gen-cpanel-tree.mjs), computed while writing. */
interface TruthFolder {
  messages?: number;
  bytes?: number;
  newestDeliveryMs?: number | null;
  mtimeMs?: number;
}
interface TruthMailbox {
  format: string;
  kind: 'default' | 'virtual';
  path: string;
  folders: Record<string, TruthFolder>;
  storageBytes?: number;
  quotaBytes: number | null;
  password: string;
  inPasswd: boolean;
  hasDir?: boolean;
  filter?: boolean;
  roundcube?: boolean;
}
interface TruthAccount {
  user: string;
  home: string;
  domains: string[];
  format: string;
  mailboxes: Record<string, TruthMailbox>;
  forwarders: number;
  catchAlls: Record<string, string>;
  domainForwarders: Record<string, string>;
  vfilterRules: number;
  autoresponders: string[];
  extras: { spamassassin?: { enabled?: boolean; spamBox?: boolean; userPrefs?: boolean; bayes?: boolean }; horde?: boolean; squirrelmail?: number; defaultFilter?: boolean };
}
interface Truth {
  root: string;
  outside: string;
  accounts: TruthAccount[];
  secrets: string[];
  expectedFindings: { kind: string; path: string; onlyWithoutDacOverride?: boolean; onlyWithStat?: boolean }[];
}

const fixture = (name: string) => JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../fixtures/cpanel', name), 'utf8'));
const passwordStates: Record<string, string> = { hash: 'set', locked: 'locked', none: 'empty', missing: 'missing', system: 'system' };

describe('reading a generated cPanel server (fixtures/cpanel/basic.json)', () => {
  let temp: TempDir;
  let truth: Truth;
  const accounts = new Map<string, CpanelAccount>();

  beforeAll(async () => {
    temp = await makeTempDir('cpanel-basic');
    truth = generateCpanelTree(fixture('basic.json'), temp.path) as Truth;
    for (const a of truth.accounts) accounts.set(a.user, await readCpanelAccount(truth.root, a.user));
  });
  afterAll(() => temp.cleanup());

  it('finds every account, whatever places name it', async () => {
    const listing = await listCpanelAccounts(truth.root);
    expect(listing.accounts.map((a) => a.user)).toEqual(truth.accounts.map((a) => a.user).sort());
    // erin exists only as a home with etc/DOMAIN/passwd: no cPanel user file, not in the domain maps
    expect(listing.accounts.find((a) => a.user === 'erin')?.sources).toEqual(['home-passwd']);
    expect(listing.findings).toEqual([]);
  });

  it('reads the home from the server passwd, also outside /home', () => {
    for (const t of truth.accounts) expect(accounts.get(t.user)?.home).toBe(t.home);
  });

  it('lists every mailbox, the default one first, with the format and per-folder counts, bytes and newest delivery that were written', () => {
    for (const t of truth.accounts) {
      const account = accounts.get(t.user)!;
      expect(account.mailboxes[0]?.kind).toBe('default');
      expect(account.mailboxes.map((m) => m.address).sort()).toEqual(Object.keys(t.mailboxes).sort());
      for (const [address, tm] of Object.entries(t.mailboxes)) {
        const mb = account.mailboxes.find((m) => m.address === address)!;
        expect(mb.path, address).toBe(tm.path);
        if (tm.hasDir === false) {
          expect(mb.onDisk).toBe('missing');
          continue;
        }
        expect(mb.format, address).toBe(tm.format);
        const folders = Object.fromEntries(mb.folders.map((f) => [f.name, f]));
        expect(Object.keys(folders).sort(), address).toEqual(Object.keys(tm.folders).sort());
        for (const [name, tf] of Object.entries(tm.folders)) {
          const f = folders[name]!;
          if (tm.format === 'maildir') {
            expect({ messages: f.messages, bytes: f.sizeBytes, newest: f.newestDeliveryMs }, `${address} ${name}`).toEqual({
              messages: tf.messages,
              bytes: tf.bytes,
              newest: tf.newestDeliveryMs,
            });
          } else if (tm.format === 'mbox') {
            expect({ messages: f.messages, bytes: f.sizeBytes, newest: f.newestDeliveryMs }, `${address} ${name}`).toEqual({
              messages: tf.messages,
              bytes: tf.bytes,
              newest: tf.mtimeMs,
            });
          } else {
            expect(f.messages).toBeNull();
          }
        }
        if (tm.format === 'mdbox') expect(mb.sizeBytes).toBe(tm.storageBytes);
      }
    }
  });

  it('decodes folder names: modified UTF-7 by default, raw UTF-8 when UTF8MAILBOX=1, nested levels with "/"', () => {
    const alice = accounts.get('alice')!.mailboxes[0]!;
    expect(alice.folders.find((f) => f.name === 'Entwürfe')?.onDisk).toBe('.Entw&APw-rfe');
    expect(alice.folders.find((f) => f.name === 'Clients/ACME')?.onDisk).toBe('.Clients.ACME');
    expect(accounts.get('dave')!.mailboxes[0]!.folders.find((f) => f.name === 'Répertoire')?.onDisk).toBe('.Répertoire');
  });

  it('counts messages without ",S=" by stat and says how many', () => {
    const acme = accounts.get('alice')!.mailboxes[0]!.folders.find((f) => f.name === 'Clients/ACME')!;
    expect(acme.statted).toBe(1);
  });

  it('counts files in tmp/ only when asked to stat (tmp/ is a third of all directories)', async () => {
    expect(accounts.get('alice')!.mailboxes[0]!.folders.find((f) => f.name === 'INBOX')!.tmpFiles).toBeNull();
    const deep = await readCpanelAccount(truth.root, 'alice', { statEveryMessage: true });
    const inbox = deep.mailboxes[0]!.folders.find((f) => f.name === 'INBOX')!;
    expect(inbox.tmpFiles).toBe(1);
    // stat'ing every file finds the same sizes the names carry
    expect(inbox.sizeBytes).toBe(accounts.get('alice')!.mailboxes[0]!.folders.find((f) => f.name === 'INBOX')!.sizeBytes);
  });

  it('never counts a mailbox twice through cPanel’s .LOCAL@DOMAIN_TLD links', () => {
    const alice = accounts.get('alice')!;
    const t = truth.accounts.find((a) => a.user === 'alice')!;
    const expected = Object.values(t.mailboxes).reduce((n, m) => n + Object.values(m.folders).reduce((k, f) => k + (f.messages ?? 0), 0), 0);
    expect(alice.mailboxes.reduce((n, m) => n + (m.messages ?? 0), 0)).toBe(expected);
    expect(alice.findings).toEqual([]);
  });

  it('reads quotas, password states (never the hash) and passwd membership', () => {
    for (const t of truth.accounts) {
      const account = accounts.get(t.user)!;
      for (const [address, tm] of Object.entries(t.mailboxes)) {
        const mb = account.mailboxes.find((m) => m.address === address)!;
        expect({ quota: mb.quota.limitBytes, password: mb.password, inPasswd: mb.inPasswd }, address).toEqual({
          quota: tm.quotaBytes,
          password: passwordStates[tm.password],
          inPasswd: tm.inPasswd,
        });
      }
      const text = JSON.stringify(account);
      for (const secret of truth.secrets) expect(text).not.toContain(secret.slice(4, 40));
    }
  });

  it('reads maildirsize usage next to the etc quota', () => {
    const info = accounts.get('alice')!.mailboxes.find((m) => m.address === 'info@alice.example')!;
    expect(info.quota).toMatchObject({ source: 'etc-quota', limitBytes: 1048576, maildirsize: { limitBytes: 1048576, usedBytes: info.sizeBytes, usedMessages: info.messages } });
    expect(accounts.get('alice')!.mailboxes[0]!.quota.maildirsize).toMatchObject({ limitBytes: null, usedBytes: 0 });
  });

  it('reads forwarders, catch-alls, domain forwarders, filters, autoresponders, SpamAssassin and webmail data', () => {
    for (const t of truth.accounts) {
      const a = accounts.get(t.user)!;
      expect(a.forwarders.length, t.user).toBe(t.forwarders);
      expect(Object.fromEntries(a.catchAlls.map((c) => [c.domain, c.action])), t.user).toEqual(t.catchAlls);
      expect(Object.fromEntries(a.domainForwarders.map((d) => [d.domain, d.target])), t.user).toEqual(t.domainForwarders);
      expect(a.filters.accountFilters.reduce((n, f) => n + f.rules, 0), t.user).toBe(t.vfilterRules);
      expect(a.autoresponders.map((r) => r.address), t.user).toEqual(t.autoresponders);
      expect(a.filters.defaultMailboxFilter, t.user).toBe(Boolean(t.extras.defaultFilter));
      expect(a.filters.mailboxFilters, t.user).toEqual(Object.entries(t.mailboxes).filter(([, m]) => m.filter).map(([k]) => k));
      expect(a.webmail.horde.present, t.user).toBe(Boolean(t.extras.horde));
      expect(a.webmail.squirrelmail.files, t.user).toBe(2 * (t.extras.squirrelmail ?? 0));
      expect(a.webmail.roundcube.databases.length, t.user).toBe(Object.values(t.mailboxes).filter((m) => m.roundcube).length);
      const sa = t.extras.spamassassin ?? {};
      expect(a.spamAssassin, t.user).toEqual({ enabled: Boolean(sa.enabled), disabled: false, spamBox: Boolean(sa.spamBox), userPrefs: Boolean(sa.userPrefs), bayes: Boolean(sa.bayes) });
    }
    expect(accounts.get('alice')!.autoresponders[0]).toMatchObject({ hasSettings: true, start: 1717000000, stop: 1718000000, intervalHours: 24 });
  });
});

describe('reading a hostile cPanel server (fixtures/cpanel/hostile.json)', () => {
  let temp: TempDir;
  let truth: Truth;
  const accounts = new Map<string, CpanelAccount>();

  beforeAll(async () => {
    temp = await makeTempDir('cpanel-hostile');
    truth = generateCpanelTree(fixture('hostile.json'), temp.path) as Truth;
    const listing = await listCpanelAccounts(truth.root);
    for (const a of listing.accounts) accounts.set(a.user, await readCpanelAccount(truth.root, a.user));
  });
  afterAll(() => temp.cleanup());

  // Root keeps CAP_DAC_OVERRIDE here: a mode-000 directory still lists, so that one expectation is checked by the
  // e2e test, which drops the capability.
  const expected = (options: { stat: boolean }) =>
    truth.expectedFindings
      .filter((f) => !f.onlyWithoutDacOverride && (options.stat || !f.onlyWithStat))
      .map((f) => `${f.kind} ${f.path}`)
      .sort();

  it('reports exactly the planted items, each under its kind', () => {
    const found = [...accounts.values()].flatMap((a) => a.findings.map((f) => `${f.kind} ${f.path}`)).sort();
    expect(found).toEqual(expected({ stat: false }));
  });

  it('with statEveryMessage also finds a message file nobody may read', async () => {
    const mallory = await readCpanelAccount(truth.root, 'mallory', { statEveryMessage: true });
    const found = mallory.findings.map((f) => `${f.kind} ${f.path}`);
    expect(found).toContain(expected({ stat: true }).find((f) => f.includes('Private'))!);
  });

  it('counts mail behind neither a link out of the account nor a link into another one', () => {
    const mallory = accounts.get('mallory')!;
    expect(mallory.mailboxes.find((m) => m.address === 'stolen@mallory.example')).toMatchObject({ onDisk: 'link', messages: null, sizeBytes: 0 });
    expect(mallory.mailboxes[0]!.folders.map((f) => f.name)).not.toContain('Evil');
    expect(mallory.mailboxes[0]!.folders.map((f) => f.name)).not.toContain('Leak');
    const thief = mallory.mailboxes.find((m) => m.address === 'thief@mallory.example')!;
    expect(thief.messages).toBe(1);
    expect(accounts.get('victim')!.mailboxes.find((m) => m.address === 'ceo@victim.example')!.messages).toBe(4);
  });

  it('takes names with shell metacharacters and spaces as plain data', () => {
    const mallory = accounts.get('mallory')!;
    expect(mallory.mailboxes[0]!.folders.find((f) => f.name === 'Weird $(touch pwned); rm -rf ~ & \'q\' "d"')?.messages).toBe(1);
    expect(mallory.mailboxes.find((m) => m.address === "o'brien+x@mallory.example")?.messages).toBe(1);
  });

  it('counts the sparse file at its full length and the empty message as a message', () => {
    const inbox = accounts.get('mallory')!.mailboxes[0]!.folders.find((f) => f.name === 'INBOX')!;
    const t = truth.accounts.find((a) => a.user === 'mallory')!.mailboxes['mallory']!.folders['INBOX']!;
    expect({ messages: inbox.messages, bytes: inbox.sizeBytes }).toEqual({ messages: t.messages, bytes: t.bytes });
    expect(inbox.sizeBytes).toBeGreaterThan(8 * 1024 ** 3);
  });

  it('skips a passwd line whose name would climb out of the mail directory', () => {
    const mallory = accounts.get('mallory')!;
    expect(mallory.mailboxes.some((m) => m.address.includes('..'))).toBe(false);
  });
});

describe('a generated scale tree', () => {
  it('adds up to what the generator wrote', async () => {
    const temp = await makeTempDir('cpanel-scale');
    try {
      const { truth, files, bytes } = generateScaleTree({ accounts: 3, mailboxesPerAccount: 4, messagesPerMailbox: 30 }, temp.path) as { truth: Truth; files: number; bytes: number };
      let messages = 0;
      let size = 0;
      let mailboxes = 0;
      for (const t of truth.accounts) {
        const a = await readCpanelAccount(truth.root, t.user);
        mailboxes += a.mailboxes.length;
        for (const m of a.mailboxes) {
          messages += m.messages ?? 0;
          size += m.sizeBytes;
        }
      }
      expect({ mailboxes, messages, size }).toEqual({ mailboxes: 12, messages: files, size: bytes });
      expect(files).toBe(3 * 4 * 30);
    } finally {
      await temp.cleanup();
    }
  });
});
