import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/**
 * Is a file a tar archive, and is it gzipped? Decided by its first bytes, never by its name: cPanel names its
 * backups `cpmove-USER`, `USER.tar.gz` or `backup-DATE_USER.tar` and the names lie as often as they tell
 * (campaigns-archives-scaleout.md §C.1).
 */
export type ArchiveCompression = 'gzip' | 'none';

/** The bytes a tar header must have at offset 257: "ustar\0" (POSIX) or "ustar  \0" (GNU). */
const ustarOffset = 257;

/** Pure: the compression of an archive whose first bytes are `head` (at least 263 for plain tar), or undefined. */
export function classifyArchiveMagic(head: Uint8Array): ArchiveCompression | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= ustarOffset + 5 && Buffer.from(head.subarray(ustarOffset, ustarOffset + 5)).toString('latin1') === 'ustar') return 'none';
  return undefined;
}

/**
 * A regular file that is a tar archive, plain or gzipped. A gzipped mbox has the same first two bytes as a gzipped
 * tar, so for gzip the first block of the gunzipped stream must carry the ustar magic too.
 */
export async function readArchiveCompression(file: string): Promise<ArchiveCompression | undefined> {
  let isFile = false;
  try {
    isFile = (await stat(file)).isFile();
  } catch {
    return undefined;
  }
  if (!isFile) return undefined;
  const head = await readHead(createReadStream(file, { end: 64 * 1024 - 1 }));
  const compression = classifyArchiveMagic(head);
  if (compression !== 'gzip') return compression;
  const raw = createReadStream(file);
  const inner = await readHead(raw.pipe(createGunzip()));
  raw.destroy();
  return classifyArchiveMagic(inner) === 'none' ? 'gzip' : undefined;
}

/** The first 512 bytes of a stream (fewer if it is shorter or broken), then the stream is closed. */
async function readHead(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= 512) break;
    }
  } catch {
    // A truncated or corrupt start: whatever was read decides (usually: not an archive).
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, 512);
}
