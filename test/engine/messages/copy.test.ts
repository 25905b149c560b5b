import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUidlist } from '../../../converters/maildir/uidlist.js';
import { MailshiftError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { IncomingMessage, MessageRef, SystemFlag } from '../../../src/core/types.js';
import { decideBackoffMs } from '../../../src/core/async.js';
import { decideCopyExitCode, runStoreCopy, type CopyProgress, type StoreCopyOptions } from '../../../src/engine/messages/copy.js';
import { MaildirStore } from '../../../src/stores/maildir/index.js';
import type { ListedMessage, ListOptions, Mailbox, MailboxInfo, MailStore, StoreKind } from '../../../src/stores/store.js';

/** In-memory stores (unit tests may mock): an "imap" kind returns header fields with listings, like ImapStore. */
interface StoredMessage {
  uid: number;
  content: Buffer;
  flags: Set<SystemFlag>;
  keywords: Set<string>;
  internalDate: Date;
  /** The source found this message but cannot serve it (an mbox message cut off). */
  problem?: MailshiftError;
}

class FakeStore implements MailStore {
  /** Stores bytes as given (crlf: no line-end conversion into it); sizes compared and appends side by side as IMAP's are. */
  get caps() {
    const isImap = this.kind === 'imap';
    return { readable: true, writable: true, crlf: true, sizeComparable: isImap, parallelAppend: isImap, newMailSignal: false, flagsBySourceKey: false };
  }
  readonly folders = new Map<string, { uidValidity: number; nextUid: number; messages: StoredMessage[] }>();
  appendCalls = 0;
  appendDelayMs = 0;
  /** Like a maildir: appended messages are in place only after checkpoint() (or when the mailbox is disposed). */
  isWritingBehind = false;
  /** Called on each append: lets a test look at the run in the middle. */
  onAppend?: () => void;
  failAppendOf?: (content: Buffer) => MailshiftError | undefined;
  /** Append calls a mailbox takes at once (an IMAP target pipelines them); and the most seen in flight. */
  appendSlots?: number;
  appendsInFlight = 0;
  maxAppendsInFlight = 0;

  constructor(readonly kind: StoreKind) {}

  add(folder: string, content: string, flags: SystemFlag[] = [], uidValidity = 42): StoredMessage {
    let box = this.folders.get(folder);
    if (!box) this.folders.set(folder, (box = { uidValidity, nextUid: 1, messages: [] }));
    const message = { uid: box.nextUid++, content: Buffer.from(content), flags: new Set(flags), keywords: new Set<string>(), internalDate: new Date(1_000_000_000_000) };
    box.messages.push(message);
    return message;
  }

  async *listMailboxes(): AsyncIterable<MailboxInfo> {
    for (const path of this.folders.keys()) yield { path };
  }

  async openMailbox(path: string, mode: 'read' | 'write'): Promise<Mailbox> {
    if (!this.folders.has(path)) {
      if (mode === 'read') throw new MailshiftError('MAILSHIFT_MAILBOX_MISSING', `no ${path}`, { scope: 'mailbox' });
      this.folders.set(path, { uidValidity: 7, nextUid: 1, messages: [] });
    }
    const box = this.folders.get(path)!;
    const store = this;
    const behind: StoredMessage[] = [];
    const catchUp = async () => {
      box.messages.push(...behind.splice(0));
    };
    const refOf = (m: StoredMessage, headerFields?: readonly string[]): ListedMessage => ({
      id: String(m.uid),
      uid: m.uid,
      flags: m.flags,
      keywords: m.keywords,
      internalDate: m.internalDate,
      sizeBytes: m.content.length,
      ...(m.problem ? { problem: m.problem } : {}),
      ...(store.kind === 'imap' && headerFields ? { headers: m.content.subarray(0, m.content.indexOf('\n\n') + 2) } : {}),
    });
    return {
      path,
      status: async () => ({ uidValidity: box.uidValidity, uidNext: box.nextUid }),
      async *list(_signal?: AbortSignal, options: ListOptions = {}) {
        for (const m of [...box.messages]) if (m.uid > (options.afterUid ?? 0)) yield refOf(m, options.headerFields);
      },
      read: async (ref: MessageRef) => {
        const found = box.messages.find((m) => String(m.uid) === ref.id)!;
        if (found.problem) throw found.problem;
        return Readable.from([found.content]);
      },
      ...(store.appendSlots ? { appendSlots: store.appendSlots } : {}),
      append: async (message: IncomingMessage) => {
        store.appendCalls += 1;
        store.onAppend?.();
        store.appendsInFlight += 1;
        store.maxAppendsInFlight = Math.max(store.maxAppendsInFlight, store.appendsInFlight);
        if (store.appendDelayMs) await new Promise((resolve) => setTimeout(resolve, store.appendDelayMs));
        store.appendsInFlight -= 1;
        const failure = store.failAppendOf?.(message.content);
        if (failure) throw failure;
        const stored = { uid: box.nextUid++, content: message.content, flags: new Set(message.flags), keywords: new Set(message.keywords), internalDate: message.internalDate ?? new Date() };
        (store.isWritingBehind ? behind : box.messages).push(stored);
        return refOf(stored);
      },
      ...(store.isWritingBehind ? { checkpoint: catchUp } : {}),
      [Symbol.asyncDispose]: catchUp,
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {}

  contents(folder: string): string[] {
    return (this.folders.get(folder)?.messages ?? []).map((m) => m.content.toString()).sort();
  }
}

const mail = (id: string | undefined, subject: string, body = 'body') => `${id ? `Message-ID: <${id}>\n` : ''}Subject: ${subject}\nDate: Mon, 1 Jan 2001 00:00:00 +0000\n\n${body}\n`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'store-copy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function describeStore(store: FakeStore, label: string) {
  return { store, label };
}

describe('runStoreCopy', () => {
  it('copies only what the target lacks, and keeps a real duplicate of the source a duplicate', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    source.add('INBOX', mail('a@x', 'A'));
    source.add('INBOX', mail('b@x', 'B'));
    source.add('INBOX', mail('b@x', 'B'));
    source.add('INBOX', mail('c@x', 'C'));
    target.add('INBOX', mail('b@x', 'B'));
    target.add('INBOX', mail('c@x', 'C'));
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger });
    expect(report.totals).toMatchObject({ copied: 2, alreadyPresent: 2 });
    expect(target.contents('INBOX')).toEqual(source.contents('INBOX'));
  });

  it('tells apart messages without Message-ID whose headers agree but whose bodies differ', async () => {
    const source = new FakeStore('maildir');
    const target = new FakeStore('imap');
    source.add('INBOX', mail(undefined, 'Same', 'first body'));
    source.add('INBOX', mail(undefined, 'Same', 'second body'));
    target.add('INBOX', mail(undefined, 'Same', 'first body'));
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger });
    expect(report.totals).toMatchObject({ copied: 1, alreadyPresent: 1 });
    expect(target.contents('INBOX')).toEqual(source.contents('INBOX'));
  });

  it('tells apart two messages of one Message-ID and headers (a message and its mailing-list copy) when the target holds the second', async () => {
    const source = new FakeStore('maildir');
    const target = new FakeStore('imap');
    source.add('INBOX', mail('post@x', 'Same', 'direct copy'));
    source.add('INBOX', mail('post@x', 'Same', 'list copy\n-- \nthe list footer'));
    target.add('INBOX', mail('post@x', 'Same', 'list copy\n-- \nthe list footer'));
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger });
    expect(report.totals).toMatchObject({ copied: 1, alreadyPresent: 1 });
    expect(target.contents('INBOX')).toEqual(source.contents('INBOX'));
  });

  it('tells them apart by content when their bodies differ but not in length', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    source.add('INBOX', mail('post@x', 'Same', 'direct copy'));
    source.add('INBOX', mail('post@x', 'Same', 'listed copy'));
    target.add('INBOX', mail('post@x', 'Same', 'listed copy'));
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger });
    expect(report.totals).toMatchObject({ copied: 1, alreadyPresent: 1 });
    expect(target.contents('INBOX')).toEqual(source.contents('INBOX'));
  });

  it('pairs identical copies without Message-ID by their flags first too', async () => {
    const source = new FakeStore('maildir');
    const target = new FakeStore('imap');
    source.add('INBOX', mail(undefined, 'No id'), ['\\Draft', '\\Seen']);
    source.add('INBOX', mail(undefined, 'No id'), []);
    target.add('INBOX', mail(undefined, 'No id'), []);
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger });
    expect(report.totals).toMatchObject({ copied: 1, alreadyPresent: 1 });
    expect(target.folders.get('INBOX')!.messages.map((m) => [...m.flags].sort().join()).sort()).toEqual(['', '\\Draft,\\Seen']);
  });

  it('pairs identical copies by their flags first: the copy the target holds keeps it, the other is copied with its own flags', async () => {
    const source = new FakeStore('maildir');
    const target = new FakeStore('imap');
    // Listed first on the source: a copy delivered later (a maildir without UIDs lists by file name).
    source.add('INBOX', mail('same@x', 'Same'), ['\\Flagged']);
    source.add('INBOX', mail('same@x', 'Same'), ['\\Seen']);
    target.add('INBOX', mail('same@x', 'Same'), ['\\Seen']);
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger });
    expect(report.totals).toMatchObject({ copied: 1, alreadyPresent: 1 });
    expect(target.folders.get('INBOX')!.messages.map((m) => [...m.flags].join()).sort()).toEqual(['\\Flagged', '\\Seen']);
  });

  it('skips and reports messages over --max-size, exit 3, and looks at them again next run', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('maildir');
    source.add('INBOX', mail('small@x', 'small'));
    source.add('INBOX', mail('big@x', 'big', 'x'.repeat(5000)));
    source.add('INBOX', mail('after@x', 'after'));
    const state = { file: path.join(dir, 'max-size.json'), pair: 's -> t' };
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, maxSizeBytes: 1000, state });
    expect(report.totals).toMatchObject({ copied: 2, skipped: 1 });
    expect(report.folders[0]!.skipped[0]).toMatchObject({ uid: 2, reason: expect.stringMatching(/--max-size/) });
    expect(decideCopyExitCode(report)).toBe(3);
    // The watermark stops below the skipped message: with a larger limit the next run copies it, and only it.
    const saved = JSON.parse(await readFile(state.file, 'utf8'));
    expect(Object.values(saved.folders)).toEqual([expect.objectContaining({ uidValidity: 42, highestUid: 1 })]);
    const again = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state });
    expect(again.totals).toMatchObject({ copied: 1, alreadyPresent: 1 });
    expect(target.contents('INBOX')).toEqual(source.contents('INBOX'));
  });

  it('reports a message the source cannot serve as skipped with its reason, never reads it, and looks at it again next run', async () => {
    const source = new FakeStore('mbox');
    const target = new FakeStore('imap');
    source.add('INBOX', mail('1@x', 'one'));
    source.add('INBOX', mail('2@x', 'cut off')).problem = new MailshiftError('MAILSHIFT_MBOX_BAD_MESSAGE', 'inbox at byte 120: truncated message', { scope: 'message' });
    source.add('INBOX', mail('3@x', 'three'));
    const state = { file: path.join(dir, 'problem.json'), pair: 'mbox -> t' };
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state });
    expect(report.totals).toMatchObject({ copied: 2, skipped: 1, failedFolders: 0, examined: 3 });
    expect(report.folders[0]!.skipped).toEqual([{ id: '2', uid: 2, reason: 'inbox at byte 120: truncated message' }]);
    expect(decideCopyExitCode(report)).toBe(3);
    expect(target.contents('INBOX')).toEqual([mail('1@x', 'one'), mail('3@x', 'three')]);
    const again = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state });
    expect(again.totals).toMatchObject({ copied: 0, skipped: 1, alreadyPresent: 1 });
  });

  it('exits 75 (run again), not 3 (partial), when a folder ran out of retries on temporary errors and nothing was skipped', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    source.add('INBOX', mail('1@x', 'one'));
    source.add('Busy', mail('2@x', 'two'));
    target.failAppendOf = (content) =>
      content.includes('two') ? new MailshiftError('MAILSHIFT_IMAP_UNAVAILABLE', 'cannot append: [UNAVAILABLE] busy', { scope: 'mailbox', retry: 'later' }) : undefined;
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, retries: 1, retryBaseMs: 1, retryMaxMs: 2 });
    expect(report.totals).toMatchObject({ copied: 1, skipped: 0, failedFolders: 1 });
    expect(decideCopyExitCode(report)).toBe(75);
    // A folder that failed for good, next to the temporary one, makes the run partial.
    source.add('Bad', mail('3@x', 'three'));
    target.failAppendOf = (content) =>
      content.includes('two')
        ? new MailshiftError('MAILSHIFT_IMAP_UNAVAILABLE', 'cannot append: [UNAVAILABLE] busy', { scope: 'mailbox', retry: 'later' })
        : content.includes('three')
          ? new MailshiftError('MAILSHIFT_IMAP_FAILED', 'cannot append: NO refused', { scope: 'mailbox' })
          : undefined;
    const mixed = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, retries: 1, retryBaseMs: 1, retryMaxMs: 2 });
    expect(mixed.totals.failedFolders).toBe(2);
    expect(decideCopyExitCode(mixed)).toBe(3);
  });

  it('reports progress against a total (what each listed folder lacks), so the bar can show a percentage and an ETA', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    source.add('INBOX', mail('1@x', 'one'));
    source.add('INBOX', mail('2@x', 'two'));
    source.add('Work', mail('3@x', 'three'));
    target.add('Work', mail('3@x', 'three'));
    const seen: CopyProgress[] = [];
    await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, onProgress: (p) => seen.push(p) });
    const bytes = mail('1@x', 'one').length + mail('2@x', 'two').length;
    expect(seen.at(-1)).toEqual({ messages: 2, bytes, sourceBytes: bytes, plannedMessages: 2, plannedBytes: bytes, foldersPlanned: 2, foldersTotal: 2 });
    // The total is known before the first message of a folder is copied.
    expect(seen[0]).toMatchObject({ messages: 0, plannedMessages: 2, foldersPlanned: 1 });
  });

  it('lists the folders the source store could not offer as skipped, and exits 3 (a folder is never dropped without a word)', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    source.add('INBOX', mail('1@x', 'one'));
    Object.assign(source, { skippedFolders: [{ directory: 'INBOX.a..b', reason: 'empty folder name: "INBOX.a..b"' }] });
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger });
    expect(report.totals).toMatchObject({ copied: 1, skipped: 0, failedFolders: 0 });
    expect(report.skippedFolders).toEqual([{ folder: 'INBOX.a..b', reason: 'empty folder name: "INBOX.a..b"' }]);
    expect(decideCopyExitCode(report)).toBe(3);
  });

  it('does not create a target folder for a source folder that holds only messages it cannot serve', async () => {
    const source = new FakeStore('mbox');
    const target = new FakeStore('imap');
    source.add('Broken', mail('1@x', 'cut off')).problem = new MailshiftError('MAILSHIFT_MBOX_BAD_MESSAGE', 'broken at byte 0: truncated message', { scope: 'message' });
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger });
    expect(report.totals).toMatchObject({ copied: 0, skipped: 1 });
    expect(target.folders.has('Broken')).toBe(false);
  });

  it('skips a message the target refuses (message scope) and carries on with the rest', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    source.add('INBOX', mail('1@x', 'one'));
    source.add('INBOX', mail('2@x', 'poison'));
    source.add('INBOX', mail('3@x', 'three'));
    target.failAppendOf = (content) => (content.includes('poison') ? new MailshiftError('MAILSHIFT_IMAP_MESSAGE', 'NO [CANNOT] rejected', { scope: 'message' }) : undefined);
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger });
    expect(report.totals).toMatchObject({ copied: 2, skipped: 1, failedFolders: 0 });
  });

  it('re-sends an APPEND the server refused with a transient NO, without listing again or duplicating', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    for (let i = 0; i < 5; i++) source.add('INBOX', mail(`${i}@x`, `m${i}`));
    let refusals = 0;
    target.failAppendOf = () => {
      if (refusals >= 3) return undefined;
      refusals += 1;
      return Object.assign(new MailshiftError('MAILSHIFT_IMAP_UNAVAILABLE', 'NO [UNAVAILABLE]', { scope: 'mailbox', retry: 'later' }), { isRefused: true });
    };
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, retryBaseMs: 1, retryMaxMs: 2 });
    expect(report.totals).toMatchObject({ copied: 5, alreadyPresent: 0 });
    expect(target.appendCalls).toBe(8);
    expect(target.contents('INBOX')).toEqual(source.contents('INBOX'));
  });

  it('keeps as many appends in flight on one target folder as it takes (appendSlots), instead of waiting for each', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    for (let i = 0; i < 12; i++) source.add('INBOX', mail(`${i}@x`, `m${i}`));
    target.appendSlots = 4;
    target.appendDelayMs = 5;
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, batchMessages: 1 });
    expect(report.totals).toMatchObject({ copied: 12, alreadyPresent: 0 });
    expect(target.maxAppendsInFlight).toBe(4);
    expect(target.contents('INBOX')).toEqual(source.contents('INBOX'));
  });

  it('stops cleanly at --max-bytes with exit 75, and the next run carries on from there without copying anything twice', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    for (let i = 0; i < 10; i++) source.add('INBOX', mail(`${i}@x`, `m${i}`, 'x'.repeat(100)));
    const size = source.folders.get('INBOX')!.messages[0]!.content.length;
    const state = { file: path.join(dir, 'budget-state.json'), pair: 's -> t' };
    const first = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state, batchMessages: 2, maxBytes: size * 4 });
    expect(first.totals.copied).toBe(4);
    expect(first.stopped).toMatchObject({ code: 'MAILSHIFT_BYTE_BUDGET', exitCode: 75 });
    expect(decideCopyExitCode(first)).toBe(75);
    const second = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state, batchMessages: 2, maxBytes: size * 4 });
    expect(second.totals.copied).toBe(4);
    const third = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state, maxBytes: size * 4 });
    expect(third.totals).toMatchObject({ copied: 2, alreadyPresent: 0 });
    expect(decideCopyExitCode(third)).toBe(0);
    expect(target.contents('INBOX')).toEqual(source.contents('INBOX'));
  });

  it('stops the run on an account-level failure and reports it', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    source.add('INBOX', mail('1@x', 'one'));
    target.failAppendOf = () => new MailshiftError('MAILSHIFT_IMAP_OVERQUOTA', 'mailbox full', { scope: 'account' });
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger });
    expect(report.stopped).toMatchObject({ code: 'MAILSHIFT_IMAP_OVERQUOTA' });
    expect(decideCopyExitCode(report)).toBe(1);
  });

  it('stops an account at --account-timeout with a temporary failure (exit 75), keeping what was copied', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    for (let i = 0; i < 20; i++) source.add('INBOX', mail(`${i}@x`, `m${i}`));
    target.appendDelayMs = 15;
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, timeoutMs: 100 });
    expect(report.stopped).toMatchObject({ code: 'MAILSHIFT_TIMEOUT', exitCode: 75 });
    expect(report.totals.copied).toBeGreaterThan(0);
    expect(report.totals.copied).toBeLessThan(20);
    expect(target.contents('INBOX')).toHaveLength(report.totals.copied);
  });

  it('dry run counts and writes nothing, and creates no folder', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('imap');
    source.add('Work', mail('1@x', 'one'));
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, dryRun: true });
    expect(report.totals.copied).toBe(1);
    expect(target.folders.has('Work')).toBe(false);
  });
});

describe('runStoreCopy: identical messages on incremental runs (counted, never collapsed)', () => {
  const twin = mail('same@x', 'Same message', 'identical body');

  for (const targetKind of ['maildir', 'imap'] as const) {
    it(`does not collapse a 4th identical message on an incremental run (IMAP to ${targetKind})`, async () => {
      const source = new FakeStore('imap');
      const target = new FakeStore(targetKind);
      source.add('INBOX', twin, ['\\Seen']);
      source.add('INBOX', twin, []);
      source.add('INBOX', twin, ['\\Flagged']);
      const state = { file: path.join(dir, `fourth-twin-${targetKind}.json`), pair: `s -> ${targetKind}` };
      const first = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state });
      expect(first.totals).toMatchObject({ copied: 3, alreadyPresent: 0 });
      source.add('INBOX', twin, ['\\Seen']);
      const second = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state });
      expect(second.folders[0]!.mode).toBe('incremental');
      expect(second.totals).toMatchObject({ copied: 1, alreadyPresent: 0 });
      expect(target.contents('INBOX')).toHaveLength(4);
      const third = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state });
      expect(third.totals).toMatchObject({ copied: 0, alreadyPresent: 0, examined: 0 });
      expect(target.contents('INBOX')).toEqual(source.contents('INBOX'));
    });

    it(`copies exactly what is missing after a run interrupted midway, with many identical messages (IMAP to ${targetKind})`, async () => {
      const source = new FakeStore('imap');
      const target = new FakeStore(targetKind);
      // 5 distinct messages, each 3 times, copied and recorded in the state ...
      for (let round = 0; round < 3; round++) for (let i = 0; i < 5; i++) source.add('INBOX', mail(`m${i}@x`, `m${i}`));
      const state = { file: path.join(dir, `interrupted-${targetKind}.json`), pair: `s -> ${targetKind}` };
      const first = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state });
      expect(first.totals.copied).toBe(15);
      // ... then 20 more copies of the same 5 arrive, and the next run is interrupted after 3 of them: its state
      // still says "up to the first 15" while the target holds 18.
      for (let round = 0; round < 4; round++) for (let i = 0; i < 5; i++) source.add('INBOX', mail(`m${i}@x`, `m${i}`));
      const controller = new AbortController();
      await expect(
        runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), {
          logger: silentLogger,
          state,
          batchMessages: 1,
          signal: controller.signal,
          onProgress: ({ messages }) => {
            if (messages === 3) controller.abort();
          },
        }),
      ).rejects.toThrow(/interrupted/i);
      const onTarget = target.contents('INBOX').length;
      expect(onTarget).toBeGreaterThanOrEqual(18);
      expect(onTarget).toBeLessThan(35);
      const rerun = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state });
      expect(rerun.totals.copied).toBe(35 - onTarget);
      expect(target.contents('INBOX')).toEqual(source.contents('INBOX'));
      const again = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state });
      expect(again.totals.copied).toBe(0);
      expect(target.contents('INBOX')).toHaveLength(35);
    });
  }
});

describe('runStoreCopy: the saved state never runs ahead of the target', () => {
  it('saves a watermark only over messages a writing-behind target (a maildir) has in place, so a kill -9 after a save loses none', async () => {
    const source = new FakeStore('imap');
    const target = new FakeStore('maildir');
    target.isWritingBehind = true;
    target.appendDelayMs = 60;
    for (let i = 0; i < 50; i++) source.add('INBOX', mail(`${i}@x`, `m${i}`));
    const state = { file: path.join(dir, 'writing-behind.json'), pair: 's -> behind' };
    // What a kill -9 at this moment would leave: the saved watermark, and the messages the target has in place.
    const ahead: string[] = [];
    let saves = 0;
    target.onAppend = () => {
      let saved: { folders: Record<string, { highestUid: number }> };
      try {
        saved = JSON.parse(readFileSync(state.file, 'utf8'));
      } catch {
        return;
      }
      saves += 1;
      const inPlace = target.folders.get('INBOX')?.messages.length ?? 0;
      for (const { highestUid } of Object.values(saved.folders)) if (highestUid > inPlace) ahead.push(`watermark ${highestUid}, ${inPlace} in place`);
    };
    const report = await runStoreCopy(describeStore(source, 's'), describeStore(target, 't'), { logger: silentLogger, state, batchMessages: 1 });
    expect(report.totals.copied).toBe(50);
    expect(saves).toBeGreaterThan(0);
    expect(ahead).toEqual([]);
  });
});

describe('runStoreCopy: a re-run after a crash into a maildir', () => {
  /** dovecot-uidlist as "UID base" lines, with its header's UIDVALIDITY. */
  async function readUids(root: string): Promise<{ uidValidity: number; records: string[] }> {
    const list = parseUidlist(await readFile(path.join(root, 'dovecot-uidlist'), 'utf8'));
    return { uidValidity: list.uidValidity, records: list.records.map((record) => `${record.uid} ${record.fileName.split(':')[0]}`).sort() };
  }

  it('records the source UIDs of messages a killed run wrote but never listed in dovecot-uidlist', async () => {
    const source = new FakeStore('imap');
    const twin = mail('same@x', 'Same message', 'identical body');
    // Identical messages too: each file must get the UID of the very source message it was written from.
    source.add('INBOX', twin, ['\\Seen']);
    source.add('INBOX', mail('other@x', 'Other'));
    source.add('INBOX', twin, []);
    source.add('INBOX', twin, ['\\Flagged']);
    const whole = path.join(dir, 'crash-control');
    const crashed = path.join(dir, 'crash-target');
    const copyInto = async (root: string, state?: { file: string; pair: string }) => {
      const target = new MaildirStore(root, { writable: true });
      try {
        return await runStoreCopy(describeStore(source, 'imap://s'), { store: target, label: root }, { logger: silentLogger, ...(state ? { state } : {}) });
      } finally {
        await target[Symbol.asyncDispose]();
      }
    };
    await copyInto(whole);
    const expected = await readUids(whole);
    expect(expected.uidValidity).toBe(42);
    expect(expected.records.map((line) => line.split(' ')[0])).toEqual(['1', '2', '3', '4']);

    // The state a kill -9 leaves: every message file in place, no dovecot-uidlist yet, no saved watermark.
    const state = { file: path.join(dir, 'crash-state.json'), pair: 'imap://s -> crashed' };
    await copyInto(crashed, state);
    await unlink(path.join(crashed, 'dovecot-uidlist'));
    await unlink(state.file);

    const rerun = await copyInto(crashed, state);
    expect(rerun.totals).toMatchObject({ copied: 0, alreadyPresent: 4 });
    expect(await readUids(crashed)).toEqual(expected);
  });
});

describe('runStoreCopy: --dry-run through the dry-run store', () => {
  const listFiles = async (root: string) => (await Promise.all(['cur', 'new'].map(async (sub) => (await readdir(path.join(root, sub))).map((name) => `${sub}/${name}`)))).flat().sort();

  it('resync --flags source --dry-run counts the flag differences of earlier copies and changes nothing', async () => {
    const source = new FakeStore('imap');
    const message = source.add('INBOX', mail('flags@x', 'Flags later'));
    const root = path.join(dir, 'dry-run-flags');
    const state = { file: path.join(dir, 'dry-run-flags-state.json'), pair: 'imap://s -> dry-run-flags' };
    const copyInto = async (options: Partial<StoreCopyOptions>) => {
      const target = new MaildirStore(root, { writable: !options.dryRun });
      try {
        return await runStoreCopy(describeStore(source, 'imap://s'), { store: target, label: root }, { logger: silentLogger, state, ...options });
      } finally {
        await target[Symbol.asyncDispose]();
      }
    };
    await copyInto({});
    message.flags.add('\\Seen');
    const before = await listFiles(root);

    const dry = await copyInto({ dryRun: true, flags: 'source' });
    expect(dry.totals).toMatchObject({ copied: 0, flagDifferences: 1, flagsApplied: 0 });
    expect(await listFiles(root)).toEqual(before);

    const real = await copyInto({ flags: 'source' });
    expect(real.totals).toMatchObject({ copied: 0, flagDifferences: 1, flagsApplied: 1 });
    expect(await listFiles(root)).not.toEqual(before);
  });
});

describe('decideBackoffMs', () => {
  it('grows exponentially with jitter and stays within the cap', () => {
    expect(decideBackoffMs(1, 1000, 60_000, undefined, () => 0)).toBe(500);
    expect(decideBackoffMs(1, 1000, 60_000, undefined, () => 1)).toBe(1000);
    expect(decideBackoffMs(4, 1000, 60_000, undefined, () => 1)).toBe(8000);
    expect(decideBackoffMs(20, 1000, 60_000, undefined, () => 1)).toBe(60_000);
  });
  it('waits at least as long as the server asked', () => {
    expect(decideBackoffMs(1, 1000, 60_000, 299_961, () => 0)).toBe(299_961);
  });
});
