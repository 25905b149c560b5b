import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IncomingMessage, SystemFlag } from '../../../src/core/types.js';
import { MaildirStore } from '../../../src/stores/maildir/store.js';
import type { FlagUpdate, Mailbox } from '../../../src/stores/store.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

let work: TempDir;
beforeEach(async () => {
  work = await makeTempDir('maildir-store');
});
afterEach(async () => {
  await work.cleanup();
});

const key = (uid: number) => `imap://alice@mail.example.com:993\u0000INBOX\u00001700000000\u0000${uid}`;

function message(uid: number, flags: SystemFlag[], keywords: string[] = []): IncomingMessage {
  return {
    content: Buffer.from(`Subject: message ${uid}\n\nbody ${uid}\n`),
    flags: new Set(flags),
    keywords: new Set(keywords),
    internalDate: new Date(1_700_000_000_000 + uid * 1000),
    sourceKey: key(uid),
  };
}

const update = (uid: number, flags: SystemFlag[], keywords: string[] = []): FlagUpdate => ({ sourceKey: key(uid), flags: new Set(flags), keywords: new Set(keywords) });

/** File names in cur/ and new/, as "sub/info" sorted by the message's body (the base names are hashes). */
function namesByMessage(root: string): string[] {
  const out: string[] = [];
  for (const sub of ['cur', 'new']) {
    for (const name of readdirSync(path.join(root, sub))) {
      const body = readFileSync(path.join(root, sub, name), 'latin1').split('\n\n')[1]!.trim();
      out.push(`${body}: ${sub}/${name.includes(':2,') ? name.split(':2,')[1] : '-'}`);
    }
  }
  return out.sort();
}

async function withInbox<T>(root: string, mode: 'read' | 'write', work: (box: Mailbox) => Promise<T>): Promise<T> {
  const store = new MaildirStore(root, { writable: mode === 'write' });
  const box = await store.openMailbox('INBOX', mode);
  try {
    return await work(box);
  } finally {
    await box[Symbol.asyncDispose]();
    await store[Symbol.asyncDispose]();
  }
}

describe('MaildirStore updateFlags: flags of messages written earlier from a source identity', () => {
  it("'source' makes the target's flags and keywords the source's, by one rename each; 'merge' only adds", async () => {
    const root = path.join(work.path, 'Maildir');
    await withInbox(root, 'write', async (box) => {
      await box.appendMany!([message(1, ['\\Seen']), message(2, ['\\Seen', '\\Flagged'], ['Work']), message(3, []), message(4, ['\\Seen'])]);
    });
    expect(namesByMessage(root)).toEqual(['body 1: cur/S', 'body 2: cur/FSa', 'body 3: cur/', 'body 4: cur/S']);

    const merged = await withInbox(root, 'write', (box) =>
      box.updateFlags!([update(1, ['\\Answered']), update(2, ['\\Seen']), update(3, [], ['$Forwarded', 'Home'])], 'merge'),
    );
    expect(merged).toEqual({ differences: 2, applied: 2, notFound: 0, changedMeanwhile: 0 });
    // $Forwarded is written both ways, as a copy writes it: the P letter and a keyword letter.
    expect(namesByMessage(root)).toEqual(['body 1: cur/RS', 'body 2: cur/FSa', 'body 3: cur/Pbc', 'body 4: cur/S']);
    expect(readFileSync(path.join(root, 'dovecot-keywords'), 'utf8')).toBe('0 Work\n1 $Forwarded\n2 Home\n');

    const replaced = await withInbox(root, 'write', (box) =>
      box.updateFlags!([update(1, ['\\Answered', '\\Seen']), update(2, ['\\Seen']), update(3, []), update(9, ['\\Seen'])], 'source'),
    );
    expect(replaced).toEqual({ differences: 2, applied: 2, notFound: 1, changedMeanwhile: 0 });
    expect(namesByMessage(root)).toEqual(['body 1: cur/RS', 'body 2: cur/S', 'body 3: cur/', 'body 4: cur/S']);
  });

  it('does not count a difference a maildir name cannot carry (a keyword no letter can stand for)', async () => {
    const root = path.join(work.path, 'Maildir');
    await withInbox(root, 'write', (box) => box.appendMany!([message(1, ['\\Seen'])]));
    const outcome = await withInbox(root, 'write', (box) => box.updateFlags!([update(1, ['\\Seen'], ['bad keyword'])], 'source'));
    expect(outcome).toEqual({ differences: 0, applied: 0, notFound: 0, changedMeanwhile: 0 });
    expect(namesByMessage(root)).toEqual(['body 1: cur/S']);
  });

  it('only counts in a dry run or on a mailbox opened for reading', async () => {
    const root = path.join(work.path, 'Maildir');
    await withInbox(root, 'write', (box) => box.appendMany!([message(1, ['\\Seen']), message(2, [])]));
    const before = namesByMessage(root);
    expect(await withInbox(root, 'write', (box) => box.updateFlags!([update(1, []), update(2, ['\\Seen'])], 'source', { dryRun: true }))).toEqual({
      differences: 2,
      applied: 0,
      notFound: 0,
      changedMeanwhile: 0,
    });
    expect(await withInbox(root, 'read', (box) => box.updateFlags!([update(1, [])], 'source'))).toMatchObject({ differences: 1, applied: 0 });
    expect(namesByMessage(root)).toEqual(before);
  });

  it('never renames over an existing file, keeps letters and fields it does not know, and leaves names that are not ours', async () => {
    const root = path.join(work.path, 'Maildir');
    await withInbox(root, 'write', (box) => box.appendMany!([message(1, ['\\Seen']), message(2, ['\\Seen']), message(3, ['\\Seen'])]));
    const cur = path.join(root, 'cur');
    const names = readdirSync(cur).sort((a, b) => readFileSync(path.join(cur, a), 'latin1').localeCompare(readFileSync(path.join(cur, b), 'latin1')));
    // 1: the name it would get is taken (the same message twice, another tool's doing): left as it is.
    writeFileSync(path.join(cur, names[0]!.replace(':2,S', ':2,FS')), 'another copy\n\nbody 1b\n');
    // 2: a letter no standard knows and a non-standard field after ',': kept through the rename.
    renameSync(path.join(cur, names[1]!), path.join(cur, names[1]!.replace(':2,S', ':2,SX,extra')));
    // 3: a file another tool named: not found by its source identity, never touched.
    writeFileSync(path.join(cur, '1700000003.M1P2.host:2,S'), 'Subject: x\n\nbody 3b\n');
    const outcome = await withInbox(root, 'write', (box) => box.updateFlags!([update(1, ['\\Seen', '\\Flagged']), update(2, ['\\Seen', '\\Flagged'])], 'source'));
    expect(outcome).toEqual({ differences: 2, applied: 1, notFound: 0, changedMeanwhile: 1 });
    expect(namesByMessage(root)).toEqual(['body 1: cur/S', 'body 1b: cur/FS', 'body 2: cur/FSX,extra', 'body 3: cur/S', 'body 3b: cur/S']);
  });
});

describe('MaildirStore folder names that are not Maildir++ as Dovecot writes them', () => {
  /** A maildir folder with one message, made with a byte-exact directory name. */
  function makeFolder(root: string, dirName: Buffer, body: string): void {
    const dir = Buffer.concat([Buffer.from(`${root}/`), dirName]);
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(Buffer.concat([dir, Buffer.from(`/${sub}`)]), { recursive: true });
    writeFileSync(Buffer.concat([dir, Buffer.from('/cur/1700000000.M1P1.host:2,S')]), `Subject: ${body}\n\n${body}\n`);
  }

  async function readAll(store: MaildirStore, mailbox: string): Promise<string[]> {
    const box = await store.openMailbox(mailbox, 'read');
    try {
      const bodies: string[] = [];
      for await (const ref of box.list()) {
        const chunks: Buffer[] = [];
        for await (const chunk of await box.read(ref)) chunks.push(chunk as Buffer);
        bodies.push(Buffer.concat(chunks).toString().split('\n\n')[1]!.trim());
      }
      return bodies;
    } finally {
      await box[Symbol.asyncDispose]();
    }
  }

  it('reads a folder whose name is raw UTF-8 (not modified UTF-7) from its own directory', async () => {
    makeFolder(work.path, Buffer.from('.Entwürfe'), 'raw utf-8');
    const store = new MaildirStore(work.path);
    const listed = [];
    for await (const info of store.listMailboxes()) listed.push(info.path);
    expect(listed).toEqual(['Entwürfe']);
    expect(await readAll(store, 'Entwürfe')).toEqual(['raw utf-8']);
  });

  it('lists and reads folders named with a literal "&", a newline or Latin-1 bytes instead of dropping them', async () => {
    const root = work.path;
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(root, sub));
    makeFolder(root, Buffer.from('.semi;colon&amp'), 'literal ampersand');
    makeFolder(root, Buffer.from('.line\nbreak'), 'newline');
    makeFolder(root, Buffer.from('.caf\xe9 latin1', 'latin1'), 'latin1');
    makeFolder(root, Buffer.from('.Entw&APw-rfe'), 'mutf7');
    const store = new MaildirStore(root);
    const listed = [];
    for await (const info of store.listMailboxes()) listed.push(info);
    expect(listed.map((each) => each.path)).toEqual(['INBOX', 'Entwürfe', 'café latin1', 'line\u240abreak', 'semi;colon&amp']);
    expect(store.skippedFolders).toEqual([]);
    expect(listed.find((each) => each.path === 'Entwürfe')!.note).toBeUndefined();
    expect(listed.find((each) => each.path === 'café latin1')!.note).toBe('.caf\\xe9 latin1: the name is not UTF-8: read as Latin-1');
    expect(listed.find((each) => each.path === 'semi;colon&amp')!.note).toMatch(/not modified UTF-7: name taken as written/);
    expect(listed.find((each) => each.path === 'line\u240abreak')!.note).toMatch(/control characters/);
    expect(await readAll(store, 'café latin1')).toEqual(['latin1']);
    expect(await readAll(store, 'semi;colon&amp')).toEqual(['literal ampersand']);
    expect(await readAll(store, 'line\u240abreak')).toEqual(['newline']);
  });

  it('lists and reads a message whose file name is not UTF-8 instead of passing it over as expunged', async () => {
    const root = work.path;
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(root, sub));
    writeFileSync(path.join(root, 'cur/1700000000.M1P1.host:2,S'), 'Subject: utf-8\n\nutf-8 name\n');
    writeFileSync(Buffer.from(`${root}/cur/1700000001.M2P1.caf\xe9:2,S`, 'latin1'), 'Subject: latin1\n\nlatin-1 name\n');
    const store = new MaildirStore(root);
    const box = await store.openMailbox('INBOX', 'read');
    const ids: string[] = [];
    for await (const ref of box.list()) ids.push(ref.id);
    await box[Symbol.asyncDispose]();
    expect(ids).toEqual(['cur/1700000000.M1P1.host:2,S', 'cur/1700000001.M2P1.caf\\xe9:2,S']);
    expect(await readAll(store, 'INBOX')).toEqual(['utf-8 name', 'latin-1 name']);
  });

  it('lists a message whose non-UTF-8 name reads as another file\'s name as a problem, never taken for that file', async () => {
    const root = work.path;
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(root, sub));
    // The literal text "\\xe9" in a UTF-8 name, beside a name holding the byte 0xe9: both read "caf\\xe9".
    writeFileSync(path.join(root, 'cur/1700000001.M2P1.caf\\xe9:2,S'), 'Subject: literal\n\nliteral backslash\n');
    writeFileSync(Buffer.from(`${root}/cur/1700000001.M2P1.caf\xe9:2,S`, 'latin1'), 'Subject: latin1\n\nlatin-1 byte\n');
    const store = new MaildirStore(root);
    const box = await store.openMailbox('INBOX', 'read');
    const refs = [];
    for await (const ref of box.list()) refs.push(ref);
    await box[Symbol.asyncDispose]();
    expect(refs.map((ref) => [ref.id, ref.problem?.message])).toEqual([
      ['cur/1700000001.M2P1.caf\\xe9:2,S', undefined],
      ['cur/1700000001.M2P1.caf\\xe9:2,S (bytes)', expect.stringMatching(/its file name is not UTF-8 and reads as the name of another file here; not copied$/)],
    ]);
  });

  it('lists a folder it cannot offer (no folder name, or the name of another folder) as skipped, with the reason', async () => {
    const root = work.path;
    makeFolder(root, Buffer.from('.a..b'), 'empty level');
    makeFolder(root, Buffer.from('.caf&AOk-'), 'utf-7');
    makeFolder(root, Buffer.from('.caf\xe9', 'latin1'), 'latin1 twin');
    const store = new MaildirStore(root);
    const listed = [];
    for await (const info of store.listMailboxes()) listed.push(info.path);
    expect(listed).toEqual(['café']);
    // The directory Dovecot would have written keeps the name; the Latin-1 twin is listed with the reason.
    expect(store.skippedFolders).toEqual([
      { directory: '.a..b', reason: expect.stringMatching(/empty hierarchy level/) },
      { directory: '.caf\\xe9', reason: 'read as the folder name "café", which .caf&AOk- already has; rename one of them' },
    ]);
    expect(await readAll(store, 'café')).toEqual(['utf-7']);
  });
});

describe('MaildirStore: the source UIDs of a folder copied in two goes', () => {
  const uidSource = { uidValidity: 1_700_000_000, nextUid: 11 };
  const fromSource = (uid: number): IncomingMessage => ({ ...message(uid, ['\\Seen']), uid, uidSource });
  const uidlistOf = (root: string) => readFileSync(path.join(root, 'dovecot-uidlist'), 'latin1').trim().split('\n');

  it('keeps the rest of the source UIDs when a copy that was cut off (crash or a reopened connection) goes on', async () => {
    const root = path.join(work.path, 'Maildir');
    // The first go stops after UID 4 of 10; disposing writes the uidlist as a crash after a checkpoint leaves it.
    await withInbox(root, 'write', async (box) => {
      await box.appendMany!([1, 2, 3, 4].map(fromSource));
    });
    expect(uidlistOf(root)[0]).toMatch(/^3 V1700000000 N11\b/);
    await withInbox(root, 'write', async (box) => {
      await box.appendMany!([5, 6, 7, 8, 9, 10].map(fromSource));
    });
    const lines = uidlistOf(root);
    expect(lines[0]).toMatch(/^3 V1700000000 N11\b/);
    expect(lines.slice(1).map((line) => Number(line.split(' ')[0]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('still renumbers source UIDs below the next UID of a folder that went past the source (a delivery here)', async () => {
    const root = path.join(work.path, 'Maildir');
    await withInbox(root, 'write', async (box) => {
      await box.appendMany!([1, 2].map(fromSource));
    });
    // A message delivered to the target took UID 11 (a client saw it, and the next UID 12) and was deleted since.
    const lines = uidlistOf(root);
    writeFileSync(path.join(root, 'dovecot-uidlist'), `${lines[0]!.replace('N11', 'N12')}\n${lines.slice(1).join('\n')}\n`);
    await withInbox(root, 'write', async (box) => {
      await box.appendMany!([3].map(fromSource));
    });
    const uids = uidlistOf(root).slice(1).map((line) => Number(line.split(' ')[0]));
    expect(uids).toEqual([1, 2, 12]);
  });
});
