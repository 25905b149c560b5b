import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { hashMessageFile, messageIdFromHeader, parseGrepMessageIds, readMessageIds } from '../../../../src/engine/tree/resync/dedupe-read.js';
import { makeTempDir, type TempDir } from '../../../support/tmp.js';
import { LocalFileSide } from '../../../../src/hosts/local.js';

const local = new LocalFileSide();

describe('parseGrepMessageIds', () => {
  it('reads grep -Z -A1 output, unfolding a folded Message-ID', () => {
    const out = Buffer.from(
      [
        '/m/cur/1\u0000Message-ID: <a@x>',
        '/m/cur/1\u0000Subject: hi',
        '--',
        '/m/new/2\u0000message-id:',
        '/m/new/2\u0000 <folded@x>',
        '--',
        '/m/new/3\u0000Message-Id: <last@x>\r',
        '',
      ].join('\n'),
      'latin1',
    );
    expect([...parseGrepMessageIds(out)]).toEqual([
      ['/m/cur/1', '<a@x>'],
      ['/m/new/2', '<folded@x>'],
      ['/m/new/3', '<last@x>'],
    ]);
  });
});

describe('message ids and content keys', () => {
  let temp: TempDir | undefined;
  afterEach(async () => {
    await temp?.cleanup();
    temp = undefined;
  });

  it('reads the Message-ID from the header only', () => {
    expect(messageIdFromHeader(Buffer.from('Subject: x\nMessage-ID:\n <id@x>\n\nMessage-ID: <body@x>\n'))).toBe('<id@x>');
    expect(messageIdFromHeader(Buffer.from('Subject: x\n\nMessage-ID: <body@x>\n'))).toBeUndefined();
  });

  it('gives the same content key to one message received by two servers (different trace headers, CRLF vs LF)', async () => {
    temp = await makeTempDir('resync-dedupe');
    const a = `${temp.path}/a`;
    const b = `${temp.path}/b`;
    const c = `${temp.path}/c`;
    await writeFile(a, 'Received: from old\nMessage-ID: <m@x>\nSubject: Hi\n\nline 1\nline 2\n');
    await writeFile(b, 'Return-Path: <s@x>\r\nReceived: from new\r\nMessage-ID: <m@x>\r\nSubject: Hi\r\n\r\nline 1\r\nline 2\r\n');
    await writeFile(c, 'Message-ID: <m@x>\nSubject: Hi\n\nline 1\nline 2 changed\n');
    const [ka, kb, kc] = await Promise.all([hashMessageFile(a), hashMessageFile(b), hashMessageFile(c)]);
    expect(ka).toBeDefined();
    expect(ka).toBe(kb);
    expect(kc).not.toBe(ka);
  });

  it('has no content key for a message without a Message-ID', async () => {
    temp = await makeTempDir('resync-dedupe');
    await writeFile(`${temp.path}/a`, 'Subject: no id\n\nbody\n');
    expect(await hashMessageFile(`${temp.path}/a`)).toBeUndefined();
  });

  it('reads local Message-IDs for the given files only', async () => {
    temp = await makeTempDir('resync-dedupe');
    await writeFile(`${temp.path}/1`, 'Message-ID: <one@x>\n\n');
    await writeFile(`${temp.path}/2`, 'Message-ID: <two@x>\n\n');
    const ids = await readMessageIds(local, temp.path, ['1', 'missing']);
    expect([...ids]).toEqual([['1', '<one@x>']]);
  });
});
