import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PaxWriter, readArchiveEntries, type ArchiveEntry } from '../../src/archive/tar.js';
import { MailshiftError } from '../../src/core/errors.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir('tar');
});
afterAll(async () => {
  await tmp.cleanup();
});

interface Seen {
  name: string;
  type: ArchiveEntry['type'];
  nested: boolean;
  mtimeSec: number;
  linkname?: string;
  text?: string;
}

async function readAll(file: string, gzip: boolean, nestedName?: string): Promise<Seen[]> {
  const seen: Seen[] = [];
  await readArchiveEntries(file, gzip ? 'gzip' : 'none', async (entry) => {
    if (entry.name === nestedName) return 'read-nested';
    const chunks: Buffer[] = [];
    if (entry.type === 'file') for await (const chunk of entry.body) chunks.push(chunk);
    seen.push({ name: entry.name, type: entry.type, nested: entry.nested, mtimeSec: entry.mtimeSec, ...(entry.linkname ? { linkname: entry.linkname } : {}), ...(entry.type === 'file' ? { text: Buffer.concat(chunks).toString('utf8') } : {}) });
  });
  return seen;
}

async function pack(file: string, gzip: boolean, add: (writer: PaxWriter) => Promise<void>): Promise<void> {
  const writer = new PaxWriter(createWriteStream(file), gzip);
  await add(writer);
  await writer.finish();
}

describe('PaxWriter and readArchiveEntries', () => {
  it('carry long UTF-8 names, sub-second mtimes and hard links through a gzipped pax archive', async () => {
    const long = `cpmove-bob/homedir/mail/example.com/alice/.Entw\u00fcrfe/cur/${'7'.repeat(180)}:2,S`;
    const file = path.join(tmp.path, 'a.tar.gz');
    await pack(file, true, async (w) => {
      await w.add({ name: 'cpmove-bob/', type: 'directory', mode: 0o755, mtimeSec: 1700000000 });
      await w.add({ name: long, type: 'file', size: 5, mode: 0o600, mtimeSec: 1700000000.123456 }, Readable.from([Buffer.from('hello')]));
      await w.add({ name: 'cpmove-bob/other', type: 'link', linkname: long, mode: 0o600, mtimeSec: 1700000000 });
    });
    const seen = await readAll(file, true);
    expect(seen.map((s) => [s.type, s.name])).toEqual([
      ['directory', 'cpmove-bob/'],
      ['file', long],
      ['link', 'cpmove-bob/other'],
    ]);
    expect(seen[1]!.text).toBe('hello');
    expect(seen[1]!.mtimeSec).toBeCloseTo(1700000000.123456, 5);
    expect(seen[2]!.linkname).toBe(long);
  });

  it('reads a nested tar inside the outer stream when the visitor asks, marking its entries nested', async () => {
    const inner = path.join(tmp.path, 'inner.tar');
    await pack(inner, false, async (w) => {
      await w.add({ name: 'mail/cur/m', type: 'file', size: 2, mode: 0o600, mtimeSec: 1700000000 }, Readable.from([Buffer.from('hi')]));
    });
    const innerBytes = await readFile(inner);
    const outer = path.join(tmp.path, 'outer.tar');
    await pack(outer, false, async (w) => {
      await w.add({ name: 'cpmove-bob/homedir.tar', type: 'file', size: innerBytes.length, mode: 0o600, mtimeSec: 1700000000 }, Readable.from([innerBytes]));
      await w.add({ name: 'cpmove-bob/cp/bob', type: 'file', size: 8, mode: 0o600, mtimeSec: 1700000000 }, Readable.from([Buffer.from('USER=bob')]));
    });
    const seen = await readAll(outer, false, 'cpmove-bob/homedir.tar');
    expect(seen.map((s) => [s.name, s.nested, s.text])).toEqual([
      ['mail/cur/m', true, 'hi'],
      ['cpmove-bob/cp/bob', false, 'USER=bob'],
    ]);
  });

  it('stops with MAILSHIFT_ARCHIVE_CORRUPT on an archive cut in the middle of an entry or between two', async () => {
    const file = path.join(tmp.path, 'whole.tar');
    await pack(file, false, async (w) => {
      for (const n of [1, 2, 3]) await w.add({ name: `f${n}`, type: 'file', size: 1000, mode: 0o600, mtimeSec: 1700000000 }, Readable.from([Buffer.alloc(1000, 97)]));
    });
    const whole = await readFile(file);
    // Each entry: a pax header block, its record block, the header block, two data blocks (1000 bytes).
    for (const cut of [whole.length - 1024 - 700, 5 * 512 * 2]) {
      const broken = path.join(tmp.path, `cut-${cut}.tar`);
      await writeFile(broken, whole.subarray(0, cut));
      const error = await readAll(broken, false).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(MailshiftError);
      expect((error as MailshiftError).code).toBe('MAILSHIFT_ARCHIVE_CORRUPT');
    }
  });
});

describe('PaxWriter when its reader goes away in the middle of an entry', () => {
  it('rejects that entry with the failure, and no stream error escapes to end the process', async () => {
    const escaped: unknown[] = [];
    const onUncaught = (err: unknown) => escaped.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      // A pipe into a remote tar that stops: the reader is destroyed while the entry's body is still arriving.
      const out = new PassThrough({ highWaterMark: 16 });
      const writer = new PaxWriter(out, false);
      async function* body(): AsyncGenerator<Buffer> {
        yield Buffer.alloc(4096, 'a');
        out.destroy(new Error('reader went away'));
        await new Promise((resolve) => setTimeout(resolve, 20));
        yield Buffer.alloc(4096, 'b');
      }
      await expect(writer.add({ name: 'm', type: 'file', size: 8192, mode: 0o600, mtimeSec: 1700000000 }, body())).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(escaped).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
