import { describe, expect, it } from 'vitest';
import { buildMaildirRules, planAccountCopy } from '../../../src/engine/tree/plan-copy.js';
import { findMailboxDirs } from '../../../src/cpanel/layout.js';
import { parseGroupGid, parsePasswdHome, parseUserDomains } from '../../../src/cpanel/files.js';
import type { TreeEntry } from '../../../src/hosts/find.js';

const e = (p: string, type: TreeEntry['type'] = 'dir'): TreeEntry => ({ type, path: p, sizeBytes: 0, uid: 0, gid: 0, mode: 0o755, nlink: 1, mtimeMs: 0, ctimeMs: 0, device: 1, inode: 1 });

describe('buildMaildirRules', () => {
  it('protects every message before any exclude and keeps control files', () => {
    const rules = buildMaildirRules();
    const patterns = rules.map((r) => `${r.action === 'include' ? '+' : '-'} ${r.pattern}`);
    expect(patterns.slice(0, 2)).toEqual(['+ cur/*', '+ new/*']);
    expect(patterns).toEqual(expect.arrayContaining(['- /tmp/*', '- /.*/tmp/*', '- dovecot.index*', '- dovecot.list.index*']));
    for (const kept of ['dovecot-uidlist', 'dovecot-keywords', 'subscriptions', 'maildirsize']) {
      expect(patterns.some((p) => p.startsWith('-') && p.endsWith(kept))).toBe(false);
    }
  });

  it('anchors and escapes the mailbox trees another job copies', () => {
    const rules = buildMaildirRules({ excludeDirs: ['example.com/a*b'] });
    expect(rules[0]).toEqual({ action: 'exclude', pattern: '/example.com/a[*]b/' });
  });
});

describe('findMailboxDirs', () => {
  it('finds DOMAIN/LOCAL directories with cur/, the way cPanel does', () => {
    const entries = [
      e('example.com'), e('example.com/info'), e('example.com/info/cur'),
      e('example.com/nocur'), e('example.com/.hidden'), e('example.com/.hidden/cur'),
      e('example.com/stolen', 'symlink'), e('.Sent'), e('.Sent/cur'), e('cur'),
      e('.info@example_com', 'symlink'), e('nodot'), e('nodot/x'), e('nodot/x/cur'),
    ];
    expect(findMailboxDirs(entries)).toEqual(['example.com/info']);
  });
});

describe('planAccountCopy', () => {
  it('copies the default mailbox without the mailbox trees, one job per mailbox, and merges the etc files', () => {
    const plan = planAccountCopy({
      source: { root: '/src', home: '/src/home/bob', user: 'bob' },
      target: { root: '/dst', home: '/dst/home/bob', user: 'bob', ssh: { host: '127.0.0.1' } },
      listing: { mail: [e('bob.example'), e('bob.example/info'), e('bob.example/info/cur')], home: [e('etc'), e('etc/bob.example'), e('etc/bob.example/passwd', 'file'), e('.autorespond')] },
      domains: ['bob.example'],
      rewrite: { sourceHome: '/home/bob', targetHome: '/home/bob', sourceUser: 'bob', targetUser: 'bob' },
    });
    expect(plan.jobs.map((j) => j.label)).toEqual(['bob (default mailbox)', 'info@bob.example', 'bob (account files)']);
    expect(plan.jobs[0]!.rules[0]).toEqual({ action: 'exclude', pattern: '/bob.example/info/' });
    expect(plan.jobs[1]!.target).toEqual({ path: '/dst/home/bob/mail/bob.example/info', ssh: { host: '127.0.0.1' } });
    expect(plan.jobs[2]!.filesFrom).toEqual(['.autorespond', 'etc']);
    expect(plan.merges.map((m) => m.targetPath)).toEqual(['home/bob/etc/bob.example/passwd', 'etc/valiases/bob.example', 'etc/vdomainaliases/bob.example', 'etc/vfilters/bob.example']);
  });
});

describe('system file parsers', () => {
  it('reads the domains of a user, ignoring unsafe names and the catch-all', () => {
    expect(parseUserDomains('a.example: alice\nb.example: bob\n../x: alice\n*: nobody\n', 'alice')).toEqual(['a.example']);
  });

  it('reads home, uid and gid from passwd and a gid from group', () => {
    expect(parsePasswdHome('root:x:0:0::/root:/bin/sh\nalice:x:1001:1002::/home/alice:/bin/bash\n', 'alice')).toEqual({ home: '/home/alice', uid: 1001, gid: 1002 });
    expect(parseGroupGid('mail:x:8:\n', 'mail')).toBe(8);
  });
});

describe('what copy keeps out of every source', () => {
  it("never carries over a copy job's marker or an older build's temp dir, in a maildir or the account files", () => {
    const patterns = buildMaildirRules().map((r) => `${r.action === 'include' ? '+' : '-'} ${r.pattern}`);
    expect(patterns).toEqual(expect.arrayContaining(['- /mailshift-tmp/', '- /mailshift-copy-in-progress']));
    const plan = planAccountCopy({
      source: { root: '/s', home: '/s/home/alice', user: 'alice' },
      target: { root: '/t', home: '/t/home/alice', user: 'alice' },
      listing: { mail: [], home: [e('etc')] },
      domains: [],
      rewrite: { sourceUser: 'alice', targetUser: 'alice', sourceHome: '/s/home/alice', targetHome: '/t/home/alice' },
    });
    const files = plan.jobs.find((j) => j.kind === 'files')!;
    expect(files.rules).toEqual(expect.arrayContaining([{ action: 'exclude', pattern: '/mailshift-copy-in-progress' }, { action: 'exclude', pattern: 'mailshift-copy-in-progress.*' }]));
  });
});
