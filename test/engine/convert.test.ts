import { createHash } from 'node:crypto';
import { cpSync, rmSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, existsSync, lstatSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runConvert, type ConvertOptions } from '../../src/engine/convert.js';
import { silentLogger } from '../../src/core/logger.js';
import { MailshiftError } from '../../src/core/errors.js';
import { gzipSync } from 'node:zlib';
import { buildWriterMessages, writeMailutils, writeMbox, writeB4, writeGitFormatPatch, writeMboxcl2WithCrlfLengths, writeOldThunderbird, writePipermailArchive } from '../support/mbox-writers.js';

const fixtures = path.resolve(import.meta.dirname, '../../fixtures/mbox');
let work: string;

beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'mailshift-convert-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

function convert(source: string, target: string, options: Partial<ConvertOptions> = {}) {
  return runConvert({ source, target, dryRun: false, maxBad: 0, gmailLabels: 'folders', variant: 'auto', logger: silentLogger, ...options });
}

interface StoredMessage {
  sub: 'new' | 'cur';
  name: string;
  base: string;
  info: string | undefined;
  content: string;
  mtimeSecs: number;
}

function readFolder(dir: string): StoredMessage[] {
  const messages: StoredMessage[] = [];
  for (const sub of ['new', 'cur'] as const) {
    for (const name of readdirSync(path.join(dir, sub)).sort()) {
      const file = path.join(dir, sub, name);
      const [base, info] = name.split(':2,');
      messages.push({ sub, name, base: base!, info, content: readFileSync(file, 'latin1'), mtimeSecs: Math.floor(statSync(file).mtimeMs / 1000) });
    }
  }
  return messages.sort((a, b) => a.mtimeSecs - b.mtimeSecs);
}

const bySubject = (messages: StoredMessage[], subject: string) => {
  const found = messages.find((m) => m.content.includes(`Subject: ${subject}\n`));
  if (!found) throw new Error(`no message with subject ${subject}`);
  return found;
};

function treeDigest(dir: string): string {
  const hash = createHash('sha256');
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const full = path.join(at, name);
      const stat = lstatSync(full);
      hash.update(`${path.relative(dir, full)}|${stat.mode}|${stat.mtimeMs}|${stat.size}\n`);
      if (stat.isDirectory()) walk(full);
      else if (stat.isFile()) hash.update(readFileSync(full));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

describe('runConvert: variants', () => {
  it('stores mboxrd messages with one level of ">From " quoting removed', async () => {
    await convert(path.join(fixtures, 'variants/mboxrd.mbox'), path.join(work, 'out'));
    const [first] = readFolder(path.join(work, 'out'));
    expect(first!.content).toBe('Subject: mboxrd one\nMessage-ID: <mboxrd-1@example.com>\n\nFrom the start of a line, escaped once.\n>From an already quoted line, escaped again.\nPlain line.\n');
  });

  it('keeps an mboxcl2 body whole and removes its Content-Length header', async () => {
    const report = await convert(path.join(fixtures, 'variants/mboxcl2.mbox'), path.join(work, 'out'));
    expect(report.totals.messages).toBe(2);
    const first = bySubject(readFolder(path.join(work, 'out')), 'mboxcl2 one');
    expect(first.content).toBe('Subject: mboxcl2 one\nMessage-ID: <cl2-1@example.com>\n\nBody of the first message.\nFrom mallory@example.com Wed Jan  8 11:00:00 2020\nstill the first message\n');
  });

  it('converts CRLF files to LF, and reads .gz sources', async () => {
    await convert(path.join(fixtures, 'variants/crlf.mbox'), path.join(work, 'crlf'));
    for (const message of readFolder(path.join(work, 'crlf'))) expect(message.content).not.toContain('\r');
    const report = await convert(path.join(fixtures, 'variants/archive.mbox.gz'), path.join(work, 'gz'));
    expect(report.totals.messages).toBe(2);
    expect(bySubject(readFolder(path.join(work, 'gz')), 'gzipped one').content).toContain('Inside a .gz.\n');
  });

  // Regression: the reader's rewind (a Content-Length that does not end at a message boundary) also dropped the
  // messages framed before it that were still waiting for their digest from the writer thread.
  it('keeps every message before a wrong Content-Length late in a file', async () => {
    const before = Array.from({ length: 400 }, (_, i) => `From a@example.com Mon Jan  6 10:00:00 2020\nSubject: before ${i}\n\nbody ${i}\n`);
    const wrong = 'From b@example.com Mon Jan  6 11:00:00 2020\nSubject: wrong length\nContent-Length: 3\n\nlonger than three bytes\n';
    const after = Array.from({ length: 5 }, (_, i) => `From c@example.com Mon Jan  6 12:00:00 2020\nSubject: after ${i}\n\nbody ${i}\n`);
    const file = path.join(work, 'late-rewind.mbox');
    writeFileSync(file, [...before, wrong, ...after].join('\n'));
    const report = await convert(file, path.join(work, 'out'));
    expect(report.totals.messages).toBe(406);
    const subjects = readFolder(path.join(work, 'out')).map((m) => /Subject: (.*)\n/.exec(m.content)![1]);
    expect(new Set(subjects).size).toBe(406);
    expect(bySubject(readFolder(path.join(work, 'out')), 'wrong length').content).toBe('Subject: wrong length\n\nlonger than three bytes\n');
  });

  it('names files with their exact size (S=) and CRLF size (W=)', async () => {
    await convert(path.join(fixtures, 'variants/mboxo.mbox'), path.join(work, 'out'));
    for (const message of readFolder(path.join(work, 'out'))) {
      const size = Buffer.byteLength(message.content, 'latin1');
      const lines = message.content.split('\n').length - 1;
      expect(message.base).toMatch(new RegExp(`,S=${size},W=${size + lines}$`));
    }
  });
});

describe('runConvert: a Dovecot / UW-IMAP spool', () => {
  it('drops the FOLDER INTERNAL DATA message and keeps flags, keywords, dates and UIDs', async () => {
    const target = path.join(work, 'out');
    const report = await convert(path.join(fixtures, 'spool/dovecot-inbox'), target);
    expect(report.totals).toMatchObject({ messages: 4, pseudoMessagesSkipped: 1, skipped: 0 });
    expect(report.folders[0]).toMatchObject({ mailbox: 'INBOX', uidValidity: 1583323200, uids: 'kept' });
    const messages = readFolder(target);
    const keywords = readFileSync(path.join(target, 'dovecot-keywords'), 'utf8');
    const letter = (name: string) => String.fromCharCode(97 + Number(keywords.split('\n').find((l) => l.endsWith(` ${name}`))!.split(' ')[0]));
    const seven = bySubject(messages, 'seen and answered, keyword Work');
    expect([seven.sub, seven.info]).toEqual(['cur', `RS${letter('Work')}`]);
    const nine = bySubject(messages, 'flagged draft, two keywords');
    expect([nine.sub, nine.info]).toEqual(['cur', `DF${[letter('$Label1'), letter('Work')].sort().join('')}`]);
    const twelve = bySubject(messages, 'unread, deleted');
    expect([twelve.sub, twelve.info]).toEqual(['cur', 'T']);
    const latest = bySubject(messages, 'arrived after the last Dovecot session, no X-UID');
    expect([latest.sub, latest.info]).toEqual(['new', undefined]);
    expect(seven.mtimeSecs).toBe(Date.UTC(2020, 2, 4, 12, 30) / 1000);
    for (const message of messages) expect(message.content).not.toMatch(/^(Status|X-Status|X-Keywords|X-UID|X-IMAP|X-IMAPbase|Content-Length):/im);
    const uidlist = readFileSync(path.join(target, 'dovecot-uidlist'), 'utf8').split('\n');
    expect(uidlist[0]).toBe('3 V1583323200 N14');
    const uidOf = (m: StoredMessage) => Number(uidlist.find((line) => line.includes(m.base))!.split(' ')[0]);
    expect([seven, nine, twelve, latest].map(uidOf)).toEqual([7, 9, 12, 13]);
  });
});

describe('runConvert: folder trees', () => {
  it('turns a Thunderbird profile into Maildir++ folders and ignores its .msf indexes', async () => {
    const target = path.join(work, 'out');
    const report = await convert(path.join(fixtures, 'thunderbird'), target);
    expect(report.folders.map((f) => [f.mailbox, f.messages])).toEqual([['INBOX', 4], ['Work', 1], ['Work/Projects', 1]]);
    expect(report.ignored.map((i) => i.path).sort()).toEqual(['Inbox.msf', 'Work.msf', 'Work.sbd/Projects.msf']);
    const inbox = readFolder(target);
    expect(bySubject(inbox, 'read and replied').info).toBe('RSa');
    expect(bySubject(inbox, 'new, unread').sub).toBe('new');
    // 0x1005 = read + marked + forwarded; X-Mozilla-Keys "todo" is the second keyword of the folder ('b').
    expect(readFileSync(path.join(target, 'dovecot-keywords'), 'utf8')).toBe('0 $label1\n1 todo\n');
    expect(bySubject(inbox, 'starred and forwarded').info).toBe('FPSb');
    expect(bySubject(inbox, 'expunged, not compacted').info).toBe('ST');
    expect(readFolder(path.join(target, '.Work.Projects'))).toHaveLength(1);
    expect(existsSync(path.join(target, '.Work.Projects', 'maildirfolder'))).toBe(true);
    for (const message of inbox) expect(message.content).not.toMatch(/^X-Mozilla-/im);
  });

  it('converts a cPanel mbox account: dotted and non-ASCII names, subscriptions, hidden index dirs skipped', async () => {
    const target = path.join(work, 'out');
    const report = await convert(path.join(fixtures, 'sample-account'), target);
    expect(report.folders.map((f) => f.mailbox)).toEqual(['Entwürfe', 'INBOX', 'Work/Projects', 'Work/v1.2 release', 'sent-mail']);
    expect(readdirSync(target).filter((name) => name.startsWith('.')).sort()).toEqual(['.Entw&APw-rfe', '.Work.Projects', '.Work.v1&ICQ-2 release', '.sent-mail']);
    expect(readFileSync(path.join(target, 'subscriptions'), 'utf8')).toBe('V\t2\n\nEntwürfe\nWork\tProjects\nWork\tv1\u20242 release\nsent-mail\n');
    expect(report.ignored.map((i) => i.path)).toEqual(['.imap']);
    expect(report.folders.find((f) => f.mailbox === 'INBOX')).toMatchObject({ messages: 4, uidValidity: 1590998400, uids: 'kept' });
    expect(report.folders.find((f) => f.mailbox === 'sent-mail')).toMatchObject({ messages: 1, uids: 'new' });
  });

  it('never merges two source folders into one directory, even when their stored names coincide', async () => {
    const source = path.join(work, 'src');
    mkdirSync(source);
    writeFileSync(path.join(source, 'v1.2'), 'From a@b Mon Jan  6 09:15:00 2020\nSubject: dot\n\nx\n');
    writeFileSync(path.join(source, 'v1\u20242'), 'From a@b Mon Jan  6 09:15:00 2020\nSubject: leader\n\ny\n');
    const target = path.join(work, 'out');
    const report = await convert(source, target);
    expect(report.folders.map((f) => [f.mailbox, f.messages])).toEqual([['v1.2', 1], ['v1\u20242 (2)', 1]]);
    expect(report.warnings.join('\n')).toMatch(/written as v1\u20242 \(2\)/);
    expect(readdirSync(target).filter((n) => n.startsWith('.')).sort()).toEqual(['.v1&ICQ-2', '.v1&ICQ-2 (2)']);
  });

  it('files Gmail Takeout mail by label, one hard-linked copy per label folder', async () => {
    const target = path.join(work, 'out');
    const report = await convert(path.join(fixtures, 'gmail'), target);
    expect(Object.fromEntries(report.folders.map((f) => [f.mailbox, f.messages]))).toEqual({
      Archive: 1,
      'Clients/ACME': 1,
      INBOX: 2,
      Junk: 1,
      Sent: 1,
      'Work, old': 1,
    });
    const inboxCopy = bySubject(readFolder(target), 'in inbox and a label with a comma');
    const labelCopy = bySubject(readFolder(path.join(target, '.Work, old')), 'in inbox and a label with a comma');
    expect(labelCopy.base).toBe(inboxCopy.base);
    expect(statSync(path.join(target, '.Work, old', labelCopy.sub, labelCopy.name)).nlink).toBe(2);
    expect(bySubject(readFolder(target), 'starred nested label').info).toBe('F');
    expect(bySubject(readFolder(path.join(target, '.Archive')), 'archived, unread').info).toBe('');
  });

  it('a label that routes mail into a folder finished earlier in the run adds to it: every message once, one UID each', async () => {
    const source = path.join(work, 'tree');
    mkdirSync(source);
    // "Archive" is read (and finished) before "Takeout", whose message carries the label Archive.
    writeFileSync(path.join(source, 'Archive'), 'From a@example.org Mon Jan  1 10:00:00 2024\nSubject: own\n\nown\n');
    writeFileSync(
      path.join(source, 'Takeout'),
      'From b@example.org Tue Jan  2 10:00:00 2024\nX-Gmail-Labels: Archive\nSubject: labelled\n\nlabelled\n' +
        'From c@example.org Wed Jan  3 10:00:00 2024\nX-Gmail-Labels: Archive,Opened\nSubject: labelled too\n\ntoo\n',
    );
    const target = path.join(work, 'out');
    const report = await convert(source, target);
    expect(report.folders.find((f) => f.mailbox === 'Archive')?.messages).toBe(3);
    const archive = path.join(target, '.Archive');
    expect(readFolder(archive).map((m) => m.content.match(/Subject: (.*)\n/)?.[1]).sort()).toEqual(['labelled', 'labelled too', 'own']);
    const records = readFileSync(path.join(archive, 'dovecot-uidlist'), 'utf8').trim().split('\n').slice(1);
    expect(records.map((line) => Number(line.split(' ')[0]))).toEqual([1, 2, 3]);
    const again = await convert(source, target);
    expect(again.totals).toMatchObject({ messages: 0, alreadyPresent: 3 });
  });

  it('keeps a single copy per message with --gmail-labels single', async () => {
    const report = await convert(path.join(fixtures, 'gmail'), path.join(work, 'out'), { gmailLabels: 'single' });
    expect(report.totals.messages).toBe(5);
  });
});

describe('runConvert: safe to re-run', () => {
  it('adds nothing the second time, even after a message changed its flags in the source', async () => {
    const source = path.join(work, 'inbox');
    cpSync(path.join(fixtures, 'spool/dovecot-inbox'), source);
    const target = path.join(work, 'out');
    await convert(source, target);
    writeFileSync(source, readFileSync(source, 'latin1').replace('X-Status: FT', 'X-Status: AFT'), 'latin1');
    const again = await convert(source, target);
    expect(again.totals).toMatchObject({ messages: 0, alreadyPresent: 4 });
    expect(again.folders[0]).toMatchObject({ uids: 'unchanged', uidValidity: 1583323200 });
    expect(readFolder(target)).toHaveLength(4);
  });

  it('keeps both copies of a message that appears twice in the same file', async () => {
    const message = 'From a@b Mon Jan  6 09:15:00 2020\nSubject: twin\n\nsame\n\n';
    writeFileSync(path.join(work, 'twins'), message + message);
    const report = await convert(path.join(work, 'twins'), path.join(work, 'out'));
    expect(report.totals.messages).toBe(2);
    expect((await convert(path.join(work, 'twins'), path.join(work, 'out'))).totals.messages).toBe(0);
  });

  it('finishes a run that died half way: leftovers in tmp/ removed, every message once, all UIDs listed', async () => {
    const source = path.join(fixtures, 'spool/dovecot-inbox');
    const target = path.join(work, 'out');
    await convert(source, target);
    // Simulate a kill -9 after two messages were renamed into place but before the folder was finished.
    const messages = readFolder(target);
    for (const message of messages.slice(2)) await rm(path.join(target, message.sub, message.name));
    await rm(path.join(target, 'dovecot-uidlist'));
    writeFileSync(path.join(target, 'tmp', 'mailshift-tmp.999999.1'), 'half a message');
    const report = await convert(source, target);
    expect(report.totals).toMatchObject({ messages: 2, alreadyPresent: 2 });
    expect(readdirSync(path.join(target, 'tmp'))).toEqual([]);
    expect(readFolder(target).map((m) => m.name).sort()).toEqual(messages.map((m) => m.name).sort());
    expect(readFileSync(path.join(target, 'dovecot-uidlist'), 'utf8').trim().split('\n')).toHaveLength(5);
  });

  it('never touches mail already in the target, and says when source UIDs cannot be kept', async () => {
    const target = path.join(work, 'out');
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(target, sub), { recursive: true });
    const foreign = path.join(target, 'cur', '1600000000.M1P1.other:2,S');
    writeFileSync(foreign, 'Subject: already here\n\nkeep me\n');
    writeFileSync(path.join(target, 'dovecot-uidlist'), '3 V42 N2\n1 :1600000000.M1P1.other:2,S\n');
    const before = treeDigest(target);
    const report = await convert(path.join(fixtures, 'spool/dovecot-inbox'), target);
    expect(readFileSync(foreign, 'utf8')).toBe('Subject: already here\n\nkeep me\n');
    expect(report.folders[0]).toMatchObject({ uidValidity: 42, uids: 'renumbered' });
    expect(report.folders[0]!.note).toMatch(/already has UIDVALIDITY 42/);
    const uidlist = readFileSync(path.join(target, 'dovecot-uidlist'), 'utf8').split('\n');
    expect(uidlist[0]).toBe('3 V42 N6');
    expect(uidlist[1]).toBe('1 :1600000000.M1P1.other:2,S');
    expect(before).not.toBe(treeDigest(target));
  });
});

describe('runConvert: hostile and bad input', () => {
  it('never follows a symlink in the source, and never modifies the source', async () => {
    const source = path.join(work, 'src');
    cpSync(path.join(fixtures, 'sample-account'), source, { recursive: true });
    const outside = path.join(work, 'outside-secret');
    writeFileSync(outside, 'From x@y Mon Jan  6 09:15:00 2020\nSubject: secret\n\nnot yours\n');
    symlinkSync(outside, path.join(source, 'linked-folder'));
    symlinkSync('/etc', path.join(source, 'etc-link'));
    const before = treeDigest(source);
    const report = await convert(source, path.join(work, 'out'));
    expect(report.ignored).toEqual(expect.arrayContaining([
      { path: 'linked-folder', reason: 'symbolic link, not followed' },
      { path: 'etc-link', reason: 'symbolic link, not followed' },
    ]));
    expect(report.folders.map((f) => f.mailbox)).not.toContain('linked-folder');
    expect(treeDigest(source)).toBe(before);
  });

  it('writes into a target root that is itself a link (the root the user names is trusted)', async () => {
    mkdirSync(path.join(work, 'real'));
    symlinkSync(path.join(work, 'real'), path.join(work, 'Maildir'));
    const report = await convert(path.join(fixtures, 'spool/dovecot-inbox'), path.join(work, 'Maildir'));
    expect(report.totals.messages).toBe(4);
    expect(readFolder(path.join(work, 'real'))).toHaveLength(4);
  });

  it('refuses to write through a folder directory that is a symlink in the target', async () => {
    const target = path.join(work, 'out');
    mkdirSync(target);
    mkdirSync(path.join(work, 'elsewhere'));
    symlinkSync(path.join(work, 'elsewhere'), path.join(target, '.Work.Projects'));
    await expect(convert(path.join(fixtures, 'thunderbird'), target)).rejects.toMatchObject({ code: 'MAILSHIFT_UNSAFE_TARGET' });
    expect(readdirSync(path.join(work, 'elsewhere'))).toEqual([]);
  });

  it('skips a folder whose name holds control characters, and reports it', async () => {
    const source = path.join(work, 'src');
    mkdirSync(source);
    writeFileSync(path.join(source, 'bad\u0007name'), 'From a@b Mon Jan  6 09:15:00 2020\n\nx\n');
    const report = await convert(source, path.join(work, 'out'), { maxBad: 1 });
    expect(report.skipped).toEqual([{ file: 'bad\u0007name', offset: 0, reason: expect.stringMatching(/control characters/) }]);
  });

  it('stops at the first unconvertible message by default, listing file, offset and reason', async () => {
    const report = await convert(path.join(fixtures, 'bad/truncated.mbox'), path.join(work, 'out'));
    const offset = readFileSync(path.join(fixtures, 'bad/truncated.mbox'), 'latin1').indexOf('From bob');
    expect(report.stopped?.reason).toMatch(/more than --max-bad 0/);
    expect(report.skipped).toEqual([{ file: 'truncated.mbox', offset, reason: expect.stringMatching(/truncated message/) }]);
    expect(report.totals.messages).toBe(1);
  });

  it('skips within --max-bad and converts the rest', async () => {
    const report = await convert(path.join(fixtures, 'bad/truncated.mbox'), path.join(work, 'out'), { maxBad: 1 });
    expect(report.stopped).toBeUndefined();
    expect(report.skipped).toHaveLength(1);
  });

  it('counts text before the first message as a skipped item', async () => {
    const report = await convert(path.join(fixtures, 'bad/garbage-before-first-message.mbox'), path.join(work, 'out'), { maxBad: 1 });
    expect(report.skipped[0]).toMatchObject({ offset: 0, reason: expect.stringMatching(/before the first "From " line/) });
    expect(report.totals.messages).toBe(1);
  });

  it('converts NUL bytes, invalid 8-bit headers and an empty file without complaint', async () => {
    for (const name of ['nul-bytes.mbox', 'invalid-8bit-headers.mbox']) {
      const report = await convert(path.join(fixtures, 'bad', name), path.join(work, name));
      expect(report.totals.messages, name).toBe(1);
    }
    const empty = await convert(path.join(fixtures, 'bad/empty.mbox'), path.join(work, 'empty'));
    expect(empty.totals.messages).toBe(0);
    const [stored] = readFolder(path.join(work, 'nul-bytes.mbox'));
    expect(stored!.content).toContain('before\u0000\u0000\u0000after\n');
  });

  it('refuses a maildir given as the source, pointing to mailshift copy', async () => {
    await convert(path.join(fixtures, 'spool/dovecot-inbox'), path.join(work, 'Maildir'));
    await expect(convert(path.join(work, 'Maildir'), path.join(work, 'again'))).rejects.toMatchObject({
      code: 'MAILSHIFT_SOURCE_IS_MAILDIR',
      hint: expect.stringContaining('mailshift copy'),
    });
  });

  it('refuses a single file that is not an mbox, and lists one inside a tree', async () => {
    await expect(convert(path.join(fixtures, 'bad/not-an-mbox.txt'), path.join(work, 'out'))).rejects.toBeInstanceOf(MailshiftError);
    const source = path.join(work, 'tree');
    mkdirSync(source);
    cpSync(path.join(fixtures, 'bad/not-an-mbox.txt'), path.join(source, 'letter'));
    const report = await convert(source, path.join(work, 'out2'));
    expect(report.ignored).toEqual([{ path: 'letter', reason: expect.stringMatching(/not an mbox/) }]);
  });
});

describe('runConvert: dry run', () => {
  it('reports per-folder counts and bytes and creates nothing', async () => {
    const target = path.join(work, 'never-created');
    const report = await convert(path.join(fixtures, 'thunderbird'), target, { dryRun: true });
    expect(report.folders.map((f) => [f.mailbox, f.messages])).toEqual([['INBOX', 4], ['Work', 1], ['Work/Projects', 1]]);
    expect(report.totals.bytes).toBeGreaterThan(0);
    expect(existsSync(target)).toBe(false);
  });
});

const headerOnlyMail = 'Received: from mx.example.org by host\nFrom: a@example.org\nSubject: separator lost\n\nbody\n';

describe('runConvert: files from real mbox writers', () => {
  const write = (relative: string, content: string | Buffer) => {
    const file = path.join(work, 'src', relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  };
  const mtimes = (dir: string) => readFolder(dir).map((m) => new Date(m.mtimeSecs * 1000).toISOString());

  it('does not refuse Mailman pipermail archives (.txt and .txt.gz months) as "not an mbox"', async () => {
    const january = writePipermailArchive(buildWriterMessages(3, 'jan'), { withBlankLines: false });
    write('list/2007-January.txt', january);
    write('list/2007-January.txt.gz', gzipSync(Buffer.from(january)));
    write('list/2007-February.txt.gz', gzipSync(Buffer.from(writePipermailArchive(buildWriterMessages(2, 'feb'), { withBlankLines: true }))));
    write('list/index.html', '<html></html>\n');
    const report = await convert(path.join(work, 'src'), path.join(work, 'out'));
    expect(report.ignored.map((i) => i.path)).toEqual(['list/index.html']);
    expect(report.skipped).toEqual([]);
    expect(report.folders.map((f) => [f.mailbox, f.messages, f.alreadyPresent])).toEqual([
      ['list/2007-February', 2, 0],
      ['list/2007-January', 3, 3],
    ]);
    const stored = readFolder(path.join(work, 'out', '.list.2007-January'));
    expect(stored.map((m) => /Subject: (.*)/.exec(m.content)![1])).toEqual(['jan message 0', 'jan message 1', 'jan message 2']);
    expect(bySubject(stored, 'jan message 1').content.endsWith('some text of message 1.\n')).toBe(true);
    expect(mtimes(path.join(work, 'out', '.list.2007-January'))[0]).toBe('2007-01-01T06:48:00.000Z');
  });

  it('does not lose old Thunderbird folders with bare "From " separators; their received date comes from Date:', async () => {
    const written = buildWriterMessages(3, 'tb').map((m) => ({ ...m, body: `${m.body}\nFrom here on, never escaped.\n` }));
    write('Inbox', writeOldThunderbird(written, { crlf: true, separator: 'From ' }));
    write('Inbox.msf', '// <!-- <mdb:mork:z v="1.4"/> -->\n');
    const report = await convert(path.join(work, 'src'), path.join(work, 'out'));
    expect(report.skipped).toEqual([]);
    expect(report.folders.map((f) => [f.mailbox, f.messages])).toEqual([['INBOX', 3]]);
    expect(mtimes(path.join(work, 'out'))).toEqual(['2007-01-01T06:48:00.000Z', '2007-01-02T06:48:01.000Z', '2007-01-03T06:48:02.000Z']);
    expect(readFolder(path.join(work, 'out')).map((m) => m.info)).toEqual(['S', 'S', 'S']);
    expect(bySubject(readFolder(path.join(work, 'out')), 'tb message 2').content).toContain('\n\nFrom here on, never escaped.\n');
    expect(report.warnings).toContain('Inbox: 3 message(s): the received date is taken from the Date: header (no date on the "From " line)');
  });

  it('does not pass off a folder beside its Thunderbird .msf that yields no message as a warning: it is a skipped item', async () => {
    write('Inbox', writeMbox(buildWriterMessages(1)));
    write('Trash', 'some bytes Thunderbird wrote in a form that has no separator\n'.repeat(3));
    write('Trash.msf', '// <!-- <mdb:mork:z v="1.4"/> -->\n');
    write('Lost separators', headerOnlyMail);
    write('notes', 'shopping list\n');
    write('mmdf', `\x01\x01\x01\x01\n${headerOnlyMail}\x01\x01\x01\x01\n`);
    const report = await convert(path.join(work, 'src'), path.join(work, 'out'), { maxBad: 5 });
    expect(report.skipped).toEqual([
      { file: 'Lost separators', offset: 0, reason: 'no message could be read: no "From " separator line in its first 64 KB, though it starts with mail headers' },
      { file: 'Trash', offset: 0, reason: 'no message could be read: no "From " separator line in its first 64 KB, though its Thunderbird index Trash.msf lies beside it' },
      { file: 'mmdf', offset: 0, reason: 'no message could be read: no "From " separator line in its first 64 KB, though it is an MMDF mailbox, which convert does not read' },
    ]);
    expect(report.ignored.map((i) => i.path)).toEqual(['Trash.msf', 'notes']);
    expect(report.totals.messages).toBe(1);
  });

  it('does not encode the & of a Dovecot / UW-IMAP modified UTF-7 file name again (Entw&APw-rfe is Entwürfe)', async () => {
    write('inbox', writeMbox(buildWriterMessages(1, 'in')));
    write('Entw&APw-rfe', writeMbox(buildWriterMessages(1, 'draft')));
    write('R&-D', writeMbox(buildWriterMessages(1, 'rd')));
    write('.subscriptions', 'Entw&APw-rfe\nR&-D\n');
    const report = await convert(path.join(work, 'src'), path.join(work, 'out'));
    expect(report.folders.map((f) => [f.mailbox, path.basename(f.directory)])).toEqual([['Entwürfe', '.Entw&APw-rfe'], ['INBOX', 'out'], ['R&D', '.R&-D']]);
    expect(readFileSync(path.join(work, 'out', 'subscriptions'), 'utf8').split('\n').filter((line) => line && !line.startsWith('V\t')).sort()).toEqual(['Entwürfe', 'R&D']);
    // Without a Dovecot or UW-IMAP trace only names that decode to non-ASCII text are taken as modified UTF-7.
    rmSync(path.join(work, 'src', '.subscriptions'));
    const plain = await convert(path.join(work, 'src'), path.join(work, 'out2'));
    expect(plain.folders.map((f) => f.mailbox)).toEqual(['Entwürfe', 'INBOX', 'R&-D']);
  });

  it('takes a FOLDER INTERNAL DATA message as the trace of a UW-IMAP writer for modified UTF-7 names', async () => {
    const pseudo = 'From MAILER-DAEMON Mon Jan  1 00:00:00 2007\nDate: Mon, 1 Jan 2007 00:00:00 +0000\nFrom: Mail System Internal Data <MAILER-DAEMON@host>\nSubject: DON\'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1167609600 0000000000\nStatus: RO\n\nThis text is part of the internal format of your mail folder.\n\n';
    write('Q&-A', pseudo + writeMbox(buildWriterMessages(1, 'qa')));
    const report = await convert(path.join(work, 'src'), path.join(work, 'out'));
    expect(report.folders.map((f) => f.mailbox)).toEqual(['Q&A']);
  });

  it('does not drop the answered, flagged, deleted and draft flags GNU Mailutils keeps in Status:', async () => {
    const statuses = ['ROA', 'OF', 'RD', 'Od', 'O'];
    write('mailutils', writeMailutils(buildWriterMessages(5, 'mu').map((m, i) => ({ ...m, status: statuses[i]! }))));
    await convert(path.join(work, 'src', 'mailutils'), path.join(work, 'out'));
    const stored = readFolder(path.join(work, 'out'));
    expect(statuses.map((_, i) => bySubject(stored, `mu message ${i}`).info)).toEqual(['RS', 'F', 'ST', 'D', '']);
    expect(stored.map((m) => m.content).join('')).not.toContain('Status:');
  });

  it('does not misplace Gmail Takeout labels written as one encoded word, raw UTF-8 or folded', async () => {
    const labels = ['=?UTF-8?Q?Re=C3=A7us/=C3=89t=C3=A9_2024,Inbox,Opened?=', 'Família,Opened', 'Inbox,\n "Work, old",Opened'];
    write('takeout.mbox', Buffer.from(writeMbox(buildWriterMessages(3, 'gm'), (_, i) => [`X-Gmail-Labels: ${labels[i]}`]), 'utf8'));
    const report = await convert(path.join(work, 'src', 'takeout.mbox'), path.join(work, 'out'));
    expect(report.folders.map((f) => [f.mailbox, f.messages])).toEqual([['Família', 1], ['INBOX', 2], ['Reçus/Été 2024', 1], ['Work, old', 1]]);
  });

  it('does not stop at an mboxcl2 file whose Content-Length points past the end of the file', async () => {
    write('cl2', writeMboxcl2WithCrlfLengths(buildWriterMessages(3, 'cl')));
    const report = await convert(path.join(work, 'src', 'cl2'), path.join(work, 'out'));
    expect(report.stopped).toBeUndefined();
    expect(report.skipped).toEqual([]);
    expect(report.totals.messages).toBe(3);
    expect(report.warnings).toEqual([expect.stringMatching(/^cl2 at byte \d+: its Content-Length points \d+ bytes past the end of the file; it was framed by "From " lines instead, and may have been cut off$/)]);
  });

  it('does not give git format-patch and b4 messages their placeholder From_ date as received date', async () => {
    write('patches', writeGitFormatPatch(buildWriterMessages(2, 'git')));
    write('b4', writeB4(buildWriterMessages(2, 'b4')));
    const report = await convert(path.join(work, 'src'), path.join(work, 'out'));
    expect(mtimes(path.join(work, 'out', '.patches'))).toEqual(['2007-01-01T06:48:00.000Z', '2007-01-02T06:48:01.000Z']);
    expect(mtimes(path.join(work, 'out', '.b4'))).toEqual(['2007-01-01T06:48:00.000Z', '2007-01-02T06:48:01.000Z']);
    expect(report.warnings).toEqual(expect.arrayContaining([
      'patches: 2 message(s): the received date is taken from the Date: header (placeholder git format-patch "From " date)',
      'b4: 2 message(s): the received date is taken from the Date: header (placeholder 1 January 1970 "From " date)',
    ]));
  });
});

describe('runConvert: files that cannot be read are skipped items, not the end of the run', () => {
  const mbox = (prefix: string, count = 2) => writeMbox(buildWriterMessages(count, prefix));

  it('does not abort the whole tree for a file whose name is not valid UTF-8: it is skipped and listed', async () => {
    const source = path.join(work, 'src');
    mkdirSync(source);
    writeFileSync(path.join(source, 'inbox'), mbox('in'));
    writeFileSync(Buffer.concat([Buffer.from(`${source}/caf`), Buffer.from([0xe9]), Buffer.from(' latin1')]), mbox('latin'));
    const report = await convert(source, path.join(work, 'out'), { maxBad: 1 });
    expect(report.stopped).toBeUndefined();
    expect(report.skipped).toEqual([{ file: 'caf\\xe9 latin1', offset: 0, reason: expect.stringMatching(/name is not valid UTF-8/) }]);
    expect(report.folders.map((f) => [f.mailbox, f.messages])).toEqual([['INBOX', 2]]);
    const stopped = await convert(source, path.join(work, 'out2'));
    expect(stopped.stopped?.reason).toMatch(/more than --max-bad 0/);
  });

  it('does not abort the whole tree for a file that is gone or cannot be read when its turn comes', async () => {
    const source = path.join(work, 'src');
    mkdirSync(source);
    writeFileSync(path.join(source, 'a-first'), mbox('first'));
    writeFileSync(path.join(source, 'b-gone'), mbox('gone'));
    writeFileSync(path.join(source, 'c-now-a-directory'), mbox('dir'));
    writeFileSync(path.join(source, 'd-last'), mbox('last'));
    let swapped = false;
    const report = await convert(source, path.join(work, 'out'), {
      maxBad: 2,
      onProgress: () => {
        // While the first file is read, the next two change under us: one removed, one replaced by a directory.
        if (swapped) return;
        swapped = true;
        rmSync(path.join(source, 'b-gone'));
        rmSync(path.join(source, 'c-now-a-directory'));
        mkdirSync(path.join(source, 'c-now-a-directory'));
      },
    });
    expect(report.skipped).toEqual([
      { file: 'b-gone', offset: 0, reason: expect.stringMatching(/^cannot read the file: .*ENOENT/) },
      { file: 'c-now-a-directory', offset: 0, reason: expect.stringMatching(/^cannot read the file: .*(EISDIR|directory)/) },
    ]);
    expect(report.stopped).toBeUndefined();
    expect(report.folders.map((f) => [f.mailbox, f.messages])).toEqual([['a-first', 2], ['d-last', 2]]);
  });

  it('says a read-only or unwritable target is the target, not a bug in mailshift', async () => {
    const file = path.join(work, 'a-file');
    writeFileSync(file, 'not a directory\n');
    writeFileSync(path.join(work, 'in.mbox'), mbox('x'));
    const failure = await convert(path.join(work, 'in.mbox'), path.join(file, 'Maildir')).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(MailshiftError);
    expect(failure).toMatchObject({ code: 'MAILSHIFT_TARGET_NOT_DIR', exitCode: 78, message: expect.stringMatching(/target .*a-file.*: a part of the path is not a directory/) });
  });
});
