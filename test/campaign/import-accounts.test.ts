import { describe, expect, it } from 'vitest';
import { importImapsyncLines, importM365Csv } from '../../src/campaign/import-accounts.js';
import { formatPlan, parsePlan } from '../../src/campaign/plan-file.js';

describe('importImapsyncLines', () => {
  it("reads imapsync's file.txt: comments, a trailing ';', CRLF; passwords go to the secrets, never into the plan", () => {
    const text = '# migration\r\nold.example;alice;pw1;new.example;alice@new.example;pw2;\r\n\r\n';
    const imported = importImapsyncLines(text);
    expect(imported.errors).toEqual([]);
    expect(imported.rows).toEqual([
      { id: 'alice', source: 'imaps://alice@old.example', target: 'imaps://alice@new.example@new.example', group: 'old.example', priority: 0, sourceCredential: 'alice.source', targetCredential: 'alice.target', line: 2 },
    ]);
    expect([...imported.secrets]).toEqual([
      ['alice.source', 'pw1'],
      ['alice.target', 'pw2'],
    ]);
    expect(imported.warnings).toEqual([]);
    expect(formatPlan(imported.rows)).not.toMatch(/pw1|pw2/);
  });

  it('names what it does not carry over, and refuses lines it cannot read, with their numbers', () => {
    const imported = importImapsyncLines('h1;u1;p1;h2;u2;p2;--justfolders --automap;\nh1;u1\nu3;p3;u4;p4\n');
    expect(imported.rows.map((row) => row.id)).toEqual(['u1']);
    expect(imported.warnings).toEqual([{ line: 1, message: "imapsync options not carried over: --justfolders --automap (give mailshift's own in the options column)" }]);
    expect(imported.errors).toEqual([
      { line: 2, message: '2 fields: expected host1;user1;password1;host2;user2;password2[;extra]' },
      { line: 3, message: 'user1;password1;user2;password2 needs the hosts: give --host1 and --host2' },
    ]);
  });

  it('refuses a line with an empty password: no login could use it, and the credentials file would be refused', () => {
    const imported = importImapsyncLines('h1;u1;;h2;u2;p2\n');
    expect(imported.rows).toEqual([]);
    expect(imported.secrets.size).toBe(0);
    expect(imported.errors).toEqual([{ line: 1, message: 'a password is empty (a login needs one)' }]);
  });

  it('reads the 4-column form with the hosts given, and keeps ids unique when a user name repeats', () => {
    const imported = importImapsyncLines('alice;a1;alice;a2\nalice;b1;alice2;b2\n', { host1: 'old.example', host2: 'new.example' });
    expect(imported.rows.map((row) => [row.id, row.source, row.target])).toEqual([
      ['alice', 'imaps://alice@old.example', 'imaps://alice@new.example'],
      ['alice-2', 'imaps://alice@old.example', 'imaps://alice2@new.example'],
    ]);
    expect(imported.secrets.get('alice-2.source')).toBe('b1');
  });

  it('gives a plan that parsePlan reads back without an error', () => {
    const imported = importImapsyncLines('h1.example;u1;p1;h2.example;u2;p2\nh1.example;u 3;p3;h2.example;u3;p4\n');
    const again = parsePlan(formatPlan(imported.rows));
    expect(imported.errors).toEqual([]);
    expect(again.errors).toEqual([]);
    expect(again.rows.map((row) => row.id)).toEqual(['u1', 'u_3']);
  });
});

describe('importM365Csv', () => {
  it("reads Microsoft's EmailAddress,UserName,Password: the source logs in with the password, the Microsoft 365 target with a token", () => {
    const imported = importM365Csv('EmailAddress,UserName,Password\r\nalice@contoso.com,alice,S3cret\r\nbob@contoso.com,"bob,x",pw\r\n', { sourceHost: 'imap.old.example' });
    expect(imported.errors).toEqual([]);
    expect(imported.rows[0]).toEqual({
      id: 'alice',
      source: 'imaps://alice@imap.old.example',
      target: 'imaps://alice@contoso.com;AUTH=XOAUTH2@outlook.office365.com',
      group: 'imap.old.example',
      priority: 0,
      sourceCredential: 'alice.source',
      line: 2,
    });
    expect([...imported.secrets]).toEqual([
      ['alice.source', 'S3cret'],
      ['bob_x.source', 'pw'],
    ]);
  });

  it('refuses a CSV without the three columns, naming the line', () => {
    expect(importM365Csv('Email,User\nx,y\n', { sourceHost: 'h' }).errors).toEqual([{ line: 1, message: 'expected the header EmailAddress,UserName,Password (Microsoft 365 IMAP migration CSV)' }]);
  });
});
