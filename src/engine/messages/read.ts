import type { Readable } from 'node:stream';
import type { MessageRef } from '../../core/types.js';
import type { Mailbox } from '../../stores/store.js';
import { findHeaderEnd } from '../identity.js';

const headReadLimitBytes = 256 * 1024;

/** The header block of a message, read from the start of its stream (the rest is never read). */
export async function readHead(box: Mailbox, ref: MessageRef, signal: AbortSignal): Promise<Buffer> {
  const stream = await box.read(ref, signal);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      chunks.push(buffer);
      size += buffer.length;
      const joined = chunks.length === 1 ? buffer : Buffer.concat(chunks);
      const end = findHeaderEnd(joined);
      if (end !== undefined) return joined.subarray(0, end);
      if (size >= headReadLimitBytes) return joined;
      if (chunks.length > 1) chunks.splice(0, chunks.length, joined);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}
