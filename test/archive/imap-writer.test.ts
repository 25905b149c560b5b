import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ImapRestoreWriter, type ImapRestoreWriterOptions } from '../../src/archive/imap-writer.js';
import { silentLogger } from '../../src/core/logger.js';
import type { MailboxPath } from '../../src/core/types.js';
import { withDryRun } from '../../src/stores/dry-run.js';
import type { FlagUpdate, FlagUpdateMode, FlagUpdateOutcome, MailStore } from '../../src/stores/store.js';
import { MemoryMail, MemoryStore } from '../support/memory-store.js';
import { wrapMailboxes } from '../support/wrapped-store.js';

/**
 * The IMAP restore writer against the in-memory store (the store interface is all it sees): what it appends, what it
 * pairs with what the target has, how it settles an append whose answer was lost, and the late keywords. The same
 * writer against a real Dovecot: test/integration/archive/restore-imap.test.ts.
 */

const body = (text: string) => Readable.from([Buffer.from(text)]);
const msg = (id: string, subject = id) => `Message-ID: <${id}@example.com>\nFrom: a@example.com\nSubject: ${subject}\n\nbody of ${id}\n`;

async function openWriter(store: MailStore, options: Partial<ImapRestoreWriterOptions> = {}): Promise<ImapRestoreWriter> {
  return ImapRestoreWriter.open({ store, label: 'imaps://alice@new.example', mapping: {}, skipExisting: true, dryRun: false, logger: silentLogger, retryBaseMs: 1, settleDelayMs: 0, ...options });
}

/** Ends a writer as restore.ts does: flush, control files, then close. */
async function finish(writer: ImapRestoreWriter): Promise<void> {
  await writer.flush();
  await writer.settleControlFiles();
  await writer.close({ sendPending: true });
}

function messageIds(mail: MemoryMail, path: MailboxPath): string[] {
  return (mail.folders.get(path)?.messages ?? []).map((m) => /Message-ID: <([^@]+)@/.exec(m.content.toString())?.[1] ?? '?').sort();
}

describe('ImapRestoreWriter', () => {
  it('appends each message into the folder its maildir++ name maps to, with the flags of its file name and its mtime as date', async () => {
    const mail = new MemoryMail();
    const writer = await openWriter(new MemoryStore(mail));
    await writer.writeMessage('', 'cur', '1700000001.M1P1.host:2,FS', body(msg('m1')), 1700000001.25);
    await writer.writeMessage('.Sent', 'cur', '1700000004.M4P1.host:2,S', body(msg('m4')), 1700000004);
    await writer.writeMessage('', 'new', '1700000003.M3P1.host', body(msg('m3')), 1700000003.75);
    await finish(writer);
    const inbox = mail.folders.get('INBOX')!.messages;
    expect(inbox.map((m) => [[...m.flags].sort(), m.internalDate.getTime()])).toEqual([
      [['\\Flagged', '\\Seen'], 1700000001000],
      [[], 1700000003000],
    ]);
    expect(messageIds(mail, 'Sent')).toEqual(['m4']);
    // IMAP carries CRLF: the message goes as the server will store it.
    expect(inbox[0]!.content.toString()).toContain('\r\n\r\nbody of m1\r\n');
    expect(writer.mapping).toEqual([
      { action: 'copy', source: 'INBOX', target: 'INBOX', reason: 'INBOX' },
      { action: 'copy', source: 'Sent', target: 'Sent', reason: 'SPECIAL-USE \\Sent' },
    ]);
  });

  it('counts identical messages: two in the backup and one on the target append one, and a second run appends none', async () => {
    const mail = new MemoryMail();
    await (await new MemoryStore(mail).openMailbox('INBOX', 'write')).append({ content: Buffer.from(msg('twin')), flags: new Set(), keywords: new Set() });
    for (const run of [1, 2]) {
      const writer = await openWriter(new MemoryStore(mail));
      await writer.writeMessage('', 'cur', 'a:2,S', body(msg('twin')), 1);
      await writer.writeMessage('', 'cur', 'b:2,S', body(msg('twin')), 1);
      await writer.writeMessage('', 'cur', 'c:2,S', body(msg('single')), 1);
      await finish(writer);
      const [inbox] = writer.folders;
      expect(inbox, `run ${run}`).toMatchObject(run === 1 ? { examined: 3, copied: 2, alreadyPresent: 1 } : { examined: 3, copied: 0, alreadyPresent: 3 });
    }
    expect(messageIds(mail, 'INBOX')).toEqual(['single', 'twin', 'twin']);
  });

  it('sets keywords by UID after the pass when the folder\'s dovecot-keywords came after its messages', async () => {
    const mail = new MemoryMail();
    const updates: { mode: FlagUpdateMode; updates: readonly FlagUpdate[] }[] = [];
    const store = flagRecordingStore(new MemoryStore(mail), updates);
    // One APPEND per message: the memory store says the UID of a single append only (as IMAP's APPENDUID would).
    const writer = await openWriter(store, { batchMessages: 1 });
    await writer.writeMessage('', 'cur', 'early:2,Sa', body(msg('early')), 1);
    await writer.stageControlFile('', 'dovecot-keywords', body('0 $Important\n1 project\n'));
    await writer.writeMessage('', 'cur', 'late:2,Sb', body(msg('late')), 1);
    await finish(writer);
    // The later message carried its keyword in the APPEND; the earlier one gets it by UID.
    expect([...mail.folders.get('INBOX')!.messages[1]!.keywords]).toEqual(['project']);
    expect(updates).toEqual([{ mode: 'merge', updates: [{ sourceKey: '', targetUid: 1, flags: new Set(), keywords: new Set(['$Important']) }] }]);
  });

  it('says which keywords it could not set, never drops them silently', async () => {
    const writer = await openWriter(new MemoryStore(new MemoryMail()));
    await writer.writeMessage('', 'cur', 'x:2,Sa', body(msg('x')), 1);
    await writer.writeMessage('.Work', 'cur', 'y:2,Sc', body(msg('y')), 1);
    await writer.stageControlFile('', 'dovecot-keywords', body('0 $Important\n'));
    await finish(writer);
    expect(writer.warnings).toEqual([
      "Work: 1 keyword letter(s) in file names that the backup's dovecot-keywords does not name; those keywords are not set",
      'INBOX: keywords of 1 message(s) not set: the target cannot store flags by UID',
    ]);
  });

  it('skips and lists a message over --max-size, and appends nothing in a dry run', async () => {
    const mail = new MemoryMail();
    const writer = await openWriter(withDryRun(new MemoryStore(mail)), { maxSizeBytes: 100, dryRun: true });
    await writer.writeMessage('', 'cur', 'big:2,S', body(msg('big', 'x'.repeat(200))), 1, 300);
    await writer.writeMessage('', 'cur', 'small:2,S', body(msg('small')), 1, 80);
    await finish(writer);
    expect(writer.folders[0]).toMatchObject({ examined: 2, copied: 1, skipped: [{ id: 'big:2,S', reason: 'larger than --max-size (300 bytes)' }] });
    expect(mail.folders.size).toBe(0);
  });

  it('says when a later folder lands where an earlier one took its role (the stream cannot know what comes later)', async () => {
    const mail = new MemoryMail();
    mail.folder('Sent', true);
    const writer = await openWriter(new MemoryStore(mail));
    await writer.writeMessage('.Sent Messages', 'cur', 'a:2,S', body(msg('a')), 1);
    await writer.writeMessage('.Sent', 'cur', 'b:2,S', body(msg('b')), 1);
    await finish(writer);
    expect(writer.mapping.map((row) => (row.action === 'copy' ? `${row.source} -> ${row.target}: ${row.reason}` : row.source))).toEqual([
      'Sent Messages -> Sent: SPECIAL-USE \\Sent',
      'Sent -> Sent: same name; shares the target folder with Sent Messages, which came first in the backup',
    ]);
    expect(writer.warnings).toEqual(['Sent and Sent Messages both go to the target folder Sent']);
    expect(messageIds(mail, 'Sent')).toEqual(['a', 'b']);
  });

  it('copies a hard link into another folder from the bytes its first copy has on the target', async () => {
    const mail = new MemoryMail();
    const writer = await openWriter(new MemoryStore(mail));
    await writer.writeMessage('', 'cur', 'linked:2,S', body(msg('linked')), 5);
    const from = writer.findMessage('', 'linked:2,S');
    expect(from).toBeDefined();
    expect(await writer.linkMessage('.Archive', 'cur', 'linked:2,S', from!, 5)).toBe('linked');
    await finish(writer);
    expect(messageIds(mail, 'Archive')).toEqual(['linked']);
    expect(messageIds(mail, 'INBOX')).toEqual(['linked']);
  });
});

/** A store that takes flag updates by UID, as IMAP does, and records them. */
function flagRecordingStore(inner: MailStore, updates: { mode: FlagUpdateMode; updates: readonly FlagUpdate[] }[]): MailStore {
  return wrapMailboxes(inner, () => ({
    updateFlags: async (given: readonly FlagUpdate[], mode: FlagUpdateMode): Promise<FlagUpdateOutcome> => {
      updates.push({ mode, updates: given });
      return { differences: given.length, applied: given.length, notFound: 0, changedMeanwhile: 0 };
    },
  }));
}
