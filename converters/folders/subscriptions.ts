/**
 * Dovecot `subscriptions` (maildir-format.md §4.1). Version 2 starts with "V\t2\n\n" and separates hierarchy levels
 * with TAB; version 1 is one name per line with the namespace separator. Names carry no "INBOX." prefix.
 */

/** Returns MailboxPaths ('/'-separated). `separator` is the v1 hierarchy separator ('.' on Maildir++ / cPanel). */
export function parseSubscriptions(text: string, separator = '.'): string[] {
  const names: string[] = [];
  if (text.startsWith('V\t2\n')) {
    for (const line of text.slice(4).split('\n')) {
      if (line === '') continue;
      names.push(line.split('\t').map(unescapeTabLevel).join('/'));
    }
  } else {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/\r$/, '').trim();
      if (line === '') continue;
      names.push(stripSeparators(line, separator).split(separator).join('/'));
    }
  }
  return names.map((name) => name.replace(/^INBOX\//i, '')).filter((name) => name !== '');
}

export function formatSubscriptionsV2(paths: Iterable<string>): string {
  const unique = [...new Set(paths)].sort();
  return `V\t2\n\n${unique.map((path) => path.split('/').map(escapeTabLevel).join('\t')).join('\n')}${unique.length ? '\n' : ''}`;
}

function stripSeparators(name: string, separator: string): string {
  let out = name;
  while (out.endsWith(separator)) out = out.slice(0, -separator.length);
  return out;
}

// Dovecot's str_tabescape(): the escape character is \x01; \x01 -> \x011, TAB -> \x01t, LF -> \x01n, CR -> \x01r.
function escapeTabLevel(level: string): string {
  return level.replace(/[\x01\t\n\r]/g, (c) => `\x01${c === '\x01' ? '1' : c === '\t' ? 't' : c === '\n' ? 'n' : 'r'}`);
}
function unescapeTabLevel(level: string): string {
  return level.replace(/\x01(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c === '0' ? '\x00' : c === '1' ? '\x01' : c));
}
