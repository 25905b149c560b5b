import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailshiftError } from '../../src/core/errors.js';
import {
  decideAccountDomains,
  listCpanelMail,
  readCpanelAccountDomains,
  resolveCpanelHome,
  resolveCpanelMailbox,
  resolveCpanelTarget,
} from '../../src/cpanel/resolve.js';
import { openFileSide } from '../../src/hosts/open.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

/**
 * Resolving cPanel specs on a FileSide: here the local one over a scratch cPanel root (the ssh side obeys the same
 * FileSide contract, test/integration/hosts/side.test.ts).
 */

let temp: TempDir;
let root: string;
const side = openFileSide({ type: 'local' });

async function put(rel: string, text: string): Promise<void> {
  await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await writeFile(path.join(root, rel), text);
}

beforeAll(async () => {
  temp = await makeTempDir('cpanel-resolve');
  root = temp.path;
  await put('etc/passwd', ['alice:x:3001:3001::/home2/alice:/bin/bash', 'escaper:x:3003:3003::/../../etc:/bin/bash', ''].join('\n'));
  await put('etc/userdomains', ['alice.example: alice', 'second.example: alice', 'bob.example: bob', 'gone.example: nobody', '*: nobody', ''].join('\n'));
  for (const dir of ['home2/alice/mail/alice.example/info/cur', 'home2/alice/mail/alice.example/info/new', 'home2/alice/mail/second.example/sales/cur', 'home2/alice/mail/.Sent/cur', 'home2/alice/mail/cur']) {
    await mkdir(path.join(root, dir), { recursive: true });
  }
  // ~/etc has a domain directory whose userdomains line is gone, and names that are no domains.
  for (const dir of ['home2/alice/etc/alice.example', 'home2/alice/etc/old.example', 'home2/alice/etc/cacheonly', 'home2/alice/etc/a..b']) {
    await mkdir(path.join(root, dir), { recursive: true });
  }
  await mkdir(path.join(root, 'home/bob/mail/bob.example/ceo/cur'), { recursive: true });
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('resolving cPanel specs', () => {
  it("finds a home from ROOT/etc/passwd, taken relative to ROOT, with the user's ids", async () => {
    expect(await resolveCpanelHome(side, root, 'alice')).toEqual({ home: path.join(root, 'home2/alice'), uid: 3001, gid: 3001 });
  });

  it('falls back to ROOT/home/USER for a user passwd does not know', async () => {
    expect(await resolveCpanelHome(side, root, 'bob')).toEqual({ home: path.join(root, 'home/bob') });
  });

  it('refuses a home that would leave ROOT', async () => {
    const err = await resolveCpanelHome(side, root, 'escaper').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailshiftError);
    expect((err as MailshiftError).code).toBe('MAILSHIFT_CPANEL_HOME_OUTSIDE');
  });

  it('resolves local@domain to its owner, home and maildir', async () => {
    expect(await resolveCpanelMailbox(side, root, { localPart: 'info', domain: 'alice.example' }, 'source')).toEqual({
      user: 'alice',
      home: path.join(root, 'home2/alice'),
      mailboxDir: 'alice.example/info',
      path: path.join(root, 'home2/alice/mail/alice.example/info'),
    });
  });

  it('says which end has a domain no account owns, and what to do on a target', async () => {
    for (const domain of ['unknown.example', 'gone.example']) {
      const err = await resolveCpanelMailbox(side, root, { localPart: 'x', domain }, 'target').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MailshiftError);
      expect((err as MailshiftError).code).toBe('MAILSHIFT_CPANEL_DOMAIN_UNKNOWN');
      expect((err as MailshiftError).message).toBe(`target: no cPanel account owns ${domain} in ${path.join(root, 'etc/userdomains')}`);
      expect((err as MailshiftError).hint).toMatch(/create the domain on the target server first/);
    }
  });

  it("gives an account's domains from userdomains plus the safe domain directories of ~/etc", async () => {
    expect(await readCpanelAccountDomains(side, root, 'alice', path.join(root, 'home2/alice'))).toEqual(['alice.example', 'old.example', 'second.example']);
    expect(decideAccountDomains('a.example: alice\n', 'alice', ['b.example', 'Upper.example', 'a..b', '.hidden.example', 'nodot'])).toEqual(['a.example', 'b.example']);
  });

  it('lists ~/mail once and finds its mailboxes', async () => {
    const listing = await listCpanelMail(side, path.join(root, 'home2/alice'), 'cpanel:ROOT#alice');
    expect(listing.mailRoot).toBe(path.join(root, 'home2/alice/mail'));
    expect(listing.mailboxDirs).toEqual(['alice.example/info', 'second.example/sales']);
    expect(listing.entries.some((e) => e.path === '.Sent')).toBe(true);
  });

  it('takes a missing ~/mail for a wrong root or user, not for an empty account', async () => {
    const err = await listCpanelMail(side, path.join(root, 'home/nobody-here'), 'cpanel:ROOT#nobody-here').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailshiftError);
    expect((err as MailshiftError).code).toBe('MAILSHIFT_CPANEL_NO_MAIL');
    expect((err as MailshiftError).message).toBe(`cpanel:ROOT#nobody-here: ${path.join(root, 'home/nobody-here/mail')} does not exist`);
  });

  it('resolves what chown works on: a whole account with its domains, or one mailbox', async () => {
    const location = { type: 'local' } as const;
    expect(await resolveCpanelTarget(side, { location, root, user: 'alice' })).toEqual({
      location,
      root,
      home: path.join(root, 'home2/alice'),
      user: 'alice',
      domains: ['alice.example', 'old.example', 'second.example'],
    });
    expect(await resolveCpanelTarget(side, { location, root, user: 'ceo', mailbox: { localPart: 'ceo', domain: 'bob.example' } })).toEqual({
      location,
      root,
      home: path.join(root, 'home/bob'),
      user: 'bob',
      domains: ['bob.example'],
      mailboxDir: 'bob.example/ceo',
    });
  });
});
