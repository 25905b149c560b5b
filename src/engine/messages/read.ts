import type { Readable } from 'node:stream';
import { isMailshiftError, throwIfAborted } from '../../core/errors.js';
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

/**
 * Bodies of many messages: one streamed fetch when the store can (IMAP readMany), else one read at a time. A message
 * expunged meanwhile is passed over; one the store cannot serve (a message-level error) goes to `onUnreadable` and
 * is passed over; anything else is thrown.
 */
export async function* readBodies(box: Mailbox, refs: readonly MessageRef[], signal: AbortSignal | undefined, onUnreadable: (ref: MessageRef, reason: string) => void): AsyncIterable<{ ref: MessageRef; content: Buffer }> {
  if (box.readMany) {
    yield* box.readMany(refs, signal);
    return;
  }
  for (const ref of refs) {
    throwIfAborted(signal);
    let content: Buffer;
    try {
      content = await readAll(await box.read(ref, signal));
    } catch (err) {
      if (isMailshiftError(err) && err.code === 'MAILSHIFT_MESSAGE_GONE') continue;
      if (!isMailshiftError(err) || err.scope !== 'message') throw err;
      onUnreadable(ref, err.message);
      continue;
    }
    yield { ref, content };
  }
}
