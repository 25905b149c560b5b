import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDoveadm, startImapServer, type Doveadm, type ImapServer } from '../../support/dovecot.js';
import { isAlive } from '../../support/process.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { listTree, writeTree, type TreeManifest } from '../../support/tree.js';

// ---- a minimal IMAP line client: enough to prove the server speaks IMAP, without the library under test ----

class RawImap {
  private buffered = '';
  private waiters: (() => void)[] = [];
  private tagCounter = 0;

  constructor(private socket: Socket | TLSSocket) {
    this.attach();
  }

  private attach(): void {
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Resolves with all lines up to and including the first line that matches. */
  async readUntil(pattern: RegExp, timeoutMs = 5_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.buffered.split('\r\n');
      const index = lines.findIndex((line, i) => i < lines.length - 1 && pattern.test(line));
      if (index >= 0) {
        this.buffered = lines.slice(index + 1).join('\r\n');
        return lines.slice(0, index + 1);
      }
      if (Date.now() > deadline) throw new Error(`IMAP: no line matching ${pattern} in:\n${this.buffered}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async command(text: string): Promise<string[]> {
    this.tagCounter += 1;
    const tag = `t${this.tagCounter}`;
    this.socket.write(`${tag} ${text}\r\n`);
    return this.readUntil(new RegExp(`^${tag} (OK|NO|BAD)`));
  }

  /** STARTTLS: the same TCP connection continues under TLS, verified against the server's own certificate. */
  async startTls(ca: string): Promise<void> {
    const tls = connectTls({ socket: this.socket, ca, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      tls.once('secureConnect', resolve);
      tls.once('error', reject);
    });
    this.socket = tls;
    this.attach();
  }

  close(): void {
    this.socket.destroy();
  }
}

async function openImap(server: ImapServer): Promise<RawImap> {
  const socket =
    server.tls === 'implicit'
      ? connectTls({ host: server.host, port: server.port, ca: server.caCertPem })
      : connectTcp({ host: server.host, port: server.port });
  await new Promise<void>((resolve, reject) => {
    socket.once(server.tls === 'implicit' ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  const client = new RawImap(socket);
  await client.readUntil(/^\* OK .*ready/);
  return client;
}

/** `* LIST (\HasNoChildren \Sent) "/" Sent` -> { name: 'Sent', attributes: ['\\HasNoChildren', '\\Sent'], separator } */
function parseListLines(lines: string[]): { name: string; attributes: string[]; separator: string }[] {
  return lines
    .map((line) => /^\* LIST \(([^)]*)\) "(.)" (.+)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({
      attributes: match[1]!.split(' ').filter(Boolean),
      separator: match[2]!,
      name: match[3]!.replace(/^"(.*)"$/, '$1'),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

// ---- a Maildir++ tree with chosen UIDs, flags, keywords and dates ----

const inboxSeen = 'From: a@example.com\nMessage-ID: <one@example.com>\nSubject: one\n\nbody\twith a tab and 8-bit \xe9\n';
const inboxNew = 'From: b@example.com\nMessage-ID: <two@example.com>\nSubject: two\n\nsecond\n';
const project = 'From: c@example.com\nMessage-ID: <three@example.com>\nSubject: three\n\nproject mail\n';

function mailFile(base: string, text: string | Buffer, info: string): [string, Buffer] {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1');
  return [`${base},S=${bytes.length}${info}`, bytes];
}

function buildMaildir(): TreeManifest {
  const [seenName, seenBytes] = mailFile('1577934245.M1P1.host', inboxSeen, ':2,RS');
  const [newName, newBytes] = mailFile('1577934300.M2P1.host', inboxNew, '');
  const [projectName, projectBytes] = mailFile('1577934400.M3P1.host', project, ':2,Fab');
  return {
    [`cur/${seenName}`]: { content: seenBytes, mtime: 1577934245 },
    [`new/${newName}`]: { content: newBytes, mtime: 1577934300 },
    tmp: { type: 'dir' },
    'dovecot-uidlist': `3 V1234567 N50\n7 :${seenName}\n42 :${newName}\n`,
    [`.Work.Projects/cur/${projectName}`]: { content: projectBytes, mtime: 1577934400 },
    '.Work.Projects/new': { type: 'dir' },
    '.Work.Projects/tmp': { type: 'dir' },
    '.Work.Projects/maildirfolder': '',
    '.Work.Projects/dovecot-uidlist': `3 V777 N10\n9 :${projectName}\n`,
    '.Work.Projects/dovecot-keywords': '0 $Important\n1 Project-X\n',
    subscriptions: 'Work/Projects\n',
    // Maildir++ stores names in modified UTF-7: "Entwürfe".
    '.Entw&APw-rfe/cur': { type: 'dir' },
    '.Entw&APw-rfe/new': { type: 'dir' },
    '.Entw&APw-rfe/tmp': { type: 'dir' },
  };
}

describe('standalone doveadm reading a Maildir++ tree', () => {
  let doveadm: Doveadm;
  let dotted: Doveadm;
  let temp: TempDir;
  let maildir: string;

  beforeAll(async () => {
    temp = await makeTempDir('dovecot-test');
    maildir = join(temp.path, 'Maildir');
    await writeTree(maildir, buildMaildir());
    doveadm = await createDoveadm({ separator: '/' });
    dotted = await createDoveadm({ separator: '.' });
  });

  afterAll(async () => {
    await doveadm?.close();
    await dotted?.close();
    await temp?.cleanup();
  });

  it('reports the UIDVALIDITY, UIDNEXT and message count of each mailbox from dovecot-uidlist', async () => {
    const opened = await doveadm.openMaildir(maildir);
    const status = await opened.mailboxStatus();
    expect(status).toMatchObject({
      INBOX: { messages: 2, uidValidity: 1234567, uidNext: 50 },
      'Work/Projects': { messages: 1, uidValidity: 777, uidNext: 10 },
      'Entwürfe': { messages: 0, uidNext: 1 },
    });
    expect(Object.keys(status).sort()).toEqual(['Entwürfe', 'INBOX', 'Work/Projects']);
    expect(await opened.listMailboxes()).toEqual(['Entwürfe', 'INBOX', 'Work', 'Work/Projects']);
  });

  it('reads each message with its UID, flags, keywords, received date and Message-ID', async () => {
    const opened = await doveadm.openMaildir(maildir);
    const messages = await opened.readMessages();
    expect(messages.map(({ guid: _guid, ...rest }) => rest)).toEqual([
      {
        mailbox: 'INBOX',
        uid: 7,
        flags: ['\\Answered', '\\Seen'],
        keywords: [],
        receivedUnix: 1577934245,
        messageId: '<one@example.com>',
        sizeBytes: Buffer.byteLength(inboxSeen, 'latin1'),
      },
      {
        mailbox: 'INBOX',
        uid: 42,
        flags: [],
        keywords: [],
        receivedUnix: 1577934300,
        messageId: '<two@example.com>',
        sizeBytes: Buffer.byteLength(inboxNew, 'latin1'),
      },
      {
        mailbox: 'Work/Projects',
        uid: 9,
        flags: ['\\Flagged'],
        keywords: ['$Important', 'Project-X'],
        receivedUnix: 1577934400,
        messageId: '<three@example.com>',
        sizeBytes: Buffer.byteLength(project, 'latin1'),
      },
    ]);
    expect(messages[0]!.guid).toBe('1577934245.M1P1.host,S=' + Buffer.byteLength(inboxSeen, 'latin1'));
  });

  it('returns the exact bytes of a message, tabs and 8-bit bytes included', async () => {
    const opened = await doveadm.openMaildir(maildir);
    const bytes = await opened.fetchText('INBOX', 7);
    expect(bytes.equals(Buffer.from(inboxSeen, 'latin1'))).toBe(true);
    const [hashed] = await opened.readMessages({ hashes: true });
    expect(hashed!.sha256).toBe(createHash('sha256').update(Buffer.from(inboxSeen, 'latin1')).digest('hex'));
  });

  it('fetches arbitrary fields with a search query, values with tabs and newlines intact', async () => {
    const opened = await doveadm.openMaildir(maildir);
    const records = await opened.fetch(['uid', 'body'], ['mailbox', 'INBOX', 'uid', '7']);
    expect(records).toEqual([{ uid: '7', body: 'body\twith a tab and 8-bit \ufffd\n' }]);
  });

  it('shows the same folder with the "." separator when configured so', async () => {
    const opened = await dotted.openMaildir(maildir);
    expect(Object.keys(await opened.mailboxStatus()).sort()).toEqual(['Entwürfe', 'INBOX', 'Work.Projects']);
  });

  it('leaves the tree under test untouched: no chown, no uidlist rewrite, no index files', async () => {
    const before = await listTree(maildir, { hash: true });
    const opened = await doveadm.openMaildir(maildir);
    await opened.readMessages();
    expect(await listTree(maildir, { hash: true })).toEqual(before);
    expect(before.every((entry) => entry.uid === process.getuid?.())).toBe(true);
  });

  it('gives messages missing from dovecot-uidlist new UIDs above the recorded UIDNEXT', async () => {
    const extra = join(temp.path, 'extra');
    await writeTree(extra, { ...buildMaildir(), 'new/1577999999.M9P9.host': 'Message-ID: <late@example.com>\n\nlate\n' });
    const opened = await doveadm.openMaildir(extra);
    const late = (await opened.readMessages()).find((message) => message.messageId === '<late@example.com>');
    expect(late?.uid).toBe(50);
  });

  it('fails loudly, with doveadm\'s message, on a broken store', async () => {
    await expect(doveadm.run(['-o', 'mail_location=bogus:/nowhere', 'mailbox', 'list'])).rejects.toThrow(/bogus/);
  });
});

describe('Dovecot IMAP server on 127.0.0.1', () => {
  let plain: ImapServer;
  let cpanel: ImapServer;

  beforeAll(async () => {
    [plain, cpanel] = await Promise.all([
      startImapServer({ separator: '/', users: ['alice'] }),
      startImapServer({ separator: '.', prefix: 'INBOX.', tls: 'implicit', users: [{ user: 'bob', password: 'b0b secret' }] }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([plain?.stop(), cpanel?.stop()]);
  });

  it('logs in over plaintext and lists INBOX and the special-use folders with "/"', async () => {
    const imap = await openImap(plain);
    try {
      expect((await imap.command('LOGIN alice alice-password')).at(-1)).toMatch(/^t1 OK/);
      const listed = parseListLines(await imap.command('LIST "" "*"'));
      expect(listed.map((entry) => [entry.name, entry.attributes.filter((a) => !/Children/.test(a)), entry.separator])).toEqual([
        ['Drafts', ['\\Drafts'], '/'],
        ['INBOX', [], '/'],
        ['Junk', ['\\Junk'], '/'],
        ['Sent', ['\\Sent'], '/'],
        ['Trash', ['\\Trash'], '/'],
      ]);
    } finally {
      imap.close();
    }
  });

  it('refuses a wrong password', async () => {
    const imap = await openImap(plain);
    try {
      expect((await imap.command('LOGIN alice wrong')).at(-1)).toMatch(/^t1 NO/);
    } finally {
      imap.close();
    }
  });

  it('serves folders written straight into a user\'s Maildir, and keeps keywords and UIDs of APPENDed mail', async () => {
    const alice = plain.users.find((user) => user.user === 'alice')!;
    await writeTree(alice.maildir, { '.Work.Projects/cur': { type: 'dir' }, '.Work.Projects/new': { type: 'dir' }, '.Work.Projects/tmp': { type: 'dir' } });
    await plain.fixOwnership('alice');
    const message = 'Message-ID: <appended@example.com>\r\nSubject: hi\r\n\r\nhello\r\n';
    const imap = await openImap(plain);
    try {
      await imap.command('LOGIN alice alice-password');
      const names = parseListLines(await imap.command('LIST "" "*"')).map((entry) => entry.name);
      expect(names).toContain('Work/Projects');
      const appended = await imap.command(`APPEND "Work/Projects" (\\Seen Project-X) {${Buffer.byteLength(message)}+}\r\n${message}`);
      const uidplus = /\[APPENDUID (\d+) (\d+)\]/.exec(appended.at(-1) ?? '');
      expect(uidplus).not.toBeNull();
      const read = await plain.mail('alice').readMessages();
      expect(read.filter((each) => each.mailbox === 'Work/Projects')).toMatchObject([
        { uid: Number(uidplus![2]), flags: ['\\Seen'], keywords: ['Project-X'], messageId: '<appended@example.com>' },
      ]);
      const status = await plain.mail('alice').mailboxStatus();
      expect(status['Work/Projects']?.uidValidity).toBe(Number(uidplus![1]));
    } finally {
      imap.close();
    }
  });

  it('speaks implicit TLS with a certificate the client can trust, cPanel-style INBOX. prefix and "." separator', async () => {
    const imap = await openImap(cpanel);
    try {
      expect((await imap.command('LOGIN bob "b0b secret"')).at(-1)).toMatch(/^t1 OK/);
      const listed = parseListLines(await imap.command('LIST "" "*"'));
      expect(listed.map((entry) => entry.name)).toEqual(['INBOX', 'INBOX.Drafts', 'INBOX.Junk', 'INBOX.Sent', 'INBOX.Trash']);
      expect(listed.every((entry) => entry.separator === '.')).toBe(true);
      expect(listed.find((entry) => entry.name === 'INBOX.Sent')?.attributes).toContain('\\Sent');
    } finally {
      imap.close();
    }
    expect(await readFile(cpanel.caCertPath!, 'utf8')).toBe(cpanel.caCertPem);
    expect(cpanel.connectionOptions('bob')).toMatchObject({ secure: true, auth: { user: 'bob', pass: 'b0b secret' } });
  });

  it('rejects a TLS client that does not trust the self-signed certificate', async () => {
    const socket = connectTls({ host: cpanel.host, port: cpanel.port });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('secureConnect', () => resolve('connected'));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    socket.destroy();
    expect(outcome).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  // Dovecot counts a connection from its own address as secure, so on loopback it does not refuse LOGIN before
  // STARTTLS; what a client can rely on is that STARTTLS is offered and the upgrade verifies against the cert.
  it('offers STARTTLS and logs in after the upgrade; users can be added while it runs', async () => {
    const server = await startImapServer({ tls: 'starttls', specialUse: false });
    try {
      await server.addUser('carol', 'pw');
      const imap = await openImap(server);
      try {
        expect((await imap.command('CAPABILITY')).join('\n')).toMatch(/^\* CAPABILITY .*\bSTARTTLS\b/m);
        expect((await imap.command('STARTTLS')).at(-1)).toMatch(/^t2 OK/);
        await imap.startTls(server.caCertPem!);
        expect((await imap.command('LOGIN carol pw')).at(-1)).toMatch(/^t3 OK/);
        expect(parseListLines(await imap.command('LIST "" "*"')).map((entry) => entry.name)).toEqual(['INBOX']);
      } finally {
        imap.close();
      }
    } finally {
      await server.stop();
    }
    expect(isAlive(server.pid)).toBe(false);
    await expect(openImap(server)).rejects.toThrow(/ECONNREFUSED/);
  });
});
