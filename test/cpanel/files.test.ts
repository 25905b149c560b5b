import { describe, expect, it } from 'vitest';
import {
  findDomainOwner,
  parseCpuserFile,
  parseDomainUserMap,
  parseGroupGid,
  parseMailPasswd,
  parsePasswd,
  parsePasswdHome,
  parseQuotaFile,
  parseShadowStates,
  parseSystemPasswd,
  parseUserDomains,
  parseValiases,
  parseVdomainaliases,
  splitDestinations,
} from '../../src/cpanel/files.js';

/** One parser per cPanel table: what copy, chown, resync, verify and discover each read from the same file. */

const userdomains = [
  'Example.com: alice',
  'shop.example: alice',
  'bob.example: bob',
  'evil/../x.example: alice',
  'parked.example: nobody',
  'weird.example: -rf',
  'broken line',
  ': nobody',
  '*: nobody',
  '',
].join('\n');

describe('etc/userdomains', () => {
  it('maps every domain to its account, without the "*: nobody" fallback and lines without a domain', () => {
    expect(parseDomainUserMap(userdomains)).toEqual([
      { domain: 'example.com', user: 'alice' },
      { domain: 'shop.example', user: 'alice' },
      { domain: 'bob.example', user: 'bob' },
      { domain: 'evil/../x.example', user: 'alice' },
      { domain: 'weird.example', user: '-rf' },
    ]);
  });

  it("gives an account's domains only when they are safe to build paths from", () => {
    expect(parseUserDomains(userdomains, 'alice')).toEqual(['example.com', 'shop.example']);
    expect(parseUserDomains(userdomains, 'bob')).toEqual(['bob.example']);
  });

  it('names the owner of a domain, and no owner for nobody or a name that is no cPanel user', () => {
    expect(findDomainOwner(userdomains, 'example.com')).toBe('alice');
    expect(findDomainOwner(userdomains, 'bob.example')).toBe('bob');
    expect(findDomainOwner(userdomains, 'parked.example')).toBeUndefined();
    expect(findDomainOwner(userdomains, 'weird.example')).toBeUndefined();
    expect(findDomainOwner(userdomains, 'unknown.example')).toBeUndefined();
  });

  it('lets the first line for a domain decide, as before the parsers were one', () => {
    expect(findDomainOwner('x.example: nobody\nx.example: alice\n', 'x.example')).toBeUndefined();
    expect(findDomainOwner('x.example: bob\nx.example: alice\n', 'x.example')).toBe('bob');
  });

  it('reads CRLF files like LF ones', () => {
    expect(parseDomainUserMap('a.example: alice\r\nb.example: bob\r\n')).toEqual([
      { domain: 'a.example', user: 'alice' },
      { domain: 'b.example', user: 'bob' },
    ]);
    expect(findDomainOwner('a.example: alice\r\n', 'a.example')).toBe('alice');
  });
});

const passwd = [
  'root:x:0:0:root:/root:/bin/bash',
  'alice:x:3001:3001::/home/alice:/bin/bash',
  'short:x:1:1',
  'broken:x:abc:3001::/home/broken:/bin/sh',
  'alice2:x:3002:3002::/home2/alice2:/usr/local/cpanel/bin/noshell',
  'alice2:x:3002:3002::/home3/alice2:/usr/local/cpanel/bin/noshell',
  '',
].join('\n');

describe('etc/passwd', () => {
  it('reads every line with seven fields, in file order', () => {
    expect(parsePasswd(passwd).map((e) => e.user)).toEqual(['root', 'alice', 'broken', 'alice2', 'alice2']);
    expect(parsePasswd(passwd)[1]).toEqual({ user: 'alice', uid: 3001, gid: 3001, home: '/home/alice' });
  });

  it("gives a user's home and ids from the first line for them; ids that are not numbers give nothing", () => {
    expect(parsePasswdHome(passwd, 'alice')).toEqual({ home: '/home/alice', uid: 3001, gid: 3001 });
    expect(parsePasswdHome(passwd, 'alice2')).toEqual({ home: '/home2/alice2', uid: 3002, gid: 3002 });
    expect(parsePasswdHome(passwd, 'broken')).toBeUndefined();
    expect(parsePasswdHome(passwd, 'short')).toBeUndefined();
    expect(parsePasswdHome(passwd, 'nobody')).toBeUndefined();
  });

  it('finds the user on the first line, the last line without its newline, CR LF lines, and not by a longer name', () => {
    expect(parsePasswdHome('al:x:1:1::/home/al:/bin/false\nalice:x:2:2::/home/alice:/bin/false', 'alice')).toEqual({ home: '/home/alice', uid: 2, gid: 2 });
    expect(parsePasswdHome('alice:x:2:2::/home/alice:/bin/false\r\nal:x:1:1::/home/al:/bin/false\r\n', 'al')).toEqual({ home: '/home/al', uid: 1, gid: 1 });
    expect(parsePasswdHome('alice2:x:2:2::/home/alice2:/bin/false\n', 'alice')).toBeUndefined();
    expect(parsePasswdHome('alice:short\nalice:x:5:5::/home/alice:/bin/false\n', 'alice')).toEqual({ home: '/home/alice', uid: 5, gid: 5 });
    expect(parsePasswdHome(passwd, '')).toBeUndefined();
    expect(parsePasswdHome(passwd, 'root:x')).toBeUndefined();
  });

  it('answers the same as parsing every line, for every user of a large passwd', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `u${i}:x:${1000 + i}:${1000 + i}::/home/u${i}:/bin/bash`);
    const big = `${lines.join('\n')}\nu7:x:9:9::/elsewhere:/bin/bash\n`;
    for (const entry of parsePasswd(big).slice(0, 500)) expect(parsePasswdHome(big, entry.user)).toEqual({ home: entry.home, uid: entry.uid, gid: entry.gid });
  });

  it("maps users to homes for discover, the last line for a user winning (a map's set)", () => {
    const homes = parseSystemPasswd(passwd);
    expect(homes.get('alice')).toBe('/home/alice');
    expect(homes.get('alice2')).toBe('/home3/alice2');
    expect(homes.has('short')).toBe(false);
  });
});

describe('etc/group', () => {
  it('gives the gid of a group, or nothing', () => {
    const group = 'root:x:0:\nmail:x:8:\nodd:x:eight:\n';
    expect(parseGroupGid(group, 'mail')).toBe(8);
    expect(parseGroupGid(group, 'odd')).toBeUndefined();
    expect(parseGroupGid(group, 'wheel')).toBeUndefined();
  });
});

describe('cPanel domain maps', () => {
  it('reads "domain: user" lines and drops the "*: nobody" fallback', () => {
    expect(parseDomainUserMap('Example.com: alice\nshop.example: alice\n*: nobody\nbroken line\n')).toEqual([
      { domain: 'example.com', user: 'alice' },
      { domain: 'shop.example', user: 'alice' },
    ]);
  });

  it('reads home directories from the server passwd', () => {
    expect(parseSystemPasswd('root:x:0:0:root:/root:/bin/bash\ncarol:x:1002:1002::/home2/carol:/bin/bash\nshort:x\n').get('carol')).toBe('/home2/carol');
  });
});

describe('parseCpuserFile', () => {
  it('reads format, UTF8MAILBOX, suspension and the domains in DNS, DNS1, DNS2 order', () => {
    const info = parseCpuserFile('DNS=Main.example\nDNS2=two.example\nDNS1=one.example\nXDNS1=gone.example\nMAILBOX_FORMAT=mdbox\nUTF8MAILBOX=1\nSUSPENDED=1\nOWNER=reseller\n');
    expect(info).toMatchObject({ primaryDomain: 'main.example', mailboxFormat: 'mdbox', utf8MailboxNames: true, suspended: true, owner: 'reseller' });
    expect(info.domains).toEqual(['main.example', 'one.example', 'two.example']);
  });

  it('treats a missing UTF8MAILBOX as modified UTF-7 names, as cPanel restores do', () => {
    expect(parseCpuserFile('DNS=a.example\n').utf8MailboxNames).toBe(false);
  });
});

describe('mail passwd, shadow and quota', () => {
  it('lists local parts from field 1 of ~/etc/DOMAIN/passwd', () => {
    expect(parseMailPasswd('info:x:1000:1000::/home/a/mail/a.example/info:/bin/bash\n\n#comment\nsales:x:1:1::/x:/bin/sh\n')).toEqual(['info', 'sales']);
  });

  it('says whether a hash exists without ever returning it', () => {
    const hash = '$6$abcdefgh$0123456789secret';
    const states = parseShadowStates(`info:${hash}:19700::::::\nlocked:!${hash}:1::::::\nnone::1::::::\nstar:*:1::::::\n`);
    expect(Object.fromEntries(states)).toEqual({ info: 'set', locked: 'locked', none: 'empty', star: 'empty' });
    expect(JSON.stringify([...states])).not.toContain('secret');
  });

  it('reads byte quotas; 0, junk and missing values mean unlimited', () => {
    expect(Object.fromEntries(parseQuotaFile('info:1048576\nfree:0\nodd:lots\n'))).toEqual({ info: 1048576, free: null, odd: null });
  });
});

describe('parseValiases', () => {
  const text = [
    'boss@a.example: alice@elsewhere.test,info@a.example',
    'away@a.example: "|/usr/local/cpanel/bin/autorespond away@a.example /home/alice/.autorespond"',
    'gone@a.example: :fail: No longer here, sorry',
    'log@a.example: "/home/alice/mail log"',
    '*: alice',
  ].join('\n');

  it('reads forwarders, autoresponder pipes and special actions', () => {
    const { forwarders } = parseValiases(text, 'a.example', 'alice');
    expect(forwarders).toEqual([
      { address: 'boss@a.example', destinations: ['alice@elsewhere.test', 'info@a.example'], kind: 'forward' },
      { address: 'away@a.example', destinations: ['"|/usr/local/cpanel/bin/autorespond away@a.example /home/alice/.autorespond"'], kind: 'autoresponder' },
      // a :fail: text with a comma is one action, not two destinations
      { address: 'gone@a.example', destinations: [':fail: No longer here, sorry'], kind: 'fail' },
      { address: 'log@a.example', destinations: ['"/home/alice/mail log"'], kind: 'file' },
    ]);
  });

  it('reads the "*" line as the catch-all and recognises delivery to the default mailbox', () => {
    expect(parseValiases(text, 'a.example', 'alice').catchAll).toEqual({ domain: 'a.example', action: 'alice', kind: 'default-mailbox' });
    expect(parseValiases('*: :blackhole:\n', 'a.example', 'alice').catchAll?.kind).toBe('blackhole');
    expect(parseValiases('*: :fail: No Such User Here\n', 'a.example', 'alice').catchAll?.kind).toBe('fail');
    expect(parseValiases('*: other@b.example\n', 'a.example', 'alice').catchAll?.kind).toBe('forward');
  });

  it('splits destinations on commas outside quotes only', () => {
    expect(splitDestinations('a@x, "|prog a,b" ,b@y')).toEqual(['a@x', '"|prog a,b"', 'b@y']);
  });
});

describe('etc/vdomainaliases', () => {
  it('reads a domain forwarder', () => {
    expect(parseVdomainaliases('old.example: new.example\n', 'old.example')).toBe('new.example');
    expect(parseVdomainaliases('', 'old.example')).toBeNull();
  });
});
