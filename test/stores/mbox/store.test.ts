import { appendFile, cp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMailshiftError } from '../../../src/core/errors.js';
import { createLogger, silentLogger } from '../../../src/core/logger.js';
import { runConvert } from '../../../src/engine/convert.js';
import { findHeaderEnd } from '../../../src/engine/identity.js';
import { MaildirStore } from '../../../src/stores/maildir/store.js';
import { MboxStore } from '../../../src/stores/mbox/store.js';
import type { ListedMessage, MailStore } from '../../../src/stores/store.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';

const fixtures = path.resolve(import.meta.dirname, '../../../fixtures/mbox');
let work: TempDir;

beforeEach(async () => {
  work = await makeTempDir('mbox-store');
});
afterEach(async () => {
  await work.cleanup();
});

interface Seen {
  key?: string | undefined;
  content: string;
  flags: string[];
  keywords: string[];
  receivedSecs: number;
}

async function collectAll<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Every folder of a store with every message read through `read`, sorted for comparison. */
async function readWhole(store: MailStore, rename: (folder: string) => string = (f) => f): Promise<Record<string, Seen[]>> {
  const out: Record<string, Seen[]> = {};
  for (const { path: folder } of await collectAll(store.listMailboxes())) {
    const box = await store.openMailbox(folder, 'read');
    const messages: Seen[] = [];
    for (const ref of await collectAll(box.list())) {
      expect((ref as ListedMessage).problem).toBeUndefined();
      const chunks: Buffer[] = [];
      for await (const chunk of await box.read(ref)) chunks.push(chunk as Buffer);
      messages.push({
        key: ref.key,
        content: Buffer.concat(chunks).toString('latin1'),
        flags: [...ref.flags].sort(),
        keywords: [...ref.keywords].sort(),
        receivedSecs: Math.floor(ref.internalDate!.getTime() / 1000),
      });
    }
    await box[Symbol.asyncDispose]();
    out[rename(folder)] = messages.sort((a, b) => (a.key! < b.key! ? -1 : 1));
  }
  return out;
}

/** What `mailshift convert` writes for a source, read back through the maildir store. */
async function convertAndRead(source: string): Promise<Record<string, Seen[]>> {
  const target = path.join(work.path, 'converted');
  await runConvert({ source, target, dryRun: false, maxBad: 1000, gmailLabels: 'folders', variant: 'auto', logger: silentLogger });
  // Maildir++ stores a literal '.' in a folder name as U+2024; the mbox store keeps the real name.
  const read = await readWhole(new MaildirStore(target), (folder) => folder.replaceAll('\u2024', '.'));
  // A maildir root is always INBOX, even when no mbox file maps to it.
  if (read['INBOX']?.length === 0 && !(await isInboxInSource(source))) delete read['INBOX'];
  return read;
}

async function isInboxInSource(source: string): Promise<boolean> {
  const store = new MboxStore(source, { logger: silentLogger });
  return (await collectAll(store.listMailboxes())).some((f) => f.path === 'INBOX');
}

describe('MboxStore: the same folders and messages as mailshift convert', () => {
  const sources = ['sample-account', 'spool/dovecot-inbox', 'thunderbird', 'gmail', 'variants', 'variants/archive.mbox.gz', 'variants/crlf.mbox'];
  for (const name of sources) {
    it(`serves ${name} with convert's folders, bytes, flags, keywords, dates and maildir names`, async () => {
      const source = path.join(fixtures, name);
      const expected = await convertAndRead(source);
      const got = await readWhole(new MboxStore(source, { logger: silentLogger }));
      expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort());
      expect(got).toEqual(expected);
      expect(Object.values(got).flat().length).toBeGreaterThan(0);
    });
  }

  it('names folders as convert maps them: Thunderbird .sbd, INBOX, nested, non-ASCII, a literal dot, Gmail labels', async () => {
    const folders = async (name: string) => (await collectAll(new MboxStore(path.join(fixtures, name), { logger: silentLogger }).listMailboxes())).map((f) => f.path);
    expect(await folders('sample-account')).toEqual(['Entwürfe', 'INBOX', 'Work/Projects', 'Work/v1.2 release', 'sent-mail']);
    expect(await folders('thunderbird')).toEqual(['INBOX', 'Work', 'Work/Projects']);
    expect(await folders('gmail')).toEqual(expect.arrayContaining(['INBOX', 'Sent', 'Junk', 'Clients/ACME', 'Work, old', 'Archive']));
    expect(await folders('spool/dovecot-inbox')).toEqual(['INBOX']);
  });

  it('serves big messages and big header blocks whole, across read chunks, as convert stores them', async () => {
    const bigHeader = Array.from({ length: 900 }, (_, i) => `X-Trace-${i}: ${'t'.repeat(30)}`).join('\n');
    const bigBody = `${'0123456789abcdef'.repeat(64)}\n`.repeat(700); // ~700 KB
    const mbox =
      `From a@example.com Mon Jan  6 10:00:00 2020\nSubject: one\nStatus: RO\n${bigHeader}\n\n${bigBody}\n` +
      `From b@example.com Mon Jan  6 11:00:00 2020\nSubject: two\n\n>From quoted\n${bigBody}\n` +
      `From c@example.com Mon Jan  6 12:00:00 2020\nSubject: three\n\nshort\n`;
    const file = path.join(work.path, 'big');
    await writeFile(file, mbox);
    const expected = await convertAndRead(file);
    const store = new MboxStore(file, { logger: silentLogger });
    expect(await readWhole(store)).toEqual(expected);
    // Headers listed with the messages are the stored header block, read without the body.
    const box = await store.openMailbox('INBOX', 'read');
    const listed = await collectAll(box.list(undefined, { headerFields: ['message-id'] }));
    const contents = expected['INBOX']!.map((m) => Buffer.from(m.content, 'latin1'));
    for (const ref of listed) {
      const content = contents.find((c) => c.subarray(0, findHeaderEnd(c)).equals(ref.headers!));
      expect(content, `header of ${ref.id}`).toBeDefined();
    }
    // readMany gives the same bytes as read, in file order, whatever order it is asked in.
    const many = await collectAll(box.readMany!([...listed].reverse()));
    expect(many.map((m) => m.ref.id)).toEqual(listed.map((m) => m.id));
    expect(many.map((m) => m.content.toString('latin1')).sort()).toEqual(expected['INBOX']!.map((m) => m.content).sort());
    await box[Symbol.asyncDispose]();
  });

  it('reads a .gz again in one forward pass when asked in order, and still right when asked backwards', async () => {
    const messages = Array.from({ length: 40 }, (_, i) => `From x@example.com Tue Jan  7 10:${String(i).padStart(2, '0')}:00 2020\nSubject: m${i}\n\nbody ${i}\n${'line\n'.repeat(i * 50)}`);
    const file = path.join(work.path, 'many.mbox.gz');
    await writeFile(file, gzipSync(Buffer.from(messages.join('\n'))));
    const store = new MboxStore(file, { logger: silentLogger });
    const box = await store.openMailbox('INBOX', 'read');
    const refs = await collectAll(box.list());
    const forward = await collectAll(box.readMany!(refs));
    const backward: string[] = [];
    for (const ref of [...refs].reverse()) backward.unshift(Buffer.concat(await collectAll((await box.read(ref)) as AsyncIterable<Buffer>)).toString());
    expect(forward.map((m) => m.content.toString())).toEqual(messages.map((m) => `${m.slice(m.indexOf('\n') + 1)}${m.endsWith('\n') ? '' : '\n'}`));
    expect(backward).toEqual(forward.map((m) => m.content.toString()));
    await box[Symbol.asyncDispose]();
  });
});

describe('MboxStore: UIDs', () => {
  it('takes UIDVALIDITY, UIDNEXT and UIDs from an X-IMAPbase spool, none for a message without X-UID', async () => {
    const store = new MboxStore(path.join(fixtures, 'spool/dovecot-inbox'), { logger: silentLogger });
    const box = await store.openMailbox('INBOX', 'read');
    expect(await box.status()).toEqual({ uidValidity: 1583323200, uidNext: 13 });
    const refs = await collectAll(box.list());
    expect(refs.map((r) => r.uid)).toEqual([7, 9, 12, undefined]);
    // The pseudo-message is not mail.
    expect(refs).toHaveLength(4);
    expect((await collectAll(box.list(undefined, { afterUid: 9 }))).map((r) => r.uid)).toEqual([12, undefined]);
  });

  it('drops X-UIDs that do not rise in file order, and every UID when the file has no X-IMAPbase', async () => {
    const file = path.join(work.path, 'uids');
    await writeFile(
      file,
      'From a@x Mon Jan  6 10:00:00 2020\nX-IMAPbase: 500 20\nX-UID: 5\nSubject: a\n\na\n\n' +
        'From a@x Mon Jan  6 10:00:01 2020\nX-UID: 3\nSubject: b\n\nb\n\n' +
        'From a@x Mon Jan  6 10:00:02 2020\nX-UID: 5\nSubject: c\n\nc\n\n' +
        'From a@x Mon Jan  6 10:00:03 2020\nX-UID: 30\nSubject: d\n\nd\n',
    );
    const box = await new MboxStore(file, { logger: silentLogger }).openMailbox('INBOX', 'read');
    expect(await box.status()).toEqual({ uidValidity: 500, uidNext: 31 });
    expect((await collectAll(box.list())).map((r) => r.uid)).toEqual([5, undefined, undefined, 30]);

    const plain = path.join(work.path, 'no-base');
    await writeFile(plain, 'From a@x Mon Jan  6 10:00:00 2020\nX-UID: 5\nSubject: a\n\na\n');
    const plainBox = await new MboxStore(plain, { logger: silentLogger }).openMailbox('INBOX', 'read');
    expect(await plainBox.status()).toEqual({});
    expect((await collectAll(plainBox.list())).map((r) => r.uid)).toEqual([undefined]);
  });
});

describe('MboxStore: bad input is reported, never dropped', () => {
  it('lists a cut-off message and bytes before the first From_ line as problems with file, offset and reason', async () => {
    await writeTree(work.path, {
      'tree/truncated': await readFile(path.join(fixtures, 'bad/truncated.mbox')),
      'tree/garbage': await readFile(path.join(fixtures, 'bad/garbage-before-first-message.mbox')),
      'tree/notes.txt': await readFile(path.join(fixtures, 'bad/not-an-mbox.txt')),
    });
    const lines: string[] = [];
    const store = new MboxStore(path.join(work.path, 'tree'), { logger: createLogger({ level: 'info', write: (line) => lines.push(line) }) });
    expect((await collectAll(store.listMailboxes())).map((f) => f.path)).toEqual(['garbage', 'truncated']);

    const truncated = await collectAll((await store.openMailbox('truncated', 'read')).list());
    expect(truncated.map((r) => r.problem?.message)).toEqual([undefined, expect.stringMatching(/^truncated at byte 107: truncated message: the file ends in the middle of the message headers/)]);
    expect(truncated[1]!.problem).toMatchObject({ scope: 'message', code: 'MAILSHIFT_MBOX_BAD_MESSAGE' });
    const box = await store.openMailbox('truncated', 'read');
    await expect(box.read(truncated[1]!)).rejects.toMatchObject({ scope: 'message' });
    await box[Symbol.asyncDispose]();

    const garbage = await collectAll((await store.openMailbox('garbage', 'read')).list());
    expect(garbage[0]!.problem?.message).toMatch(/^garbage at byte 0: \d+ bytes before the first "From " line belong to no message/);
    expect(garbage.filter((r) => !r.problem).length).toBeGreaterThan(0);
    // A file that is not an mbox is left out of the folders and said so.
    expect(lines.join('')).toMatch(/notes\.txt: not an mbox/);
  });

  it('refuses a single file that is not an mbox', async () => {
    const store = new MboxStore(path.join(fixtures, 'bad/not-an-mbox.txt'), { logger: silentLogger });
    await expect(collectAll(store.listMailboxes())).rejects.toMatchObject({ code: 'MAILSHIFT_SOURCE_NOT_MBOX' });
  });

  it('reports a damaged .gz as a problem; read as mboxo it serves what came before the damage and reports the rest', async () => {
    // Random bodies: the file must stay well past the 64 KB the sniffer reads once compressed and cut.
    const whole = gzipSync(Buffer.from(Array.from({ length: 300 }, (_, i) => `From x@example.com Tue Jan  7 10:00:00 2020\nSubject: m${i}\n\n${randomBytes(300).toString('hex')}\n`).join('\n')));
    const file = path.join(work.path, 'cut.mbox.gz');
    await writeFile(file, whole.subarray(0, Math.floor(whole.length * 0.6)));
    // Looking for mboxrd quoting reads the whole file first: it fails there, and the file is one problem.
    const auto = await new MboxStore(file, { logger: silentLogger }).openMailbox('INBOX', 'read');
    expect((await collectAll(auto.list())).map((r) => r.problem?.message)).toEqual([expect.stringMatching(/^cut\.mbox\.gz at byte 0: cannot read the file: .*unexpected end of file/)]);
    await auto[Symbol.asyncDispose]();

    const box = await new MboxStore(file, { logger: silentLogger, variant: 'mboxo' }).openMailbox('INBOX', 'read');
    const refs = await collectAll(box.list());
    const problems = refs.filter((r) => r.problem);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.problem!.message).toMatch(/^cut\.mbox\.gz at byte [1-9]\d*: cannot read the file from here on: .*unexpected end of file/);
    expect(refs.at(-1)).toBe(problems[0]);
    expect(refs.length - 1).toBeGreaterThan(50);
    expect((await collectAll(box.readMany!(refs.filter((r) => !r.problem)))).length).toBe(refs.length - 1);
    await box[Symbol.asyncDispose]();
  });
});

describe('MboxStore: the source changing under us', () => {
  async function firstMessage(file: string) {
    const store = new MboxStore(file, { logger: silentLogger });
    const box = await store.openMailbox('INBOX', 'read');
    const refs = await collectAll(box.list());
    return { box, refs };
  }

  it('still serves every message when new mail was appended after the scan', async () => {
    const file = path.join(work.path, 'inbox');
    await cp(path.join(fixtures, 'sample-account/inbox'), file);
    const { box, refs } = await firstMessage(file);
    await appendFile(file, '\nFrom late@example.com Fri Jun  5 09:00:00 2020\nSubject: late\n\nlate\n');
    expect(await collectAll(box.readMany!(refs))).toHaveLength(refs.length);
    await box[Symbol.asyncDispose]();
  });

  it('refuses to serve a message whose bytes changed since the scan (a rewritten mbox)', async () => {
    const file = path.join(work.path, 'inbox');
    await cp(path.join(fixtures, 'sample-account/inbox'), file);
    const { box, refs } = await firstMessage(file);
    const text = await readFile(file, 'latin1');
    await writeFile(file, text.replace('Saturday 22:00 UTC.', 'Sunday 22:00 UTC.!'), { flag: 'r+' });
    const results = await Promise.allSettled(refs.map(async (ref) => box.read(ref)));
    const failures = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) expect(failure).toMatchObject({ code: 'MAILSHIFT_SOURCE_CHANGED', scope: 'mailbox', exitCode: 5 });
    await box[Symbol.asyncDispose]();
  });

  it('refuses a file replaced by another one, and never follows a link swapped in for it', async () => {
    const dir = path.join(work.path, 'tree');
    await writeTree(dir, { inbox: await readFile(path.join(fixtures, 'sample-account/inbox')), 'outside/secret': 'From x@x Mon Jan  6 10:00:00 2020\n\nsecret\n' });
    const store = new MboxStore(path.join(dir, 'inbox'), { logger: silentLogger });
    const box = await store.openMailbox('INBOX', 'read');
    const refs = await collectAll(box.list());
    await cp(path.join(dir, 'inbox'), path.join(dir, 'copy'));
    await rename(path.join(dir, 'copy'), path.join(dir, 'inbox'));
    await expect(box.read(refs[0]!)).rejects.toMatchObject({ code: 'MAILSHIFT_SOURCE_CHANGED' });
    await box[Symbol.asyncDispose]();

    const box2 = await new MboxStore(path.join(dir, 'inbox'), { logger: silentLogger }).openMailbox('INBOX', 'read');
    const refs2 = await collectAll(box2.list());
    await rm(path.join(dir, 'inbox'));
    await symlink(path.join(dir, 'outside/secret'), path.join(dir, 'inbox'));
    const error = await box2.read(refs2[0]!).catch((err: unknown) => err);
    expect(isMailshiftError(error) && error.code).toBe('MAILSHIFT_SOURCE_OPEN');
    await box2[Symbol.asyncDispose]();
  });

  it('does not follow a symlink inside the tree out of it', async () => {
    const dir = path.join(work.path, 'tree');
    await writeTree(dir, {
      'mail/inbox': await readFile(path.join(fixtures, 'sample-account/inbox')),
      'mail/Escape': { type: 'symlink', target: path.join(dir, 'outside') },
      'mail/Linked': { type: 'symlink', target: path.join(dir, 'outside/secret') },
      'outside/secret': 'From x@x Mon Jan  6 10:00:00 2020\nSubject: secret\n\nsecret\n',
    });
    const store = new MboxStore(path.join(dir, 'mail'), { logger: silentLogger });
    expect((await collectAll(store.listMailboxes())).map((f) => f.path)).toEqual(['INBOX']);
  });
});

describe('MboxStore: read only', () => {
  it('refuses to open a folder for writing, with a hint', async () => {
    const store = new MboxStore(path.join(fixtures, 'sample-account'), { logger: silentLogger });
    await expect(store.openMailbox('INBOX', 'write')).rejects.toMatchObject({ code: 'MAILSHIFT_READ_ONLY', hint: expect.stringMatching(/convert/) });
    await expect(store.openMailbox('Nope', 'read')).rejects.toMatchObject({ code: 'MAILSHIFT_MAILBOX_MISSING' });
  });

  it('stores identical messages from two files of one folder once, as convert does', async () => {
    const message = 'From a@x Mon Jan  6 10:00:00 2020\nSubject: same\nMessage-ID: <same@x>\n\nsame\n';
    await writeTree(work.path, { 'tree/Inbox': message, 'tree/INBOX.mbox': `${message}\nFrom b@x Mon Jan  6 11:00:00 2020\nSubject: other\n\nother\n` });
    const store = new MboxStore(path.join(work.path, 'tree'), { logger: silentLogger });
    const got = await readWhole(store);
    expect(got['INBOX']!.map((m) => m.content)).toEqual(expect.arrayContaining(['Subject: same\nMessage-ID: <same@x>\n\nsame\n', 'Subject: other\n\nother\n']));
    expect(got['INBOX']).toHaveLength(2);
    expect(got).toEqual(await convertAndRead(path.join(work.path, 'tree')));
  });
});
