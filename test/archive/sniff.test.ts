import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyArchiveMagic, readArchiveCompression } from '../../src/archive/sniff.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

function ustarBlock(magic: string): Buffer {
  const block = Buffer.alloc(512);
  block.write('cpmove-bob/', 0);
  block.write(magic, 257, 'latin1');
  return block;
}

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir('sniff');
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('classifyArchiveMagic', () => {
  it('tells a POSIX or GNU tar header and the gzip magic, whatever the file is called', () => {
    expect(classifyArchiveMagic(ustarBlock('ustar\u000000'))).toBe('none');
    expect(classifyArchiveMagic(ustarBlock('ustar  \u0000'))).toBe('none');
    expect(classifyArchiveMagic(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(classifyArchiveMagic(Buffer.from('From alice@example.com Mon Jan  1 00:00:00 2024\n'))).toBeUndefined();
  });
});

describe('readArchiveCompression', () => {
  it('takes a gzip file for a backup only when a tar is inside: a gzipped mbox is not one', async () => {
    const tgz = path.join(tmp.path, 'bob');
    await writeFile(tgz, gzipSync(ustarBlock('ustar\u000000')));
    const mboxGz = path.join(tmp.path, 'mbox.gz');
    await writeFile(mboxGz, gzipSync(Buffer.from('From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n')));
    expect(await readArchiveCompression(tgz)).toBe('gzip');
    expect(await readArchiveCompression(mboxGz)).toBeUndefined();
    expect(await readArchiveCompression(tmp.path)).toBeUndefined();
    expect(await readArchiveCompression(path.join(tmp.path, 'missing'))).toBeUndefined();
  });
});
