import { describe, expect, it } from 'vitest';
import {
  buildListCommand,
  buildListedEntries,
  parseListResponse,
  parseNamespaceResponse,
  parseRootListResponse,
  parseStatusResponse,
  readNamespaceAndFolders,
  toImapNamespace,
  untaggedKind,
} from '../../../src/stores/imap/folder-list.js';
import { classifyImapError } from '../../../src/stores/imap/errors.js';
import { RawImapSession } from '../../../src/stores/imap/raw-session.js';
import { ResponseFramer, type RawResponse } from '../../../src/stores/imap/response-framer.js';
import { fakeServer } from './fake-server.js';

/** The responses a server's bytes frame into. */
function responses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  new ResponseFramer((response) => out.push(response)).push(Buffer.from(text, 'latin1'));
  return out;
}
const one = (text: string) => responses(text)[0]!;
const caps = (...names: string[]) => new Set(names);

describe('buildListCommand', () => {
  it('lists every folder from the root, with LIST-STATUS and SPECIAL-USE where offered', () => {
    expect(buildListCommand(caps('LIST-STATUS', 'CONDSTORE', 'SPECIAL-USE'), { withStatus: true })).toBe('LIST "" "*" RETURN (STATUS (UIDNEXT UIDVALIDITY HIGHESTMODSEQ) SPECIAL-USE)');
    expect(buildListCommand(caps('LIST-STATUS'), { withStatus: true })).toBe('LIST "" "*" RETURN (STATUS (UIDNEXT UIDVALIDITY))');
    expect(buildListCommand(caps('LIST-STATUS', 'SPECIAL-USE'), { withStatus: false })).toBe('LIST "" "*" RETURN (SPECIAL-USE)');
  });

  it('sends no RETURN options a server did not offer, and none when asked for the plain form', () => {
    // SPECIAL-USE without extended LIST: RETURN is LIST-EXTENDED syntax.
    expect(buildListCommand(caps('SPECIAL-USE'), { withStatus: true })).toBe('LIST "" "*"');
    expect(buildListCommand(caps('LIST-STATUS', 'SPECIAL-USE', 'LIST-EXTENDED'), { withStatus: true, plain: true })).toBe('LIST "" "*"');
  });
});

describe('parseNamespaceResponse', () => {
  const personal = (text: string) => parseNamespaceResponse(one(text)).personal;

  it('takes the first personal namespace, its prefix ending with the delimiter', () => {
    expect(personal('* NAMESPACE (("" "/")) NIL NIL\r\n')).toEqual({ prefix: '', delimiter: '/' });
    expect(personal('* NAMESPACE (("INBOX." ".")) NIL (("#shared." "."))\r\n')).toEqual({ prefix: 'INBOX.', delimiter: '.' });
    expect(personal('* NAMESPACE (("INBOX" ".")("#mh/" "/" "X-PARAM" ("a"))) NIL NIL\r\n')).toEqual({ prefix: 'INBOX.', delimiter: '.' });
  });

  it('reads a literal prefix, a NIL delimiter, and a NIL personal section as imapflow did', () => {
    expect(personal('* NAMESPACE (({6}\r\nINBOX. ".")) NIL NIL\r\n')).toEqual({ prefix: 'INBOX.', delimiter: '.' });
    expect(personal('* NAMESPACE (("" NIL)) NIL NIL\r\n')).toEqual({ prefix: '', delimiter: null });
    expect(personal('* NAMESPACE NIL NIL (("Public/" "/"))\r\n')).toEqual({ prefix: '', delimiter: '.' });
  });

  it("names the prefixes of other users' and shared namespaces, each ending with its delimiter", () => {
    expect(parseNamespaceResponse(one('* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Public/" "/")("#news" "."))\r\n')).foreignPrefixes).toEqual(['Other Users/', 'Public/', '#news.']);
    expect(parseNamespaceResponse(one('* NAMESPACE (("" "/")) NIL NIL\r\n')).foreignPrefixes).toEqual([]);
  });

  it('gives the store "/" for a flat namespace, and the default when there was none', () => {
    expect(toImapNamespace({ prefix: '', delimiter: null })).toEqual({ prefix: '', delimiter: '/' });
    expect(toImapNamespace(undefined)).toEqual({ prefix: '', delimiter: '/' });
  });
});

describe('parseRootListResponse', () => {
  it('reads the prefix and delimiter from LIST "" "" on a server without NAMESPACE', () => {
    expect(parseRootListResponse(one('* LIST (\\Noselect) "." ""\r\n'))).toEqual({ prefix: '', delimiter: '.' });
    expect(parseRootListResponse(one('* LIST (\\Noselect) "." ".INBOX"\r\n'))).toEqual({ prefix: 'INBOX.', delimiter: '.' });
  });
});

describe('parseListResponse and parseStatusResponse', () => {
  it('reads flags, delimiter and name, whether the name is an atom, quoted or a literal', () => {
    expect(parseListResponse(one('* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n'))).toEqual({ flags: ['\\HasNoChildren', '\\Sent'], delimiter: '/', name: 'Sent' });
    expect(parseListResponse(one('* LIST () "." "INBOX.My \\"Work\\""\r\n'))).toEqual({ flags: [], delimiter: '.', name: 'INBOX.My "Work"' });
    expect(parseListResponse(one('* LIST () NIL {7}\r\nfoo bar\r\n'))).toEqual({ flags: [], delimiter: null, name: 'foo bar' });
    expect(parseListResponse(one('* LIST (\\HasNoChildren) "/" "Entw&APw-rfe" ("CHILDINFO" ("SUBSCRIBED"))\r\n')).name).toBe('Entw&APw-rfe');
  });

  it('takes names in a UTF-8 session as UTF-8', () => {
    expect(parseListResponse(responses('* LIST () "/" "Entw\u00c3\u00bcrfe"\r\n')[0]!).name).toBe('Entwürfe');
  });

  it('refuses a LIST response that is not one', () => {
    expect(() => parseListResponse(one('* LIST "/" Sent\r\n'))).toThrow(/bad LIST response/);
  });

  it('reads the numbers of a STATUS response by name', () => {
    const status = parseStatusResponse(one('* STATUS "INBOX.Sent" (UIDNEXT 12 UIDVALIDITY 1700000000 HIGHESTMODSEQ 9)\r\n'))!;
    expect(status.name).toBe('INBOX.Sent');
    expect(Object.fromEntries(status.items)).toEqual({ UIDNEXT: 12, UIDVALIDITY: 1_700_000_000, HIGHESTMODSEQ: 9 });
  });

  it('names the kind of an untagged response', () => {
    expect(responses('* LIST () "/" a\r\n* STATUS a (UIDNEXT 1)\r\n* 3 EXISTS\r\nA1 OK x\r\n').map(untaggedKind)).toEqual(['LIST', 'STATUS', undefined, undefined]);
  });
});

describe('buildListedEntries', () => {
  const listed = (name: string, flags: string[] = [], delimiter = '.') => ({ name, flags, delimiter });

  it('gives each folder its status by name, INBOX in any case', () => {
    const entries = buildListedEntries([listed('inbox'), listed('INBOX.Sent')], [
      { name: 'INBOX', items: new Map([['UIDNEXT', 5], ['UIDVALIDITY', 9]]) },
      { name: 'INBOX.Sent', items: new Map([['UIDNEXT', 2], ['UIDVALIDITY', 9], ['HIGHESTMODSEQ', 4]]) },
    ], { isUtf8: false, hasSpecialUse: false });
    expect(entries.map((each) => [each.path, each.pathAsListed, each.status])).toEqual([
      ['INBOX', 'inbox', { uidNext: 5, uidValidity: 9, highestModseq: undefined }],
      ['INBOX.Sent', 'INBOX.Sent', { uidNext: 2, uidValidity: 9, highestModseq: 4 }],
    ]);
  });

  it('decodes modified UTF-7 unless the session is UTF-8, and keeps an undecodable name as listed', () => {
    expect(buildListedEntries([listed('Entw&APw-rfe')], [], { isUtf8: false, hasSpecialUse: false })[0]!.path).toBe('Entwürfe');
    expect(buildListedEntries([listed('Entw&APw-rfe')], [], { isUtf8: true, hasSpecialUse: false })[0]!.path).toBe('Entw&APw-rfe');
    expect(buildListedEntries([listed('bad&-&')], [], { isUtf8: false, hasSpecialUse: false })[0]!.pathAsListed).toBe('bad&-&');
  });

  it('marks a \\NonExistent folder \\Noselect, as imapflow did', () => {
    expect([...buildListedEntries([listed('Gone', ['\\NonExistent'])], [], { isUtf8: false, hasSpecialUse: false })[0]!.flags]).toEqual(['\\NonExistent', '\\Noselect']);
  });

  it('gives each special use to one folder: the server\'s attribute before a name, shallower before deeper', () => {
    const entries = buildListedEntries(
      [listed('INBOX'), listed('INBOX.Sent'), listed('INBOX.Sent Items', ['\\Sent']), listed('INBOX.Old.Trash'), listed('INBOX.Trash'), listed('INBOX.Sent to clients')],
      [],
      { isUtf8: false, hasSpecialUse: true },
    );
    expect(Object.fromEntries(entries.map((each) => [each.path, each.specialUse]))).toEqual({
      INBOX: '\\Inbox',
      'INBOX.Sent': undefined,
      'INBOX.Sent Items': '\\Sent',
      'INBOX.Old.Trash': undefined,
      'INBOX.Trash': '\\Trash',
      'INBOX.Sent to clients': undefined,
    });
  });

  it('finds special folders by name on a server without SPECIAL-USE, and not in a folder that does not exist', () => {
    const entries = buildListedEntries([listed('Sent Mail', [], '/'), listed('Trash', ['\\NonExistent'], '/')], [], { isUtf8: false, hasSpecialUse: false });
    expect(entries.map((each) => each.specialUse)).toEqual(['\\Sent', undefined]);
  });
});

describe('readNamespaceAndFolders', () => {
  interface Answer {
    readonly untagged?: string;
    readonly status?: 'OK' | 'NO' | 'BAD';
    readonly text?: string;
  }
  /**
   * A server that answers each command by how it starts (`answers`), and holds every answer back until `together`
   * commands have come: a client that waited for one answer before sending the next would wait for ever.
   */
  function serve(answers: Record<string, Answer>, together = 1) {
    const held: (() => void)[] = [];
    const server = fakeServer((tag, command, send) => {
      const key = Object.keys(answers).find((each) => command.startsWith(each));
      const answer = key ? answers[key]! : {};
      held.push(() => send(`${answer.untagged ?? ''}${tag} ${answer.status ?? 'OK'} ${answer.text ?? 'done'}\r\n`));
      if (held.length >= together) for (const release of held.splice(0)) release();
    });
    return { raw: new RawImapSession(server.sockets, 60_000), commands: server.commands };
  }
  const dovecot = new Set(['NAMESPACE', 'LIST-STATUS', 'LIST-EXTENDED', 'SPECIAL-USE', 'ID']);

  it('sends ID, NAMESPACE and LIST together, before any answer, and reads both', async () => {
    const { raw, commands } = serve({
      ID: { untagged: '* ID ("name" "Dovecot")\r\n' },
      NAMESPACE: { untagged: '* NAMESPACE (("INBOX." ".")) NIL (("#shared." "."))\r\n' },
      'LIST ': { untagged: '* LIST (\\HasNoChildren) "." INBOX\r\n* STATUS INBOX (UIDNEXT 4 UIDVALIDITY 7)\r\n* LIST (\\HasNoChildren \\Sent) "." INBOX.Sent\r\n' },
    }, 3);
    const read = readNamespaceAndFolders(raw, { capabilities: dovecot, withStatus: true, isUtf8: false, idCommand: 'ID ("name" "mailshift")' });
    const namespace = await read.namespace;
    expect(namespace.namespace).toEqual({ prefix: 'INBOX.', delimiter: '.' });
    expect(namespace.foreignPrefixes).toEqual(['#shared.']);
    expect(namespace.roundTripMs).toBeGreaterThanOrEqual(0);
    const listing = await read.listing;
    expect(commands.map((each) => each.replace(/^\S+ /, ''))).toEqual(['ID ("name" "mailshift")', 'NAMESPACE', 'LIST "" "*" RETURN (STATUS (UIDNEXT UIDVALIDITY) SPECIAL-USE)']);
    expect('entries' in listing && listing.entries.map((each) => [each.pathAsListed, each.specialUse, each.status?.uidNext])).toEqual([
      ['INBOX', '\\Inbox', 4],
      ['INBOX.Sent', '\\Sent', undefined],
    ]);
  });

  it('asks a server without NAMESPACE for its root first, then the folders', async () => {
    const { raw, commands } = serve({
      'LIST "" ""': { untagged: '* LIST (\\Noselect) "." ""\r\n' },
      'LIST "" "*"': { untagged: '* LIST () "." INBOX\r\n* LIST () "." Drafts\r\n' },
    });
    const read = readNamespaceAndFolders(raw, { capabilities: new Set(), withStatus: true, isUtf8: false });
    expect((await read.namespace).namespace).toEqual({ prefix: '', delimiter: '.' });
    const listing = await read.listing;
    expect(commands.map((each) => each.replace(/^\S+ /, ''))).toEqual(['LIST "" ""', 'LIST "" "*"']);
    expect('entries' in listing && listing.entries.map((each) => [each.pathAsListed, each.specialUse])).toEqual([['INBOX', '\\Inbox'], ['Drafts', '\\Drafts']]);
  });

  it('sends the LIST again without RETURN options when the server refuses them (BAD)', async () => {
    const { raw, commands } = serve({
      NAMESPACE: { untagged: '* NAMESPACE (("" "/")) NIL NIL\r\n' },
      'LIST "" "*" RETURN': { status: 'BAD', text: 'options not understood' },
      'LIST "" "*"': { untagged: '* LIST () "/" INBOX\r\n' },
    });
    const listing = await readNamespaceAndFolders(raw, { capabilities: dovecot, withStatus: true, isUtf8: false }).listing;
    expect(commands.map((each) => each.replace(/^\S+ /, ''))).toEqual(['NAMESPACE', 'LIST "" "*" RETURN (STATUS (UIDNEXT UIDVALIDITY) SPECIAL-USE)', 'LIST "" "*"']);
    expect('entries' in listing && listing.entries.map((each) => each.pathAsListed)).toEqual(['INBOX']);
  });

  it('reads a NAMESPACE answered OK without its untagged response as a NIL personal namespace, as imapflow did', async () => {
    const { raw } = serve({ NAMESPACE: {}, 'LIST ': { untagged: '* LIST () "." INBOX\r\n' } });
    expect((await readNamespaceAndFolders(raw, { capabilities: dovecot, withStatus: false, isUtf8: false }).namespace).namespace).toEqual({ prefix: '', delimiter: '.' });
  });

  it('keeps the default namespace when NAMESPACE is refused, and reports a LIST refused with NO as the listing\'s failure', async () => {
    const { raw } = serve({ NAMESPACE: { status: 'NO', text: 'not now' }, 'LIST ': { status: 'NO', text: '[UNAVAILABLE] try later' } });
    const read = readNamespaceAndFolders(raw, { capabilities: dovecot, withStatus: false, isUtf8: false });
    expect((await read.namespace).namespace).toEqual({ prefix: '', delimiter: '/' });
    const listing = await read.listing;
    expect('error' in listing && listing.error).toMatchObject({ responseStatus: 'NO', responseText: '[UNAVAILABLE] try later' });
  });

  it('says the login did not take when the server answers "User is authenticated but not connected" (Exchange)', async () => {
    const bad = { status: 'BAD', text: 'User is authenticated but not connected.' } as const;
    const { raw } = serve({ NAMESPACE: bad, 'LIST ': bad });
    const read = readNamespaceAndFolders(raw, { capabilities: dovecot, withStatus: false, isUtf8: false });
    await expect(read.namespace).rejects.toMatchObject({ responseStatus: 'BAD', responseText: 'User is authenticated but not connected.' });
    expect(classifyImapError(await read.namespace.catch((err: unknown) => err)).kind).toBe('auth');
    expect(await read.listing).toHaveProperty('error');
  });

  it('fails the namespace when the connection ends before its answer', async () => {
    const server = fakeServer((_tag, _command, _send, end) => end());
    const read = readNamespaceAndFolders(new RawImapSession(server.sockets, 60_000), { capabilities: dovecot, withStatus: false, isUtf8: false });
    await expect(read.namespace).rejects.toMatchObject({ code: 'EConnectionClosed' });
    expect(await read.listing).toHaveProperty('error');
  });
});
