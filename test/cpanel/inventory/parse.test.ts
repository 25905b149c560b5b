import { describe, expect, it } from 'vitest';
import { countFilterRules, deliverySecondsFromName, isCpanelMailboxLink, maildirSizeFromName, parseAutoresponderSettings, parseMaildirsize } from '../../../src/cpanel/inventory/parse.js';
import {
  parseCpuserFile,
  parseDomainUserMap,
  parseMailPasswd,
  parseQuotaFile,
  parseShadowStates,
  parseSystemPasswd,
  parseValiases,
  parseVdomainaliases,
  splitDestinations,
} from '../../../src/cpanel/files.js';
import { checkFileName, checkNameSegment } from '../../../src/cpanel/unsafe.js';

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

describe('parseMaildirsize', () => {
  it('sums the delta lines under the quota definition', () => {
    const text = '1073741824S,1000C\n   12345678    321\n     -4096     -1\n';
    expect(parseMaildirsize(text)).toEqual({
      limitBytes: 1073741824,
      limitMessages: 1000,
      usedBytes: 12345678 - 4096,
      usedMessages: 320,
      fileBytes: text.length,
    });
  });

  it('reads the system mailbox header 0S,0C as unlimited', () => {
    expect(parseMaildirsize('0S,0C\n')).toMatchObject({ limitBytes: null, limitMessages: null, usedBytes: 0 });
  });

  it('rejects a file whose first line is not a quota definition', () => {
    expect(parseMaildirsize('hello\n1 2\n')).toBeUndefined();
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

describe('other tables', () => {
  it('reads a domain forwarder', () => {
    expect(parseVdomainaliases('old.example: new.example\n', 'old.example')).toBe('new.example');
    expect(parseVdomainaliases('', 'old.example')).toBeNull();
  });

  it('counts one rule per if block of a cPanel filter', () => {
    expect(countFilterRules('# Exim filter - auto-generated by cPanel.\n#r1\nif $h_subject: contains "x"\nthen\n  seen finish\nendif\n#r2\nif foo\nthen\nendif\n')).toBe(2);
    expect(countFilterRules('')).toBe(0);
  });

  it('reads autoresponder settings from JSON and from legacy .conf', () => {
    expect(parseAutoresponderSettings('{"interval":24,"start":1717000000,"stop":null}')).toEqual({ start: 1717000000, stop: null, intervalHours: 24 });
    expect(parseAutoresponderSettings('INTERVAL=8\nSTART=1700000000\nSTOP=\n')).toEqual({ start: 1700000000, stop: null, intervalHours: 8 });
  });
});

describe('names that become paths', () => {
  it('rejects traversal, separators, control characters and undecodable bytes', () => {
    expect(checkNameSegment('info')).toBeUndefined();
    expect(checkNameSegment("o'brien+tag")).toBeUndefined();
    expect(checkNameSegment('..')).toBeDefined();
    expect(checkNameSegment('a..b')).toBeDefined();
    expect(checkNameSegment('../../etc')).toBeDefined();
    expect(checkNameSegment('a\nb')).toBeDefined();
    expect(checkNameSegment('caf\uFFFD')).toBeDefined();
    expect(checkFileName('1700000000.M1P1.host name; $(id),S=5:2,S')).toBeUndefined();
    expect(checkFileName('1700000000.M1P1.host\u001b[2J')).toBeDefined();
  });

  it("recognises cPanel's .LOCAL@DOMAIN_TLD links and nothing else", () => {
    expect(isCpanelMailboxLink('.info@example_com', 'example.com/info')).toBe(true);
    expect(isCpanelMailboxLink('.info@example_com', 'example.com/other')).toBe(false);
    expect(isCpanelMailboxLink('.info@example_com', '../../bob/mail/example.com/info')).toBe(false);
    expect(isCpanelMailboxLink('.info@example_com', '/home/alice/mail/example.com/info')).toBe(false);
    expect(isCpanelMailboxLink('.Sent', 'example.com/info')).toBe(false);
  });

  it('takes the delivery time from a Dovecot name and nothing from other names', () => {
    expect(deliverySecondsFromName('1717000001.M1P1.host,S=5:2,S')).toBe(1717000001);
    expect(deliverySecondsFromName('999999999.M1P1.host')).toBe(999999999);
    expect(deliverySecondsFromName('msg-1717000001.host')).toBeUndefined();
    expect(deliverySecondsFromName('17170000011.M1.host')).toBeUndefined();
    expect(deliverySecondsFromName('1717000001')).toBeUndefined();
  });
});

describe('maildirSizeFromName', () => {
  it('reads ",S=" exactly as parseMaildirName does', async () => {
    const { parseMaildirName } = await import('../../../converters/maildir/filename.js');
    const names = [
      '1717000001.M1P1.host,S=5:2,S',
      '1717000001.M1P1.host,S=5,W=7:2,S',
      '1717000001.M1P1.host,W=7,S=123',
      '1717000001.M1P1.host:2,S',
      '1717000001.M1P1.host:2,S,S=9',
      '1717000001.M1P1.host,S=x,S=42:2,',
      '1717000001.M1P1.host,S=:2,S',
      'plain',
    ];
    for (const name of names) expect(maildirSizeFromName(name), name).toBe(parseMaildirName(name).sizeBytes);
  });
});
