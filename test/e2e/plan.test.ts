import { readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- untyped .mjs script (the generator is the test oracle)
import { generateCpanelTree } from '../../scripts/gen-cpanel-tree.mjs';
import { runCli } from './cli.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

/** `mailshift plan`: a campaign's plan from an account list or a cPanel root; passwords only in a 0600 file. */
let temp: TempDir;
beforeAll(async () => {
  temp = await makeTempDir('plan');
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('mailshift plan', () => {
  it("turns imapsync's file.txt into a plan and a 0600 credentials file, listing the line it could not read (exit 3)", async () => {
    const list = path.join(temp.path, 'file.txt');
    await writeFile(list, '# accounts\nold.example;alice;Pw-one;new.example;alice;Pw-two;\nnot a line\n');
    const plan = path.join(temp.path, 'imapsync.csv');
    const result = await runCli(['plan', '--from-imapsync', list, plan]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain('line 3: 1 fields: expected host1;user1;password1;host2;user2;password2[;extra]');
    const text = await readFile(plan, 'utf8');
    expect(text).toContain('alice,imaps://alice@old.example,imaps://alice@new.example,,old.example,0,,,alice.source,alice.target');
    expect(text + result.stdout + result.stderr).not.toMatch(/Pw-one|Pw-two/);
    const credentials = `${plan}.credentials.json`;
    expect((await stat(credentials)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(credentials, 'utf8'))).toEqual({ version: 1, credentials: { 'alice.source': 'Pw-one', 'alice.target': 'Pw-two' } });

    const again = await runCli(['plan', '--from-imapsync', list, plan]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists already: not overwritten');
  });

  it('plans every account of a cPanel root to a target root over ssh, and --check finds an edit that breaks it, by line', async () => {
    const tree = generateCpanelTree(
      { seed: 1, accounts: ['alice', 'bob'].map((user) => ({ user, domains: [`${user}.example`], mailboxes: [{ address: `info@${user}.example`, folders: { INBOX: { cur: 1 } } }] })) },
      path.join(temp.path, 'old'),
    ) as { root: string };
    const plan = path.join(temp.path, 'cpanel.csv');
    const result = await runCli(['--json', 'plan', '--from-cpanel', tree.root, '--to', 'ssh://new.example.com/', plan]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, command: 'plan', rows: 2 });
    const text = await readFile(plan, 'utf8');
    expect(text).toContain(`alice,cpanel:${tree.root}#alice,cpanel:ssh://new.example.com/#alice,,local,0,,,,`);
    expect((await runCli(['plan', '--check', plan])).stdout).toContain('2 account(s), no problem found');

    await writeFile(plan, text.replace('\nbob,', '\nalice,'));
    const check = await runCli(['plan', '--check', plan]);
    expect(check.code).toBe(2);
    expect(check.stdout).toContain('line 4: id "alice" is used twice (first on line 3)');

    // What the campaign would refuse before it starts, --check finds too: a credential the credentials file lacks.
    await writeFile(plan, text.split('\n').map((line) => (line.startsWith('bob,') ? line.replace(',local,0,,,,,', ',local,0,,,bob.source,,') : line)).join('\n'));
    const credentialCheck = await runCli(['plan', '--check', plan]);
    expect(credentialCheck.code, credentialCheck.stdout).toBe(2);
    expect(credentialCheck.stdout).toMatch(/line 4: source_credential "bob.source": there is no credentials file/);
  });

  it('--check names the rows a campaign will refuse for their quota, and exits 3', async () => {
    const plan = path.join(temp.path, 'quota.csv');
    await writeFile(plan, 'id,source,target,size,largest,quota\nwhale,imaps://w@old.example,imaps://w@new.example,5000000,5000000,1000000\nok,imaps://o@old.example,imaps://o@new.example,10,10,1000000\n');
    const check = await runCli(['plan', '--check', plan]);
    expect(check.code).toBe(3);
    expect(check.stdout).toContain('2 account(s), no problem found');
    expect(check.stdout).toMatch(/1 row\(s\) over their target quota:\n  line 2: whale: will be refused: its largest mailbox holds 4\.8 MB, more than the target quota of 977 KB/);
  });

  it('lists an account discover could not take as not planned (exit 3), never leaves it out in silence', async () => {
    const tree = generateCpanelTree(
      { seed: 2, accounts: [{ user: 'alice', domains: ['alice.example'], mailboxes: [{ address: 'info@alice.example', folders: { INBOX: { cur: 1 } } }] }] },
      path.join(temp.path, 'linked'),
    ) as { root: string };
    // A cPanel user file that is a link is not read (discover's rule): the plan must say so.
    await symlink('/etc/hostname', path.join(tree.root, 'var/cpanel/users/mallory'));
    const plan = path.join(temp.path, 'linked.csv');
    const result = await runCli(['plan', '--from-cpanel', tree.root, '--to', '/srv/new', plan]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/not planned: .*var\/cpanel\/users\/mallory/);
    expect(result.stdout).toContain('1 account(s); 1 not planned (listed above)');
  });

  it('writes sizes, names a row too big for --target-quota by its line, and lists an mbox account as not planned', async () => {
    const tree = generateCpanelTree(
      {
        seed: 3,
        accounts: [
          { user: 'small', domains: ['small.example'], defaultMailbox: { folders: { INBOX: { cur: 2, sizeBytes: 1000 } } } },
          { user: 'whale', domains: ['whale.example'], mailboxes: [{ address: 'ceo@whale.example', folders: { INBOX: { cur: 30, sizeBytes: 100_000 } } }] },
          { user: 'oldie', domains: ['oldie.example'], format: 'mbox', defaultMailbox: { folders: { INBOX: { cur: 2 } } } },
        ],
      },
      path.join(temp.path, 'sizes'),
    ) as { root: string };
    const plan = path.join(temp.path, 'sizes.csv');
    const result = await runCli(['plan', '--from-cpanel', tree.root, '--to', '/srv/new', '--target-quota', '1M', plan]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/line 4: whale: its largest mailbox holds 2\.9 MB, more than the target quota of 1\.0 MB/);
    expect(result.stderr).toMatch(/oldie: not planned: oldie is mbox, not maildir/);
    const rows = (await readFile(plan, 'utf8')).split('\n');
    expect(rows[2]).toMatch(/^small,.*,2000,2000,1048576$/);
    expect(rows[3]).toMatch(/^whale,.*,3000000,3000000,1048576$/);
  });

  it('plans one row per mailbox to an IMAP server, each logging in as its address, and asks for their passwords', async () => {
    const tree = generateCpanelTree(
      { seed: 4, accounts: [{ user: 'alice', domains: ['alice.example'], mailboxes: [{ address: 'info@alice.example', folders: { INBOX: { cur: 1 } } }] }] },
      path.join(temp.path, 'to-imap'),
    ) as { root: string };
    const plan = path.join(temp.path, 'to-imap.csv');
    const result = await runCli(['plan', '--from-cpanel', tree.root, '--to', 'imaps://mail.new.example', plan]);
    expect(result.code, result.stderr).toBe(0);
    const text = await readFile(plan, 'utf8');
    expect(text).toContain(`alice,${tree.root}/home/alice/mail,imaps://alice@mail.new.example:993,,local,0,,,,alice,`);
    expect(text).toContain(`info@alice.example,${tree.root}/home/alice/mail/alice.example/info,imaps://info@alice.example@mail.new.example:993,,local,0,,,,info@alice.example,`);
    expect(result.stderr).toContain('add each address with its password to the credentials file');
    const refused = await runCli(['plan', '--from-cpanel', tree.root, '--to', 'imaps://bob@mail.new.example', path.join(temp.path, 'user.csv')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('give the server only');
  });
});
