import { createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUidlist } from '../../converters/maildir/uidlist.js';
import { buildMailboxEntryPrefix } from '../../src/archive/export-layout.js';
import { writeStoreMailbox, type StoreExportOutcome, type StoreExportSource } from '../../src/archive/export-store.js';
import { PaxWriter, readArchiveEntries } from '../../src/archive/tar.js';
import { MailshiftError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { MailboxPath, MessageRef, SystemFlag } from '../../src/core/types.js';
import type { Mailbox, MailboxInfo, MailStore } from '../../src/stores/store.js';
import { MemoryMail, MemoryStore } from '../support/memory-store.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let tmp: TempDir;
let counter = 0;
beforeAll(async () => {
  tmp = await makeTempDir('export-store');
});
afterAll(async () => {
  await tmp.cleanup();
});

const prefix = buildMailboxEntryPrefix('bob', { localPart: 'alice', domain: 'example.com' });
const text = (id: string) => `Message-ID: <${id}@example.com>\nSubject: ${id}\n\nbody of ${id}\n`;

async function fill(mail: MemoryMail, folder: MailboxPath, messages: { id: string; flags?: SystemFlag[]; keywords?: string[]; date?: Date }[]): Promise<void> {
  const store = new MemoryStore(mail);
  const box = await store.openMailbox(folder, 'write');
  for (const each of messages) {
    await box.append({ content: Buffer.from(text(each.id)), flags: new Set(each.flags ?? []), keywords: new Set(each.keywords ?? []), internalDate: each.date ?? new Date('2024-01-02T03:04:05.250Z') });
  }
}

interface Entry {
  name: string;
  type: string;
  mtimeSec: number;
  text?: string;
}

async function exportInto(store: MailStore, extra: Partial<StoreExportSource> = {}): Promise<{ outcome: StoreExportOutcome; entries: Entry[] }> {
  counter += 1;
  const file = path.join(tmp.path, `export-${counter}.tar`);
  const writer = new PaxWriter(createWriteStream(file), false);
  const outcome = await writeStoreMailbox(writer, { store, label: 'memory', prefix, folders: { maps: [], excludes: [], skipVirtual: true }, retryBaseMs: 1, retryMaxMs: 2, ...extra }, { logger: silentLogger });
  await writer.finish();
  const entries: Entry[] = [];
  await readArchiveEntries(file, 'none', async (entry) => {
    const chunks: Buffer[] = [];
    if (entry.type === 'file') for await (const chunk of entry.body) chunks.push(chunk);
    entries.push({ name: entry.name, type: entry.type, mtimeSec: entry.mtimeSec, ...(entry.type === 'file' ? { text: Buffer.concat(chunks).toString('utf8') } : {}) });
  });
  return { outcome, entries };
}

const messagesIn = (entries: Entry[], dir: string) => entries.filter((e) => e.type === 'file' && e.name.startsWith(`${prefix}${dir}/cur/`));

describe('a mailbox streamed from a store into an archive', () => {
  it('writes each folder as maildir++ entries: directories, messages in cur/ with their dates, then the uidlist, then subscriptions', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'INBOX', [{ id: 'a', flags: ['\\Seen'] }, { id: 'b' }]);
    await fill(mail, 'Work/Café', [{ id: 'c', keywords: ['Urgent'], date: new Date('2022-05-06T07:08:09Z') }]);
    const { outcome, entries } = await exportInto(new MemoryStore(mail));
    expect(outcome.unread).toEqual([]);
    expect(outcome.messages).toBe(3);
    const names = entries.map((e) => e.name.slice(prefix.length));
    expect(names.slice(0, 4)).toEqual(['/', '/cur/', '/new/', '/tmp/']);
    const inbox = messagesIn(entries, '');
    expect(inbox.map((e) => e.text).sort()).toEqual([text('a'), text('b')]);
    expect(inbox.some((e) => e.name.endsWith(':2,S'))).toBe(true);
    expect(inbox.every((e) => e.mtimeSec === Date.parse('2024-01-02T03:04:05.250Z') / 1000)).toBe(true);
    const work = messagesIn(entries, '/.Work.Caf&AOk-');
    expect(work).toHaveLength(1);
    expect(work[0]!.name.endsWith(':2,a')).toBe(true);
    expect(work[0]!.mtimeSec).toBe(Date.parse('2022-05-06T07:08:09Z') / 1000);
    // The uidlist comes after the folder's messages and names each of them with the store's UID.
    const uidlistAt = names.indexOf('/dovecot-uidlist');
    expect(uidlistAt).toBeGreaterThan(names.indexOf(inbox[1]!.name.slice(prefix.length)));
    const uidlist = parseUidlist(entries[uidlistAt]!.text!);
    expect(uidlist.uidValidity).toBe(mail.folders.get('INBOX')!.uidValidity);
    expect(uidlist.records.map((r) => r.uid)).toEqual([1, 2]);
    expect(names).toContain('/.Work.Caf&AOk-/maildirfolder');
    expect(entries.find((e) => e.name === `${prefix}/.Work.Caf&AOk-/dovecot-keywords`)?.text).toBe('0 Urgent\n');
    expect(names.at(-1)).toBe('/subscriptions');
    expect(entries.at(-1)!.text).toBe('V\t2\n\nWork\tCafé\n');
  });

  it('keeps identical messages as separate files', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'INBOX', [{ id: 'same' }, { id: 'same' }, { id: 'same' }]);
    const { entries } = await exportInto(new MemoryStore(mail));
    const inbox = messagesIn(entries, '');
    expect(inbox).toHaveLength(3);
    expect(new Set(inbox.map((e) => e.name)).size).toBe(3);
  });

  it('writes an empty INBOX when the account has none, so the mailbox exists after a restore', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'Sent', [{ id: 's' }]);
    const { entries } = await exportInto(new MemoryStore(mail));
    expect(entries[0]!.name).toBe(`${prefix}/`);
    expect(entries.map((e) => e.name)).toContain(`${prefix}/cur/`);
  });

  it('lists a message the store cannot serve, with its reason, and writes the others', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'INBOX', [{ id: 'a' }]);
    mail.plantProblem('INBOX', 'cut off at byte 12');
    await fill(mail, 'INBOX', [{ id: 'b' }]);
    const { outcome, entries } = await exportInto(new MemoryStore(mail));
    expect(outcome.unread).toEqual([{ item: 'memory INBOX UID 2', reason: 'INBOX: cut off at byte 12' }]);
    expect(messagesIn(entries, '').map((e) => e.text).sort()).toEqual([text('a'), text('b')]);
  });

  it('leaves out messages larger than --max-size and lists them as skipped, not as unread', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'INBOX', [{ id: 'small' }, { id: 'a-much-longer-identifier-that-makes-it-large' }]);
    const { outcome, entries } = await exportInto(new MemoryStore(mail), { maxSizeBytes: text('small').length });
    expect(outcome.unread).toEqual([]);
    expect(outcome.skipped).toHaveLength(1);
    expect(outcome.skipped[0]!.reason).toMatch(/larger than --max-size/);
    expect(messagesIn(entries, '')).toHaveLength(1);
  });

  it('leaves out excluded and virtual folders as asked, without counting them as unread', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'INBOX', [{ id: 'a' }]);
    await fill(mail, 'Junk', [{ id: 'j' }]);
    await fill(mail, 'All Mail', [{ id: 'a' }]);
    const store = withFolderInfo(new MemoryStore(mail), { 'All Mail': '\\All' });
    const { outcome, entries } = await exportInto(store, { folders: { maps: [], excludes: [/^Junk$/], skipVirtual: true } });
    expect(outcome.unread).toEqual([]);
    expect(outcome.messages).toBe(1);
    expect(entries.some((e) => e.name.includes('.Junk') || e.name.includes('.All Mail'))).toBe(false);
  });

  it('lists a folder the store found but cannot offer as unread', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'INBOX', [{ id: 'a' }]);
    const store = Object.assign(new MemoryStore(mail), { skippedFolders: [{ directory: '.bad\\x01name', reason: 'control character in the name' }] });
    const { outcome } = await exportInto(store);
    expect(outcome.unread).toEqual([{ item: 'memory folder .bad\\x01name', reason: 'control character in the name' }]);
  });

  it('goes on after a transient failure mid-folder, writing every message exactly once', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'INBOX', [{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    let failures = 0;
    const store = withFailingRead(new MemoryStore(mail), (ref) => {
      if (ref.uid === 2 && failures === 0) {
        failures += 1;
        return new MailshiftError('MAILSHIFT_IMAP_CONNECTION', 'connection reset (test)', { scope: 'mailbox', retry: 'later' });
      }
      return undefined;
    });
    const { outcome, entries } = await exportInto(store);
    expect(failures).toBe(1);
    expect(outcome.unread).toEqual([]);
    expect(messagesIn(entries, '').map((e) => e.text).sort()).toEqual([text('a'), text('b'), text('c')]);
    expect(parseUidlist(entries.find((e) => e.name === `${prefix}/dovecot-uidlist`)!.text!).records.map((r) => r.uid)).toEqual([1, 2, 3]);
  });

  it('lists what is left of a folder as unread when it keeps failing after the retries', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'INBOX', [{ id: 'a' }, { id: 'b' }]);
    const store = withFailingRead(new MemoryStore(mail), (ref) => (ref.uid === 2 ? new MailshiftError('MAILSHIFT_IMAP_CONNECTION', 'connection reset (test)', { scope: 'mailbox', retry: 'later' }) : undefined));
    const { outcome, entries } = await exportInto(store, { retries: 2 });
    expect(outcome.unread).toEqual([{ item: 'memory INBOX UID 2', reason: 'connection reset (test)' }]);
    expect(messagesIn(entries, '')).toHaveLength(1);
  });

  it('lists the folder as unread when its listing keeps failing (never an empty folder that looks complete)', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'INBOX', [{ id: 'a' }]);
    await fill(mail, 'Sent', [{ id: 's' }]);
    const store = withFailingList(new MemoryStore(mail), 'Sent', () => new MailshiftError('MAILSHIFT_IMAP_CONNECTION', 'BYE FETCH failed (test)', { scope: 'mailbox', retry: 'later' }));
    const { outcome, entries } = await exportInto(store, { retries: 1 });
    expect(outcome.unread).toEqual([{ item: 'memory folder Sent', reason: 'BYE FETCH failed (test)' }]);
    expect(messagesIn(entries, '')).toHaveLength(1);
  });

  it('stops at an account-level failure (the caller then writes no archive)', async () => {
    const mail = new MemoryMail();
    await fill(mail, 'INBOX', [{ id: 'a' }]);
    const store = withFailingRead(new MemoryStore(mail), () => new MailshiftError('MAILSHIFT_IMAP_AUTH', 'logged out (test)', { scope: 'account' }));
    await expect(exportInto(store)).rejects.toMatchObject({ code: 'MAILSHIFT_IMAP_AUTH' });
  });
});

/** The store with these folders marked (undefined: as they are), for the folder selection. */
function withFolderInfo(store: MemoryStore, specialUse: Record<string, MailboxInfo['specialUse']>): MailStore {
  return {
    kind: store.kind,
    caps: store.caps,
    async *listMailboxes() {
      for await (const info of store.listMailboxes()) yield { ...info, ...(specialUse[info.path] ? { specialUse: specialUse[info.path]! } : {}) };
    },
    openMailbox: (p, mode) => store.openMailbox(p, mode),
    [Symbol.asyncDispose]: () => store[Symbol.asyncDispose](),
  };
}

/** The store whose listing of `folder` fails as `fail` says. */
function withFailingList(store: MemoryStore, folder: MailboxPath, fail: () => MailshiftError): MailStore {
  return {
    kind: store.kind,
    caps: store.caps,
    listMailboxes: () => store.listMailboxes(),
    async openMailbox(p, mode): Promise<Mailbox> {
      const box = await store.openMailbox(p, mode);
      if (p !== folder) return box;
      return {
        path: box.path,
        status: () => box.status(),
        // eslint-disable-next-line require-yield
        async *list() {
          throw fail();
        },
        read: (ref, signal) => box.read(ref, signal),
        append: (message, signal) => box.append(message, signal),
        [Symbol.asyncDispose]: () => box[Symbol.asyncDispose](),
      };
    },
    [Symbol.asyncDispose]: () => store[Symbol.asyncDispose](),
  };
}

/** The store whose reads fail as `fail` says (a Mailbox proxy: everything else as the memory store does it). */
function withFailingRead(store: MemoryStore, fail: (ref: MessageRef) => MailshiftError | undefined): MailStore {
  return {
    kind: store.kind,
    caps: store.caps,
    listMailboxes: () => store.listMailboxes(),
    async openMailbox(p, mode): Promise<Mailbox> {
      const box = await store.openMailbox(p, mode);
      return {
        path: box.path,
        status: () => box.status(),
        list: (signal, options) => box.list(signal, options),
        async read(ref, signal): Promise<Readable> {
          const error = fail(ref);
          if (error) throw error;
          return box.read(ref, signal);
        },
        append: (message, signal) => box.append(message, signal),
        [Symbol.asyncDispose]: () => box[Symbol.asyncDispose](),
      };
    },
    [Symbol.asyncDispose]: () => store[Symbol.asyncDispose](),
  };
}
