import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderNameError } from '../../converters/folders/maildirpp.js';
import { parseDovecotKeywords } from '../../converters/maildir/keywords.js';
import { parseUidlist } from '../../converters/maildir/uidlist.js';
import { parseSubscriptions } from '../../converters/folders/subscriptions.js';
import { buildMailboxEntryPrefix, ExportFolder, formatExportSubscriptions, type ExportedMessage } from '../../src/archive/export-layout.js';
import type { SystemFlag } from '../../src/core/types.js';
import { MaildirStore } from '../../src/stores/maildir/index.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

const prefix = buildMailboxEntryPrefix('bob', { localPart: 'alice', domain: 'example.com' });
const received = new Date('2023-11-14T22:13:20Z');

function message(uid: number, extra: Partial<ExportedMessage> = {}): ExportedMessage {
  return { sourceKey: `imaps://alice@host:993\u0000INBOX\u00001700000000\u0000${uid}`, uid, flags: new Set(), keywords: new Set(), internalDate: received, sizeBytes: 100, virtualSizeBytes: 104, ...extra };
}

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir('export-layout');
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('the entry names of a mailbox exported from a store', () => {
  it("places the mailbox where cPanel's backup keeps it", () => {
    expect(prefix).toBe('cpmove-bob/homedir/mail/example.com/alice');
  });

  it('puts INBOX in the mailbox directory and folders in maildir++ siblings, nested and UTF-8 names encoded as the maildir store does', () => {
    expect(new ExportFolder(prefix, 'INBOX').dir).toBe(prefix);
    expect(new ExportFolder(prefix, 'INBOX').isInbox).toBe(true);
    expect(new ExportFolder(prefix, 'Sent').dir).toBe(`${prefix}/.Sent`);
    expect(new ExportFolder(prefix, 'Work/Projects').dir).toBe(`${prefix}/.Work.Projects`);
    expect(new ExportFolder(prefix, 'Café/Ärger').dir).toBe(`${prefix}/.Caf&AOk-.&AMQ-rger`);
    expect(new ExportFolder(prefix, 'Sent').directoryNames()).toEqual([`${prefix}/.Sent/`, `${prefix}/.Sent/cur/`, `${prefix}/.Sent/new/`, `${prefix}/.Sent/tmp/`]);
  });

  it('refuses a folder name the maildir store could not write either', () => {
    expect(() => new ExportFolder(prefix, 'x'.repeat(300))).toThrow(FolderNameError);
  });

  it('names a message in cur/ with its flags after :2, in byte order, its keywords as letters, $Forwarded also as P', () => {
    const folder = new ExportFolder(prefix, 'Sent');
    const flags = new Set<SystemFlag>(['\\Seen', '\\Flagged', '\\Answered']);
    const placed = folder.place(message(7, { flags, keywords: new Set(['$Forwarded', 'Important']) }), { uidValidity: 1700000000, nextUid: 9 });
    expect(placed.name).toMatch(new RegExp(`^${prefix.replaceAll('.', '\\.')}/\\.Sent/cur/1700000000\\.M[0-9a-f]{24}\\.mailshift,S=100,W=104:2,FPRSab$`));
    expect(placed.uid).toBe(7);
    expect(folder.formatKeywords()).toBe('0 $Forwarded\n1 Important\n');
  });

  it('gives a message without flags a name in cur/ with an empty info, as the maildir store appends it', () => {
    const placed = new ExportFolder(prefix, 'INBOX').place(message(1), undefined);
    expect(placed.name).toMatch(/\/cur\/[^/]+:2,$/);
  });

  it('names two identical messages apart: the name comes from the source UID, not the content', () => {
    const folder = new ExportFolder(prefix, 'INBOX');
    const a = folder.place(message(1), { uidValidity: 1700000000, nextUid: 3 });
    const b = folder.place(message(2), { uidValidity: 1700000000, nextUid: 3 });
    expect(a.name).not.toBe(b.name);
  });

  it('leaves out a keyword no maildir name can carry, and says so', () => {
    const placed = new ExportFolder(prefix, 'INBOX').place(message(1, { keywords: new Set(['bad word', 'ok']) }), undefined);
    expect(placed.droppedKeywords).toEqual(['bad word']);
    expect(placed.name.endsWith(':2,a')).toBe(true);
  });

  it('names the message exactly as a copy into a maildir does (a later copy into the restored maildir finds it)', async () => {
    const root = path.join(tmp.path, 'maildir');
    const store = new MaildirStore(root, { writable: true });
    const content = Buffer.from('Subject: x\n\nbody\n');
    const flags = new Set<SystemFlag>(['\\Seen']);
    const sourceKey = 'imaps://alice@host:993\u0000INBOX\u00001700000000\u00005';
    {
      const box = await store.openMailbox('INBOX', 'write');
      await box.append({ content, flags, keywords: new Set(['Important']), internalDate: received, sourceKey, uid: 5, uidSource: { uidValidity: 1700000000, nextUid: 6 }, virtualSizeBytes: content.length + 3 });
      await box[Symbol.asyncDispose]();
    }
    await store[Symbol.asyncDispose]();
    const [written] = await readdir(path.join(root, 'cur'));
    const folder = new ExportFolder(prefix, 'INBOX');
    const placed = folder.place({ sourceKey, uid: 5, flags, keywords: new Set(['Important']), internalDate: received, sizeBytes: content.length, virtualSizeBytes: content.length + 3 }, { uidValidity: 1700000000, nextUid: 6 });
    expect(placed.name).toBe(`${prefix}/cur/${written}`);
    expect(folder.formatUidlist()).toBe(await readFile(path.join(root, 'dovecot-uidlist'), 'utf8'));
    expect(folder.formatKeywords()).toBe(await readFile(path.join(root, 'dovecot-keywords'), 'utf8'));
  });
});

describe("a folder's dovecot-uidlist in the archive", () => {
  it("keeps the source's UIDVALIDITY, UIDNEXT and UIDs, records sorted by UID and naming the base", () => {
    const folder = new ExportFolder(prefix, 'INBOX');
    const source = { uidValidity: 1234567, nextUid: 40 };
    const late = folder.place(message(30), source);
    const early = folder.place(message(4), source);
    const list = parseUidlist(folder.formatUidlist()!);
    expect(list.uidValidity).toBe(1234567);
    expect(list.nextUid).toBe(40);
    expect(list.records.map((r) => r.uid)).toEqual([4, 30]);
    expect(list.records.map((r) => r.fileName)).toEqual([early.name, late.name].map((name) => path.posix.basename(name).split(':')[0]));
    expect(folder.formatUidlist()!.split('\n')[0]).toBe('3 V1234567 N40');
  });

  it('gives the messages of a second source folder mapped to the same folder new UIDs above the first one’s', () => {
    const folder = new ExportFolder(prefix, 'Archive');
    folder.place(message(1), { uidValidity: 100, nextUid: 3 });
    folder.place(message(2), { uidValidity: 100, nextUid: 3 });
    const other = folder.place(message(1), { uidValidity: 200, nextUid: 2 });
    expect(other.uid).toBe(3);
    expect(folder.renumbered).toBe(1);
    expect(parseUidlist(folder.formatUidlist()!).nextUid).toBe(4);
  });

  it('numbers messages from 1 under a UIDVALIDITY of its own when the store has no UIDs', () => {
    const folder = new ExportFolder(prefix, 'INBOX', () => new Date(1_700_000_123_000));
    expect(folder.place(message(1, { uid: undefined }) as ExportedMessage, undefined).uid).toBe(1);
    expect(folder.formatUidlist()!.split('\n')[0]).toBe('3 V1700000123 N2');
  });

  it('is left out for a folder without messages, as is dovecot-keywords without keywords', () => {
    const folder = new ExportFolder(prefix, 'Empty');
    expect(folder.formatUidlist()).toBeUndefined();
    expect(folder.formatKeywords()).toBeUndefined();
  });

  it('lists the keyword letters it gave in dovecot-keywords', () => {
    const folder = new ExportFolder(prefix, 'INBOX');
    folder.place(message(1, { keywords: new Set(['Work']) }), undefined);
    folder.place(message(2, { keywords: new Set(['Home', 'Work']) }), undefined);
    expect([...parseDovecotKeywords(folder.formatKeywords()!)]).toEqual([
      [0, 'Work'],
      [1, 'Home'],
    ]);
  });
});

describe("the mailbox's subscriptions", () => {
  it('subscribes every exported folder but INBOX, under the name its directory decodes to', () => {
    const text = formatExportSubscriptions(['INBOX', 'Sent', 'Work/Projects', 'Café'])!;
    expect(text.startsWith('V\t2\n\n')).toBe(true);
    expect(parseSubscriptions(text).sort()).toEqual(['Café', 'Sent', 'Work/Projects']);
  });

  it('is left out when there is only INBOX', () => {
    expect(formatExportSubscriptions(['INBOX'])).toBeUndefined();
  });
});
