import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCpanelAccount, type MailboxInventory } from '../../../src/cpanel/inventory/index.js';
import { createDoveadm, mailOwner, type Doveadm } from '../../support/dovecot.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
// @ts-ignore -- plain .mjs script without type declarations (scripts run without a build step)
import { generateCpanelTree } from '../../../scripts/gen-cpanel-tree.mjs';

/**
 * discover's counts against Dovecot's own view of the same mailboxes (real doveadm, no IMAP needed): the number of
 * messages per folder, and the folder names, must be what Dovecot serves. This checks the reader against the
 * format as Dovecot implements it, not only against our generator.
 */
describe('discover counts what Dovecot serves', () => {
  let temp: TempDir;
  let doveadm: Doveadm;
  let root: string;

  beforeAll(async () => {
    temp = await makeTempDir('discover-dovecot', { mode: 0o755 });
    const fixture = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../fixtures/cpanel/basic.json'), 'utf8'));
    root = (generateCpanelTree(fixture, path.join(temp.path, 'gen')) as { root: string }).root;
    doveadm = await createDoveadm({ separator: '/' });
  });
  afterAll(async () => {
    await doveadm?.close();
    await temp?.cleanup();
  });

  const countsOf = (mb: MailboxInventory) => Object.fromEntries(mb.folders.map((f) => [f.name, f.messages]));

  it('for every maildir mailbox of an account, names and message counts per folder', async () => {
    const alice = await readCpanelAccount(root, 'alice');
    for (const mb of alice.mailboxes.filter((m) => m.kind === 'virtual')) {
      const box = await doveadm.openMaildir(path.join(root, mb.path));
      const status = await box.mailboxStatus();
      expect(countsOf(mb), mb.address).toEqual(Object.fromEntries(Object.entries(status).map(([name, s]) => [name, s.messages])));
    }
  });

  it('for the default mailbox, once cPanel’s mailbox links and domain directories are left out of the copy', async () => {
    // Dovecot would list the .LOCAL@DOMAIN_TLD links as folders (that is what they are for, in webmail); discover
    // deliberately does not, so compare on a copy without them.
    const copy = path.join(temp.path, 'alice-default');
    execFileSync('cp', ['-a', '--', path.join(root, 'home/alice/mail'), copy]);
    execFileSync('find', [copy, '-maxdepth', '1', '(', '-type', 'l', '-o', '-name', '*.example', ')', '-exec', 'rm', '-rf', '--', '{}', '+']);
    const alice = await readCpanelAccount(root, 'alice');
    const status = await (await doveadm.openMaildir(copy)).mailboxStatus();
    expect(countsOf(alice.mailboxes[0]!)).toEqual(Object.fromEntries(Object.entries(status).map(([name, s]) => [name, s.messages])));
  });

  it('for a legacy mbox mailbox, message counts per folder file', async () => {
    const bob = await readCpanelAccount(root, 'bob');
    const mb = bob.mailboxes.find((m) => m.address === 'ceo@bob.example')!;
    // Dovecot locks and may rewrite an mbox it reads: give it a private copy owned by its mail user.
    const copy = path.join(temp.path, 'bob-mbox');
    execFileSync('cp', ['-a', '--', path.join(root, mb.path), copy]);
    const owner = mailOwner();
    execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, '--', copy]);
    const status = await doveadm.mailboxStatus(`mbox:${copy}:INBOX=${copy}/inbox:INDEX=MEMORY`);
    expect(countsOf(mb)).toEqual(Object.fromEntries(Object.entries(status).map(([name, s]) => [name, s.messages])));
  });
});
