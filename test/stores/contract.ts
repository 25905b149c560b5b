import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isMailshiftError } from '../../src/core/errors.js';
import type { IncomingMessage, MailboxPath, SystemFlag } from '../../src/core/types.js';
import type { ListedMessage, Mailbox, MailStore } from '../../src/stores/store.js';

/**
 * The store contract (src/stores/store.ts), as one suite that runs against every store: maildir, mbox (the read side,
 * which is all it offers), IMAP on a real Dovecot, and an in-memory store that shows the contract is about the
 * interface, not about files. A new store is done when this suite passes against it.
 *
 * A subject says how to get mail into the store: `empty` for a store that can be written (the suite appends through
 * the interface), `holding` for one that cannot (the subject writes the mail by its own means, an mbox file). Either
 * way the suite then opens the store again and reads back what it put in.
 */

export interface SampleMessage {
  /** With LF line ends; the suite gives it to a CRLF store (caps.crlf) with CRLF. */
  readonly content: string;
  readonly flags: readonly SystemFlag[];
  readonly keywords: readonly string[];
  /** Whole seconds: no store keeps more (maildir mtimes, IMAP INTERNALDATE, the mbox From_ line). */
  readonly internalDate: Date;
}

export type SampleFolders = ReadonlyMap<MailboxPath, readonly SampleMessage[]>;

/** Where a store's mail lives: it can be opened again, and sees what an earlier opening appended and disposed. */
export interface StorePlace {
  open(): Promise<MailStore>;
}

export interface ContractSubject {
  /** A new, empty place, for a store that can be written. */
  readonly empty?: () => Promise<StorePlace>;
  /** A place holding these folders, written by the subject's own means (a store that cannot be written). */
  readonly holding?: (folders: SampleFolders) => Promise<StorePlace>;
  /** A place whose INBOX holds a message the store can serve and one it cannot (where the store can have such a thing). */
  readonly withProblem?: () => Promise<StorePlace>;
}

const sample = (id: string, subject: string, body: string, flags: SystemFlag[], keywords: string[], unixSeconds: number): SampleMessage => ({
  content: [
    `Message-ID: <${id}@contract.example>`,
    'Date: Tue, 2 Jan 1996 10:00:00 +0000',
    'From: Sender <sender@example.org>',
    'To: Alice <alice@example.com>',
    `Subject: ${subject}`,
    '',
    body,
    '',
  ].join('\n'),
  flags,
  keywords,
  internalDate: new Date(unixSeconds * 1000),
});

const twice = sample('twice', 'The same message twice', 'A real duplicate: it must stay two messages.', ['\\Seen'], [], 1_500_000_300);

/** INBOX and a nested folder; flags, keywords and dates differ from message to message, and one message is there twice. */
export const sampleFolders: SampleFolders = new Map<MailboxPath, readonly SampleMessage[]>([
  [
    'INBOX',
    [
      sample('plain', 'Unread and plain', 'Nothing set on this one.', [], [], 1_500_000_000),
      sample('flagged', 'Seen, flagged, answered', 'Three flags.\nAnd a second line.', ['\\Answered', '\\Flagged', '\\Seen'], ['$Label1'], 1_500_000_100),
      sample('old', 'From the last century', 'Old mail.', ['\\Seen'], [], 820_576_800),
      twice,
      twice,
    ],
  ],
  ['Work/Projects', [sample('project', 'A nested folder', 'Project mail.', ['\\Seen', '\\Draft'], ['project-x'], 1_540_000_000)]],
]);

export function describeStoreContract(name: string, subject: ContractSubject): void {
  /** A place holding the sample folders: written through the interface where the store can be written. */
  async function seeded(folders: SampleFolders): Promise<StorePlace> {
    if (subject.holding) return subject.holding(folders);
    const place = await subject.empty!();
    await withStore(place, async (store) => {
      for (const [folder, messages] of folders) {
        // Each from a source message of its own (sourceKey), as the engine appends: a maildir names a message from its
        // content otherwise, and the same content twice would be one file.
        await withMailbox(store, folder, 'write', async (box) => {
          for (const [i, message] of messages.entries()) await box.append({ ...toIncoming(message, store), sourceKey: `contract\u0000${folder}\u0000${i + 1}` });
        });
      }
    });
    return place;
  }

  describe(`the store contract: ${name}`, () => {
    it('lists the mailboxes it holds, each once', async () => {
      await withStore(await seeded(sampleFolders), async (store) => {
        const names = (await collect(store.listMailboxes())).map((each) => each.path);
        expect(names).toEqual(expect.arrayContaining([...sampleFolders.keys()]));
        expect(new Set(names).size).toBe(names.length);
      });
    });

    it('serves every message byte for byte, with its flags, keywords and internal date, and identical messages as two', async () => {
      await withStore(await seeded(sampleFolders), async (store) => {
        for (const [folder, messages] of sampleFolders) {
          const got = await withMailbox(store, folder, 'read', readFolder);
          const want = messages.map((message) => ({
            content: inStoreLineEnds(message.content, store),
            flags: [...message.flags].sort(),
            keywords: [...message.keywords].sort(),
            internalDateSecs: message.internalDate.getTime() / 1000,
          }));
          expect(sortByContent(got)).toEqual(sortByContent(want));
        }
      });
    });

    it('gives each listed message a UID of its own under the UIDVALIDITY it reports, where it offers UIDs', async () => {
      await withStore(await seeded(sampleFolders), (store) =>
        withMailbox(store, 'INBOX', 'read', async (box) => {
          const status = await box.status();
          const refs = await collect(box.list());
          expect(refs).toHaveLength(sampleFolders.get('INBOX')!.length);
          if (status.uidValidity === undefined) return; // a store without UIDs (an mbox nobody served over IMAP)
          const uids = refs.map((ref) => ref.uid);
          expect(uids.every((uid) => Number.isInteger(uid) && uid! > 0)).toBe(true);
          expect(new Set(uids).size).toBe(uids.length);
          if (status.uidNext !== undefined) expect(status.uidNext).toBeGreaterThan(Math.max(...(uids as number[])));
        }),
      );
    });

    it('refuses to open a mailbox it does not have for reading, with an error about that mailbox only', async () => {
      await withStore(await seeded(sampleFolders), async (store) => {
        const error = await store.openMailbox('Never/Made', 'read').then(
          async (box) => {
            await box[Symbol.asyncDispose]();
            return undefined;
          },
          (err: unknown) => err,
        );
        // What the engine's openExistingMailbox relies on: not the account's problem, and nothing to retry.
        expect(isMailshiftError(error)).toBe(true);
        expect(isMailshiftError(error) && (error.scope === 'account' || error.scope === 'run' || error.retry === 'later')).toBe(false);
      });
    });

    it('releases a mailbox and then the store on dispose, and reads the same mail when opened again', async () => {
      const place = await seeded(sampleFolders);
      const first = await place.open();
      const box = await first.openMailbox('Work/Projects', 'read');
      const before = await readFolder(box);
      await box[Symbol.asyncDispose]();
      await first[Symbol.asyncDispose]();
      const again = await withStore(place, (store) => withMailbox(store, 'Work/Projects', 'read', readFolder));
      expect(again).toEqual(before);
    });

    const writable = subject.empty ? it : it.skip;

    writable('creates a mailbox opened for writing, which is then listed and holds what was appended', async () => {
      const place = await subject.empty!();
      await withStore(place, async (store) => {
        expect(store.caps.writable).toBe(true);
        await withMailbox(store, 'Fresh/Folder', 'write', (box) => box.append(toIncoming(sampleFolders.get('Work/Projects')![0]!, store)));
      });
      await withStore(place, async (store) => {
        expect((await collect(store.listMailboxes())).map((each) => each.path)).toContain('Fresh/Folder');
        expect(await withMailbox(store, 'Fresh/Folder', 'read', (box) => collect(box.list()))).toHaveLength(1);
      });
    });

    writable('keeps identical messages from two source messages as two', async () => {
      const place = await subject.empty!();
      await withStore(place, (store) =>
        withMailbox(store, 'INBOX', 'write', async (box) => {
          await box.append({ ...toIncoming(twice, store), sourceKey: 'contract\u0000INBOX\u00001\u00001' });
          await box.append({ ...toIncoming(twice, store), sourceKey: 'contract\u0000INBOX\u00001\u00002' });
        }),
      );
      await withStore(place, async (store) => {
        const got = await withMailbox(store, 'INBOX', 'read', readFolder);
        expect(got.map((each) => each.content)).toEqual([inStoreLineEnds(twice.content, store), inStoreLineEnds(twice.content, store)]);
      });
    });

    writable('appends a batch in order where it offers appendMany', async () => {
      const place = await subject.empty!();
      const batch = sampleFolders.get('INBOX')!.slice(0, 3);
      const isOffered = await withStore(place, (store) =>
        withMailbox(store, 'Batch', 'write', async (box) => {
          if (!box.appendMany) return false;
          await box.appendMany(batch.map((message) => toIncoming(message, store)));
          return true;
        }),
      );
      if (!isOffered) return;
      await withStore(place, async (store) => {
        const got = await withMailbox(store, 'Batch', 'read', readFolder);
        const want = batch.map((message) => inStoreLineEnds(message.content, store));
        expect(got.map((each) => each.content).sort()).toEqual([...want].sort());
        // In order: where the store numbers its messages, the batch's first message has the lowest UID.
        if (got.every((each) => each.uid !== undefined)) expect([...got].sort((a, b) => a.uid! - b.uid!).map((each) => each.content)).toEqual(want);
      });
    });

    const withProblem = subject.withProblem ? it : it.skip;

    withProblem('lists a message it cannot serve with its problem instead of throwing, and reading it throws that problem', async () => {
      await withStore(await subject.withProblem!(), (store) =>
        withMailbox(store, 'INBOX', 'read', async (box) => {
          const refs = await collect(box.list());
          const problems = refs.filter((ref) => ref.problem);
          expect(problems).toHaveLength(1);
          expect(refs.length).toBeGreaterThan(1);
          const problem = problems[0]!.problem!;
          expect(problem.scope).toBe('message');
          await expect(box.read(problems[0]!)).rejects.toMatchObject({ code: problem.code, message: problem.message, scope: 'message' });
          for (const ref of refs.filter((each) => !each.problem)) expect((await readAll(await box.read(ref))).length).toBeGreaterThan(0);
        }),
      );
    });
  });
}

/** Opens the store, runs `work`, and disposes of the store whatever happened. */
async function withStore<T>(place: StorePlace, work: (store: MailStore) => Promise<T>): Promise<T> {
  const store = await place.open();
  try {
    return await work(store);
  } finally {
    await store[Symbol.asyncDispose]();
  }
}

async function withMailbox<T>(store: MailStore, path: MailboxPath, mode: 'read' | 'write', work: (box: Mailbox) => Promise<T>): Promise<T> {
  const box = await store.openMailbox(path, mode);
  try {
    return await work(box);
  } finally {
    await box[Symbol.asyncDispose]();
  }
}

interface ReadBack {
  readonly content: string;
  readonly flags: string[];
  readonly keywords: string[];
  readonly internalDateSecs: number | undefined;
  readonly uid?: number | undefined;
}

async function readFolder(box: Mailbox): Promise<ReadBack[]> {
  const out: ReadBack[] = [];
  for (const ref of await collect(box.list())) {
    expect((ref as ListedMessage).problem).toBeUndefined();
    out.push({
      content: (await readAll(await box.read(ref))).toString('utf8'),
      flags: [...ref.flags].sort(),
      keywords: [...ref.keywords].sort(),
      internalDateSecs: ref.internalDate ? Math.floor(ref.internalDate.getTime() / 1000) : undefined,
      ...(ref.uid !== undefined ? { uid: ref.uid } : {}),
    });
  }
  return out;
}

function toIncoming(message: SampleMessage, store: MailStore): IncomingMessage {
  return { content: Buffer.from(inStoreLineEnds(message.content, store)), flags: new Set(message.flags), keywords: new Set(message.keywords), internalDate: message.internalDate };
}

/** A message in the line ends the store keeps (caps.crlf): what it must read back byte for byte. */
function inStoreLineEnds(content: string, store: MailStore): string {
  return store.caps.crlf ? content.replace(/\n/g, '\r\n') : content;
}

/** Store order is the store's own: compared by content, without the UIDs it gave. */
function sortByContent(items: readonly (Omit<ReadBack, 'uid'> & { uid?: number | undefined })[]): Omit<ReadBack, 'uid'>[] {
  return items
    .map(({ content, flags, keywords, internalDateSecs }) => ({ content, flags, keywords, internalDateSecs }))
    .sort((a, b) => (a.content < b.content ? -1 : a.content > b.content ? 1 : 0));
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}
