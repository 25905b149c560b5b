import { describe, expect, it } from 'vitest';
import { detectFormat } from '../../../src/cpanel/inventory/mailbox.js';
import { createFromLineCounter } from '../../../src/cpanel/inventory/mbox-scan.js';
import { isDomainDirName as isMailDomainDirName } from '../../../src/cpanel/layout.js';

function count(text: string, chunkSize: number) {
  const counter = createFromLineCounter();
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += chunkSize) counter.push(bytes.subarray(i, i + chunkSize));
  return { count: counter.count, isMbox: counter.isMbox };
}

const mbox = [
  'From alice@example.com Sat Jun  1 10:00:00 2024',
  'Subject: one',
  '',
  'Hello,',
  'From the body, unquoted but inside a paragraph',
  '>From a quoted line',
  '',
  'From bob@example.com Sat Jun  1 11:00:00 2024',
  'Subject: two',
  '',
  'body',
  '',
  'From carol@example.com Sat Jun  1 12:00:00 2024',
  'Subject: three',
  '',
  'x',
  '',
].join('\n');

describe('createFromLineCounter', () => {
  it('counts From_ lines that start the file or follow a blank line, whatever the chunk size', () => {
    for (const size of [1, 2, 3, 5, 7, 64, 1 << 16]) expect(count(mbox, size)).toEqual({ count: 3, isMbox: true });
  });

  it('handles CRLF blank lines', () => {
    expect(count(mbox.replace(/\n/g, '\r\n'), 3).count).toBe(3);
  });

  it('says a file that does not start with "From " is not an mbox, and an empty file is an empty one', () => {
    expect(count('Subject: hello\n\nFrom x Sat Jun  1 10:00:00 2024\n', 4).isMbox).toBe(false);
    expect(count('', 4)).toEqual({ count: 0, isMbox: true });
  });
});

describe('detectFormat', () => {
  it('decides by content, as cPanel does', () => {
    expect(detectFormat([{ name: 'cur', kind: 'dir' }])).toBe('maildir');
    expect(detectFormat([{ name: 'storage', kind: 'dir' }, { name: 'mailboxes', kind: 'dir' }])).toBe('mdbox');
    expect(detectFormat([{ name: 'inbox', kind: 'file' }])).toBe('mbox');
    expect(detectFormat([{ name: 'cur', kind: 'symlink' }])).toBe('unknown');
  });

  it('tells domain directories of ~/mail from folders and reserved names', () => {
    expect(isMailDomainDirName('example.com')).toBe(true);
    expect(isMailDomainDirName('.Sent')).toBe(false);
    expect(isMailDomainDirName('archive')).toBe(false);
    expect(isMailDomainDirName('dovecot.index.cache')).toBe(false);
  });
});
