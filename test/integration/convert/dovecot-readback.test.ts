import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDoveadm, type Doveadm, type DovecotMessage } from '../../support/dovecot.js';
import { runCli } from '../../e2e/cli.js';

/**
 * The definition of a correct conversion: a real Dovecot serves the converted maildir back with the messages,
 * flags, keywords, dates and UIDs the source mbox carried.
 */
const fixtures = path.resolve(import.meta.dirname, '../../../fixtures/mbox');
let work: string;
let doveadm: Doveadm;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'mailshift-dovecot-'));
  doveadm = await createDoveadm({ separator: '/' });
});
afterAll(async () => {
  await doveadm?.close();
  await rm(work, { recursive: true, force: true });
});

async function convertAndRead(fixture: string): Promise<{ messages: DovecotMessage[]; status: Record<string, { messages: number; uidValidity: number; uidNext: number }>; mailboxes: string[] }> {
  const target = path.join(work, fixture.replace(/\W/g, '_'));
  const result = await runCli(['convert', path.join(fixtures, fixture), target]);
  expect(result.code, result.stderr).toBe(0);
  const reader = await doveadm.openMaildir(target);
  return { messages: await reader.readMessages({ hashes: true }), status: await reader.mailboxStatus(), mailboxes: await reader.listMailboxes() };
}

const summary = (m: DovecotMessage) => ({ uid: m.uid, flags: m.flags, keywords: m.keywords, received: new Date(m.receivedUnix * 1000).toISOString(), messageId: m.messageId });

describe('Dovecot reads converted mail back', () => {
  it('a Dovecot spool: UIDVALIDITY, UIDs, flags, keywords and received dates as the mbox had them', async () => {
    const { messages, status } = await convertAndRead('spool/dovecot-inbox');
    expect(status.INBOX).toEqual({ messages: 4, uidValidity: 1583323200, uidNext: 14 });
    expect(messages.map(summary)).toEqual([
      { uid: 7, flags: ['\\Answered', '\\Seen'], keywords: ['Work'], received: '2020-03-04T12:30:00.000Z', messageId: '<spool-1@example.com>' },
      { uid: 9, flags: ['\\Draft', '\\Flagged'], keywords: ['$Label1', 'Work'], received: '2020-03-05T08:00:00.000Z', messageId: '<spool-2@example.com>' },
      { uid: 12, flags: ['\\Deleted'], keywords: [], received: '2020-03-06T09:00:00.000Z', messageId: '<spool-3@example.com>' },
      { uid: 13, flags: [], keywords: [], received: '2020-03-07T10:00:00.000Z', messageId: '<spool-4@example.com>' },
    ]);
  });

  it('a cPanel mbox account: every folder with its messages, names with dots and umlauts intact', async () => {
    const { status, mailboxes, messages } = await convertAndRead('sample-account');
    // The literal dot of "v1.2 release" is stored as U+2024 (see converters/folders/maildirpp.ts).
    expect(mailboxes).toEqual(expect.arrayContaining(['INBOX', 'Entwürfe', 'Work/Projects', 'Work/v1\u20242 release', 'sent-mail']));
    expect(Object.fromEntries(Object.entries(status).map(([name, s]) => [name, s.messages]))).toEqual({
      INBOX: 4,
      Entwürfe: 1,
      'Work/Projects': 2,
      'Work/v1\u20242 release': 1,
      'sent-mail': 1,
    });
    expect(status.INBOX!.uidValidity).toBe(1590998400);
    expect(messages.filter((m) => m.mailbox === 'INBOX').map((m) => [m.uid, m.flags])).toEqual([
      [1, ['\\Seen']],
      [2, ['\\Answered', '\\Flagged', '\\Seen']],
      [4, []],
      [5, []],
    ]);
    expect(messages.find((m) => m.mailbox === 'Entwürfe')!.flags).toEqual(['\\Draft', '\\Seen']);
  });

  it('a Thunderbird profile: nested folders, Thunderbird flags and tags', async () => {
    const { messages, mailboxes } = await convertAndRead('thunderbird');
    expect(mailboxes).toEqual(expect.arrayContaining(['INBOX', 'Work', 'Work/Projects']));
    const bySubject = (id: string) => messages.find((m) => m.messageId === `<${id}>`)!;
    expect(bySubject('tb-1@example.com')).toMatchObject({ flags: ['\\Answered', '\\Seen'], keywords: ['$label1'] });
    expect(bySubject('tb-3@example.com')).toMatchObject({ flags: ['\\Flagged', '\\Seen'], keywords: ['todo'] });
    expect(bySubject('tb-6@example.com').mailbox).toBe('Work/Projects');
  });

  it('message bytes are served exactly as stored: mbox bookkeeping headers gone, the rest unchanged', async () => {
    const target = path.join(work, 'bytes');
    expect((await runCli(['convert', path.join(fixtures, 'variants/mboxcl2.mbox'), target])).code).toBe(0);
    const reader = await doveadm.openMaildir(target);
    const [first] = await reader.readMessages();
    const text = (await reader.fetchText('INBOX', first!.uid)).toString('latin1').replace(/\r\n/g, '\n');
    expect(text).toBe('Subject: mboxcl2 one\nMessage-ID: <cl2-1@example.com>\n\nBody of the first message.\nFrom mallory@example.com Wed Jan  8 11:00:00 2020\nstill the first message\n');
  });
});
