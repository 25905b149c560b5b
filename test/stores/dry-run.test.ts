import { describe, expect, it } from 'vitest';
import { MailshiftError } from '../../src/core/errors.js';
import type { IncomingMessage } from '../../src/core/types.js';
import { withDryRun } from '../../src/stores/dry-run.js';
import type { FlagUpdate, FlagUpdateMode, Mailbox, MailStore } from '../../src/stores/store.js';
import { MemoryMail, MemoryStore } from '../support/memory-store.js';

const message = (text: string): IncomingMessage => ({ content: Buffer.from(`Subject: ${text}\n\n${text}\n`), flags: new Set(['\\Seen']), keywords: new Set() });

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function storeWithInbox(): Promise<{ mail: MemoryMail; store: MemoryStore }> {
  const mail = new MemoryMail();
  const store = new MemoryStore(mail);
  const box = await store.openMailbox('INBOX', 'write');
  await box.append(message('already there'));
  return { mail, store };
}

describe('withDryRun', () => {
  it('lists and reads the wrapped store as it is', async () => {
    const { store } = await storeWithInbox();
    const dry = withDryRun(store);
    expect((await collect(dry.listMailboxes())).map((each) => each.path)).toEqual(['INBOX']);
    const box = await dry.openMailbox('INBOX', 'write');
    const [ref] = await collect(box.list());
    const chunks: Buffer[] = [];
    for await (const chunk of await box.read(ref!)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('Subject: already there\n\nalready there\n');
  });

  it('counts appends instead of writing them', async () => {
    const { mail, store } = await storeWithInbox();
    const dry = withDryRun(store);
    const box = await dry.openMailbox('INBOX', 'write');
    await box.append(message('one'));
    await box.appendMany!([message('two'), message('three')]);
    expect(dry.counts).toMatchObject({ messagesAppended: 3, mailboxesCreated: 0 });
    expect(mail.folders.get('INBOX')!.messages).toHaveLength(1);
  });

  it('opens a missing mailbox for writing as an empty one it would create, and creates nothing', async () => {
    const { mail, store } = await storeWithInbox();
    const dry = withDryRun(store);
    const box = await dry.openMailbox('Work/New', 'write');
    expect(await collect(box.list())).toEqual([]);
    expect(box.updateFlags).toBeUndefined();
    await box.append(message('new'));
    expect(dry.counts).toMatchObject({ messagesAppended: 1, mailboxesCreated: 1 });
    expect([...mail.folders.keys()]).toEqual(['INBOX']);
  });

  it('asks a read-only store for nothing but reading', async () => {
    const { mail } = await storeWithInbox();
    const dry = withDryRun(new MemoryStore(mail, { writable: false }));
    expect(dry.caps.writable).toBe(true);
    const box = await dry.openMailbox('INBOX', 'write');
    await box.append(message('one'));
    box.adoptSourceUid!({ id: '1', flags: new Set(), keywords: new Set() }, { uid: 1, uidSource: { uidValidity: 1, nextUid: 2 } });
    expect(dry.counts).toMatchObject({ messagesAppended: 1, uidsAdopted: 1 });
  });

  it('passes account-level failures through instead of taking them for a missing mailbox', async () => {
    const refusing = {
      kind: 'memory',
      caps: new MemoryStore().caps,
      listMailboxes: async function* () {},
      openMailbox: async () => {
        throw new MailshiftError('MAILSHIFT_IMAP_AUTH', 'login failed', { scope: 'account' });
      },
      [Symbol.asyncDispose]: async () => {},
    } as MailStore;
    await expect(withDryRun(refusing).openMailbox('INBOX', 'write')).rejects.toMatchObject({ code: 'MAILSHIFT_IMAP_AUTH' });
  });

  it("has the wrapped mailbox only count flag changes, and counts them too", async () => {
    const calls: { mode: FlagUpdateMode; dryRun: boolean | undefined }[] = [];
    const { store } = await storeWithInbox();
    const inbox = await store.openMailbox('INBOX', 'read');
    const withFlags: Mailbox = Object.assign(Object.create(inbox) as Mailbox, {
      updateFlags: async (_updates: readonly FlagUpdate[], mode: FlagUpdateMode, options?: { dryRun?: boolean }) => {
        calls.push({ mode, dryRun: options?.dryRun });
        return { differences: 2, applied: 0, notFound: 0, changedMeanwhile: 0 };
      },
    });
    const wrapped = Object.assign(Object.create(store) as MailStore, { openMailbox: async () => withFlags });
    const dry = withDryRun(wrapped);
    const box = await dry.openMailbox('INBOX', 'write');
    const outcome = await box.updateFlags!([], 'source');
    expect(calls).toEqual([{ mode: 'source', dryRun: true }]);
    expect(outcome.differences).toBe(2);
    expect(dry.counts.flagsChanged).toBe(2);
  });
});
