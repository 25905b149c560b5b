import { describe, expect, it } from 'vitest';
import { ImapAppends, type Outgoing } from '../../src/archive/imap-appends.js';
import { buildClaimKey } from '../../src/archive/imap-plan.js';
import { MailshiftError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { IncomingMessage } from '../../src/core/types.js';
import { buildIdentity } from '../../src/engine/identity.js';
import type { FolderCopyReport } from '../../src/engine/messages/report.js';
import type { MailStore } from '../../src/stores/store.js';
import { MemoryMail, MemoryStore } from '../support/memory-store.js';
import { wrapMailboxes } from '../support/wrapped-store.js';

/**
 * The appends of a restore into IMAP, against the in-memory store: batches, the slots that hold the archive back, and
 * appends whose answer was lost, settled against a new listing so nothing lands twice. Against Dovecot through a
 * proxy that cuts the connection: test/integration/archive/restore-imap-fault.test.ts.
 */

const text = (id: string) => `Message-ID: <${id}@example.com>\r\nSubject: ${id}\r\n\r\nbody of ${id}\r\n`;

function report(): FolderCopyReport {
  return { source: 'INBOX', target: 'INBOX', reason: 'INBOX', mode: 'full', examined: 0, copied: 0, copiedBytes: 0, alreadyPresent: 0, skipped: [], vanished: 0, flagDifferences: 0, flagsApplied: 0, retries: 0 };
}

/** Sends `ids` as the writer would: each claimed against the ledger first, appended when the target has none left. */
async function restore(store: MailStore, ids: readonly string[], batchMessages: number): Promise<{ folder: FolderCopyReport; uids: (number | undefined)[] }> {
  const appends = new ImapAppends({ store, skipExisting: true, batchMessages, retryBaseMs: 1, settleDelayMs: 0, logger: silentLogger });
  const target = await appends.open('INBOX');
  const folder = report();
  target.reports.add(folder);
  const uids: (number | undefined)[] = ids.map(() => undefined);
  for (const [i, id] of ids.entries()) {
    const message: IncomingMessage = { content: Buffer.from(text(id)), flags: new Set(), keywords: new Set() };
    const key = keyOf(id);
    if (target.ledger.claim(key).outcome === 'present') continue;
    const outgoing: Outgoing = { key, name: id, report: folder, message, noteUid: (uid) => (uids[i] = uid) };
    await appends.add(target, outgoing);
  }
  await appends.flush();
  await appends.close({ sendPending: true });
  return { folder, uids };
}

/** The claim key a listing gives the message `id`, as the writer computes it. */
function keyOf(id: string): string {
  return buildClaimKey(buildIdentity(Buffer.from(text(id))), undefined);
}

describe('ImapAppends', () => {
  it('sends batches of at most batchMessages, one MULTIAPPEND each, and learns the UIDs a single APPEND reports', async () => {
    const mail = new MemoryMail();
    const calls: string[] = [];
    const { folder, uids } = await restore(countingStore(new MemoryStore(mail), calls), ['a', 'b', 'c', 'd', 'e'], 2);
    expect(calls).toEqual(['appendMany 2', 'appendMany 2', 'append 1']);
    expect(folder).toMatchObject({ copied: 5, retries: 0 });
    expect(uids[4]).toBe(5);
  });

  it('does not send again an append whose answer was lost but which the target stored', async () => {
    const mail = new MemoryMail();
    const { store, drops } = losingStore(new MemoryStore(mail), 'store-then-drop');
    const { folder } = await restore(store, ['a', 'b', 'c'], 2);
    expect(drops()).toBe(1);
    expect(ids(mail)).toEqual(['a', 'b', 'c']);
    expect(folder).toMatchObject({ copied: 3, retries: 1 });
  });

  it('sends again an append whose connection broke before the target stored it, identical messages counted', async () => {
    const mail = new MemoryMail();
    const { store, drops } = losingStore(new MemoryStore(mail), 'drop');
    const { folder } = await restore(store, ['a', 'a', 'b'], 2);
    expect(drops()).toBe(1);
    expect(ids(mail)).toEqual(['a', 'a', 'b']);
    expect(folder).toMatchObject({ copied: 3, retries: 1 });
  });
});

function ids(mail: MemoryMail): string[] {
  return (mail.folders.get('INBOX')?.messages ?? []).map((m) => /<([^@]+)@/.exec(m.content.toString())![1]!).sort();
}

/** Records each append call. */
function countingStore(inner: MailStore, calls: string[]): MailStore {
  return wrapMailboxes(inner, (box) => ({
    append: (message: IncomingMessage) => (calls.push('append 1'), box.append(message)),
    appendMany: (messages: readonly IncomingMessage[]) => (calls.push(`appendMany ${messages.length}`), box.appendMany!(messages)),
  }));
}

/** A store whose first append loses its answer: after storing the messages, or before. */
function losingStore(inner: MailStore, how: 'store-then-drop' | 'drop'): { store: MailStore; drops: () => number } {
  let drops = 0;
  const drop = async <T>(send: () => Promise<T>): Promise<T> => {
    if (drops > 0) return send();
    drops += 1;
    if (how === 'store-then-drop') await send();
    throw new MailshiftError('MAILSHIFT_IMAP_CLOSED', 'the connection was reset', { scope: 'mailbox', retry: 'later' });
  };
  const store = wrapMailboxes(inner, (box) => ({
    append: (message: IncomingMessage) => drop(() => box.append(message)),
    appendMany: (messages: readonly IncomingMessage[]) => drop(() => box.appendMany!(messages)),
  }));
  return { store, drops: () => drops };
}
