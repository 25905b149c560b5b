import { describe, expect, it } from 'vitest';
import { findDomainOwner, parseDomainUserMap, parseGroupGid, parsePasswd, parsePasswdHome, parseSystemPasswd, parseUserDomains } from '../../src/cpanel/files.js';

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
