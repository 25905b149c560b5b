import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MaildirTreeWriter } from '../../src/archive/maildir-writer.js';
import { MailshiftError } from '../../src/core/errors.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('maildir-writer');
});
afterEach(async () => {
  await tmp.cleanup();
});

const bytes = (text: string) => Readable.from([Buffer.from(text)]);

describe('MaildirTreeWriter', () => {
  it('writes a message under its archived name with its mtime, leaving nothing in tmp/', async () => {
    const writer = new MaildirTreeWriter(path.join(tmp.path, 'box'), { dryRun: false });
    expect(await writer.writeMessage('.Sent', 'cur', '1.M1.h,S=5:2,S', bytes('hello'), 1700000000.5, 5)).toBe('written');
    const file = path.join(tmp.path, 'box/.Sent/cur/1.M1.h,S=5:2,S');
    expect(await readFile(file, 'utf8')).toBe('hello');
    expect((await stat(file)).mtimeMs).toBe(1700000000500);
    expect(await readdir(path.join(tmp.path, 'box/.Sent/tmp'))).toEqual([]);
  });

  it('streams a message larger than the in-memory limit the same way', async () => {
    const writer = new MaildirTreeWriter(tmp.path, { dryRun: false });
    expect(await writer.writeMessage('', 'new', 'big', bytes('x'.repeat(1000)), 1700000000, Number.POSITIVE_INFINITY)).toBe('written');
    expect((await stat(path.join(tmp.path, 'new/big'))).size).toBe(1000);
  });

  it('never writes a message twice: a base name already in cur/ or new/ counts, whatever its flags', async () => {
    await mkdir(path.join(tmp.path, 'cur'), { recursive: true });
    await writeFile(path.join(tmp.path, 'cur/1.M1.h:2,RS'), 'the target copy');
    const writer = new MaildirTreeWriter(tmp.path, { dryRun: false });
    expect(await writer.writeMessage('', 'new', '1.M1.h', bytes('archived'), 1700000000, 8)).toBe('exists');
    expect(await writer.writeMessage('', 'cur', '1.M1.h:2,S', bytes('archived'), 1700000000, 8)).toBe('exists');
    expect(await readdir(path.join(tmp.path, 'cur'))).toEqual(['1.M1.h:2,RS']);
    expect(await readFile(path.join(tmp.path, 'cur/1.M1.h:2,RS'), 'utf8')).toBe('the target copy');
  });

  it('makes a hard-linked copy a link to the message already written, never an empty file', async () => {
    const writer = new MaildirTreeWriter(tmp.path, { dryRun: false });
    await writer.writeMessage('', 'cur', '1.M1.h:2,S', bytes('shared'), 1700000000, 6);
    const from = writer.findMessage('', '1.M1.h:2,S')!;
    expect(await writer.linkMessage('.Archive', 'cur', '1.M1.h:2,S', from, 1700000000)).toBe('linked');
    const a = await stat(path.join(tmp.path, 'cur/1.M1.h:2,S'));
    const b = await stat(path.join(tmp.path, '.Archive/cur/1.M1.h:2,S'));
    expect(b.ino).toBe(a.ino);
    expect(b.size).toBe(6);
  });

  it('refuses to create a folder through a symlink the target has, naming it', async () => {
    await mkdir(path.join(tmp.path, 'outside'));
    await mkdir(path.join(tmp.path, 'box'));
    await symlink(path.join(tmp.path, 'outside'), path.join(tmp.path, 'box/.Sent'));
    const writer = new MaildirTreeWriter(path.join(tmp.path, 'box'), { dryRun: false });
    const error = await writer.writeMessage('.Sent', 'cur', 'm', bytes('x'), 1700000000, 1).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MailshiftError);
    expect((error as MailshiftError).code).toBe('MAILSHIFT_TARGET_NOT_DIR');
    expect(await readdir(path.join(tmp.path, 'outside'))).toEqual([]);
  });

  it('settles control files: taken where the target has none, the union of subscriptions where it has some', async () => {
    await mkdir(path.join(tmp.path, 'cur'), { recursive: true });
    await writeFile(path.join(tmp.path, 'subscriptions'), 'V\t2\n\nTarget\n');
    const writer = new MaildirTreeWriter(tmp.path, { dryRun: false });
    await writer.stageControlFile('', 'dovecot-keywords', bytes('0 $Important\n'));
    await writer.stageControlFile('', 'subscriptions', bytes('V\t2\n\nArchived\n'));
    const outcomes = await writer.settleControlFiles();
    expect(outcomes.map((o) => [o.path, o.action])).toEqual([
      ['dovecot-keywords', 'written'],
      ['subscriptions', 'take-source'],
    ]);
    expect(await readFile(path.join(tmp.path, 'dovecot-keywords'), 'utf8')).toBe('0 $Important\n');
    const subscriptions = await readFile(path.join(tmp.path, 'subscriptions'), 'utf8');
    expect(subscriptions).toContain('Target');
    expect(subscriptions).toContain('Archived');
    expect(await readdir(path.join(tmp.path, 'tmp'))).toEqual([]);
  });

  it('writes nothing at all in a dry run, yet says what it would do', async () => {
    const writer = new MaildirTreeWriter(path.join(tmp.path, 'box'), { dryRun: true });
    expect(await writer.writeMessage('', 'cur', 'm:2,S', bytes('x'), 1700000000, 1)).toBe('written');
    expect(await writer.writeIfAbsent('etc/x', bytes('x'), 1700000000)).toBe(true);
    await expect(lstat(path.join(tmp.path, 'box'))).rejects.toThrow();
  });

  it('keeps a small file the target already has (writeIfAbsent), and says so', async () => {
    await mkdir(path.join(tmp.path, '.autorespond'));
    await writeFile(path.join(tmp.path, '.autorespond/a@example.com'), 'target text');
    const writer = new MaildirTreeWriter(tmp.path, { dryRun: false });
    expect(await writer.writeIfAbsent('.autorespond/a@example.com', bytes('archived'), 1700000000)).toBe(false);
    expect(await readFile(path.join(tmp.path, '.autorespond/a@example.com'), 'utf8')).toBe('target text');
  });
});
