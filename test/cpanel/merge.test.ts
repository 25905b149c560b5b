import { describe, expect, it } from 'vitest';
import { mergeKeyedLines, renameAccountPath, rewriteEmbeddedHome, rewritePasswd, rewriteValiases, type Rewrite } from '../../src/cpanel/merge.js';
import { splitDestinations } from '../../src/cpanel/files.js';

const rewrite: Rewrite = { sourceHome: '/home/bob', targetHome: '/home2/robert', sourceUser: 'bob', targetUser: 'robert', targetUid: 2002, targetGid: 2003 };

describe('mergeKeyedLines', () => {
  it('adds source lines whose key the target lacks and never replaces a target line', () => {
    const result = mergeKeyedLines('info:HASH1\nsales:HASH2\n', 'info:TARGETHASH\nboss:X\n');
    expect(result.text).toBe('info:TARGETHASH\nboss:X\nsales:HASH2\n');
    expect(result.added).toEqual(['sales']);
    expect(result.keptTarget).toEqual(['info']);
  });

  it('takes the source as it is when the target has no file', () => {
    expect(mergeKeyedLines('a:1\n', undefined).text).toBe('a:1\n');
  });

  it('keeps the catch-all last in valiases', () => {
    expect(mergeKeyedLines('x@d: y\n*: bob\n', 'z@d: w\n*: :fail: no\n', ':', { lastKey: '*' }).text).toBe('z@d: w\nx@d: y\n*: :fail: no\n');
  });
});

describe('rewrites for a new user or home', () => {
  it('rewrites passwd homes and ids', () => {
    expect(rewritePasswd('info:x:1000:1000::/home/bob/mail/bob.example/info:/bin/bash\n', rewrite)).toBe('info:x:2002:2003::/home2/robert/mail/bob.example/info:/bin/bash\n');
  });

  it('rewrites the autoresponder pipe and the bare user name in valiases, nothing else', () => {
    const text = 'info@bob.example: "|/usr/local/cpanel/bin/autorespond info@bob.example /home/bob/.autorespond",bob@elsewhere.test\n*: bob\nbobby@bob.example: /home/bobby/x\n';
    expect(rewriteValiases(text, rewrite)).toBe(
      'info@bob.example: "|/usr/local/cpanel/bin/autorespond info@bob.example /home2/robert/.autorespond",bob@elsewhere.test\n*: robert\nbobby@bob.example: /home/bobby/x\n',
    );
  });

  it('does not touch a home path that only starts like the old one', () => {
    expect(rewriteEmbeddedHome('save "/home/bobby/mail" and "/home/bob/mail"', rewrite)).toBe('save "/home/bobby/mail" and "/home2/robert/mail"');
  });

  it('splits destinations on commas outside quotes', () => {
    expect(splitDestinations('a, "|/bin/x a,b", c')).toEqual(['a', '"|/bin/x a,b"', 'c']);
  });

  it('renames the Roundcube database of the system mailbox', () => {
    expect(renameAccountPath('etc/bob.rcube.db', rewrite)).toBe('etc/robert.rcube.db');
    expect(renameAccountPath('etc/bob.example/info.rcube.db', rewrite)).toBe('etc/bob.example/info.rcube.db');
  });
});
