import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseUidlist } from '../../../converters/maildir/uidlist.js';
import type { MaildirFolder } from '../../../src/stores/maildir/folder.js';
import { MaildirTarget } from '../../../src/stores/maildir/writer.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

let work: TempDir;
let dir: string;
beforeEach(async () => {
  work = await makeTempDir('maildir-target');
  dir = work.path;
});
afterEach(async () => {
  await work.cleanup();
});

function placeMessage(target: MaildirTarget, folder: MaildirFolder, text: string): void {
  const draft = target.beginDraft();
  draft.write(Buffer.from(text));
  try {
    const base = `1700000000.M${draft.contentHashHex().slice(0, 24)}.test`;
    folder.place({ base, flags: new Set(['\\Seen']), keywords: new Set(), passed: false, isNew: false, mtime: new Date(1_700_000_000_000) }, { draft });
  } finally {
    draft.close();
  }
}

describe('MaildirTarget.finishFolder', () => {
  it('a folder taken back while its finish runs is not opened twice: every message keeps one UID of its own', async () => {
    const target = MaildirTarget.open(path.join(dir, 'Maildir'), { dryRun: false });
    placeMessage(target, target.folder('Work'), 'Subject: one\n\n1\n');
    placeMessage(target, target.folder('Work'), 'Subject: two\n\n2\n');
    const firstFinish = target.finishFolder('Work'); // not awaited: convert finishes folders in the background
    placeMessage(target, target.folder('Work'), 'Subject: three\n\n3\n');
    await expect(firstFinish).resolves.toBeUndefined(); // overtaken: the next finish reports the folder
    const done = await target.finishFolder('Work');
    await target.close();

    expect(done).toMatchObject({ mailbox: 'Work', uids: 'new' });
    const workDir = path.join(dir, 'Maildir', '.Work');
    const uidlist = parseUidlist(readFileSync(path.join(workDir, 'dovecot-uidlist'), 'utf8'));
    expect(uidlist.records.map((record) => record.uid)).toEqual([1, 2, 3]);
    expect(new Set(uidlist.records.map((record) => record.fileName)).size).toBe(3);
    expect(readdirSync(path.join(workDir, 'cur'))).toHaveLength(3);
  });

  it('finishes folders side by side: each is complete and reported', async () => {
    const target = MaildirTarget.open(path.join(dir, 'Maildir'), { dryRun: false });
    placeMessage(target, target.folder('A'), 'Subject: a\n\na\n');
    placeMessage(target, target.folder('B'), 'Subject: b\n\nb\n');
    const results = await Promise.all([target.finishFolder('A'), target.finishFolder('B')]);
    await target.close();
    expect(results.map((result) => result?.mailbox)).toEqual(['A', 'B']);
    for (const name of ['.A', '.B']) {
      expect(readdirSync(path.join(dir, 'Maildir', name, 'cur'))).toHaveLength(1);
      expect(parseUidlist(readFileSync(path.join(dir, 'Maildir', name, 'dovecot-uidlist'), 'utf8')).records).toHaveLength(1);
    }
  });
});

describe('MessageDraft hashing', () => {
  it('names a message the same whether the writer thread hashes it (seal) or the caller does (hashHere)', async () => {
    const target = MaildirTarget.open(path.join(dir, 'Maildir'), { dryRun: false });
    const text = Buffer.from('Subject: same\n\nbody\n');
    const sealed = target.beginDraft({ hashOnWriter: true });
    sealed.write(text.subarray(0, 5));
    sealed.write(text.subarray(5));
    sealed.seal(new Date(0));
    const here = target.beginDraft({ hashOnWriter: true });
    here.write(text.subarray(0, 9));
    here.write(text.subarray(9));
    here.hashHere();
    expect(here.isHashReady()).toBe(true);
    expect(here.contentHashHex()).toBe(sealed.contentHashHex());
    const folder = target.folder('INBOX');
    const request = { flags: new Set<never>(), keywords: new Set<string>(), passed: false, isNew: true, mtime: new Date(1_600_000_000_000) };
    folder.place({ ...request, base: 'sealed' }, { draft: sealed });
    folder.place({ ...request, base: 'here' }, { draft: here });
    sealed.close();
    here.close();
    await target.finishFolder('INBOX');
    await target.close();
    expect(readFileSync(path.join(dir, 'Maildir', 'new', 'here'))).toEqual(text);
    expect(readFileSync(path.join(dir, 'Maildir', 'new', 'sealed'))).toEqual(text);
  });
});

describe('MaildirFolder.checkpoint', () => {
  it('puts every message placed so far in place and in dovecot-uidlist before the folder is finished (a kill -9 then loses none)', async () => {
    const target = MaildirTarget.open(path.join(dir, 'Maildir'), { dryRun: false });
    const folder = target.folder('Work');
    placeMessage(target, folder, 'Subject: one\n\n1\n');
    placeMessage(target, folder, 'Subject: two\n\n2\n');
    await folder.checkpoint();
    const workDir = path.join(dir, 'Maildir', '.Work');
    const listed = () => parseUidlist(readFileSync(path.join(workDir, 'dovecot-uidlist'), 'utf8')).records.map((record) => `${record.uid} ${record.fileName}`);
    const inCur = () => readdirSync(path.join(workDir, 'cur')).map((name) => name.split(':')[0]);
    expect(inCur()).toHaveLength(2);
    expect(listed().map((line) => line.split(' ')[1]).sort()).toEqual(inCur().sort());
    expect(listed().map((line) => line.split(' ')[0])).toEqual(['1', '2']);

    placeMessage(target, folder, 'Subject: three\n\n3\n');
    await folder.checkpoint();
    expect(listed()).toHaveLength(3);
    await target.finishFolder('Work');
    await target.close();
    expect(listed().map((line) => line.split(' ')[0])).toEqual(['1', '2', '3']);
    expect(inCur()).toHaveLength(3);
  });
});

describe('MaildirTarget: what a killed run left beside the control files', () => {
  it('removes temporary copies of dovecot-uidlist, dovecot-keywords and subscriptions whose writer is gone, and nothing else', async () => {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { spawnSync } = await import('node:child_process');
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const root = path.join(dir, 'Maildir');
    mkdirSync(path.join(root, '.Work'), { recursive: true });
    const left = [`subscriptions.mailshift-tmp.${gone}`, `.Work/dovecot-uidlist.mailshift-tmp.${gone}`, `.Work/dovecot-keywords.mailshift-tmp.${gone}`];
    // A run still going (this test's parent process), and names that only look alike: kept.
    const kept = [`.Work/dovecot-uidlist.mailshift-tmp.${process.ppid}`, `.Work/notes.mailshift-tmp.${gone}`, `.Work/dovecot-uidlist.mailshift-tmp.${gone}.bak`];
    for (const name of [...left, ...kept]) writeFileSync(path.join(root, name), 'partial');
    const target = MaildirTarget.open(root, { dryRun: false });
    target.folder('Work');
    await target.finishFolder('Work');
    await target.close();
    const names = (sub: string) => readdirSync(path.join(root, sub)).map((name) => (sub ? `${sub}/${name}` : name));
    const present = new Set([...names(''), ...names('.Work')]);
    for (const name of left) expect(present.has(name), name).toBe(false);
    for (const name of kept) expect(present.has(name), name).toBe(true);
  });
});
