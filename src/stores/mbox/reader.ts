import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { MboxFramer, type FramerSink, type MessageEnd, type MessageStart, type UnescapeMode } from '../../../converters/mbox/framer.js';
import { MailshiftError, systemErrorCode, throwIfAborted } from '../../core/errors.js';

/** What the reader hands on: the framer's events, plus `abort` when a message must be framed again after a rewind. */
export interface MboxMessageSink extends FramerSink {
  abortMessage(): void;
}

export interface ReadMboxOptions {
  readonly isGzip: boolean;
  readonly unescape: UnescapeMode;
  readonly honorContentLength: boolean;
  readonly signal?: AbortSignal;
  /** Called with the count of source bytes (compressed bytes for .gz) read so far. */
  readonly onProgress?: (sourceBytes: number) => void;
}

const readChunkBytes = 64 * 1024;

/**
 * Opens an mbox read-only and without following a symlink (O_NOFOLLOW: a link swapped in after we listed the tree
 * is refused, not followed), and streams it through the framer. When a Content-Length proves wrong, the framer asks
 * to rewind; we re-read from that message (re-inflating from the start for .gz) with Content-Length ignored there.
 */
export async function readMboxFile(file: string, options: ReadMboxOptions, sink: MboxMessageSink): Promise<void> {
  const ignoreContentLengthAt = new Set<number>();
  let startOffset = 0;
  let crlf: boolean | undefined;
  let messageOpen = false;
  const trackingSink: FramerSink = {
    messageStart: (start: MessageStart) => {
      messageOpen = true;
      sink.messageStart(start);
    },
    header: (bytes) => sink.header(bytes),
    body: (bytes) => sink.body(bytes),
    messageEnd: (end: MessageEnd) => {
      messageOpen = false;
      sink.messageEnd(end);
    },
    garbage: (offset, length) => sink.garbage(offset, length),
  };
  for (;;) {
    const framer = new MboxFramer(trackingSink, {
      unescape: options.unescape,
      honorContentLength: options.honorContentLength,
      startOffset,
      ignoreContentLengthAt,
      ...(crlf !== undefined ? { crlf } : {}),
    });
    const rewind = await pumpFile(file, startOffset, options, framer);
    if (!rewind) return;
    if (messageOpen) sink.abortMessage();
    messageOpen = false;
    crlf = framer.isCrlf;
    ignoreContentLengthAt.add(rewind.rewindTo);
    startOffset = rewind.rewindTo;
  }
}

async function pumpFile(file: string, startOffset: number, options: ReadMboxOptions, framer: MboxFramer) {
  const handle = await openReadOnly(file);
  try {
    const raw = handle.createReadStream({ highWaterMark: readChunkBytes, autoClose: false, ...(options.isGzip ? {} : { start: startOffset }) });
    let stream: Readable = raw;
    let rawBytes = options.isGzip ? 0 : startOffset;
    raw.on('data', (chunk: Buffer | string) => {
      rawBytes += chunk.length;
      options.onProgress?.(rawBytes);
    });
    if (options.isGzip) stream = raw.pipe(createGunzip());
    let skip = options.isGzip ? startOffset : 0;
    try {
      for await (const data of stream) {
        throwIfAborted(options.signal);
        let chunk = data as Buffer;
        if (skip > 0) {
          if (chunk.length <= skip) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        const rewind = framer.push(chunk);
        if (rewind) {
          raw.destroy();
          return rewind;
        }
      }
    } catch (err) {
      // Only I/O and zlib failures are read errors; anything else came from the sink and travels on unchanged.
      if (systemErrorCode(err) === undefined) throw err;
      throw new MailshiftError('MAILSHIFT_SOURCE_READ', `${file}: cannot read: ${(err as Error).message}`, {
        scope: 'mailbox',
        hint: options.isGzip ? 'the .gz file is damaged or cut off; re-create it or give the uncompressed mbox' : 'check the file and its disk',
        cause: err,
      });
    }
    return framer.end();
  } finally {
    await handle.close();
  }
}

export async function openReadOnly(file: string): Promise<FileHandle> {
  try {
    return await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (err) {
    const code = systemErrorCode(err);
    throw new MailshiftError('MAILSHIFT_SOURCE_OPEN', `${file}: cannot open (${code === 'ELOOP' ? 'it is a symbolic link' : code ?? String(err)})`, {
      scope: 'mailbox',
      hint: code === 'EACCES' ? 'run as a user that can read the source' : 'symbolic links in the source are never followed',
      cause: err,
    });
  }
}

export interface MboxSniff {
  /** The first 64 KB hold a valid From_ line at a line start. */
  readonly looksLikeMbox: boolean;
  readonly isEmpty: boolean;
  /** Lines quoted twice (">>From ") exist: the file is mboxrd, and one '>' is stripped from every quoted From line. */
  readonly hasDoubleQuotedFrom: boolean;
}

const doubleQuotedFrom = Buffer.from('\n>>From ');

/**
 * One read-only pass over the (decompressed) file: does it look like an mbox at all, and is it mboxrd? Reading from
 * the page cache runs at GB/s, far below the cost of creating the message files.
 */
export async function sniffMbox(file: string, options: { isGzip: boolean; signal?: AbortSignal; scanForMboxrd: boolean }): Promise<MboxSniff> {
  const handle = await openReadOnly(file);
  try {
    const raw = handle.createReadStream({ highWaterMark: readChunkBytes, autoClose: false });
    const stream: Readable = options.isGzip ? raw.pipe(createGunzip()) : raw;
    let head = Buffer.alloc(0);
    let total = 0;
    let looksLikeMbox = false;
    let decided = false;
    let tail = Buffer.alloc(0);
    let hasDoubleQuotedFrom = false;
    try {
      for await (const data of stream) {
        throwIfAborted(options.signal);
        const chunk = data as Buffer;
        total += chunk.length;
        if (!decided) {
          head = Buffer.concat([head, chunk]);
          if (head.length >= 64 * 1024) {
            looksLikeMbox = headLooksLikeMbox(head);
            decided = true;
            if (!looksLikeMbox) break;
          }
        }
        if (options.scanForMboxrd) {
          // Look inside the chunk, then across the seam with the previous one (a small copy, not the whole chunk).
          const seam = Buffer.concat([tail, chunk.subarray(0, doubleQuotedFrom.length - 1)]);
          if (chunk.indexOf(doubleQuotedFrom) >= 0 || seam.indexOf(doubleQuotedFrom) >= 0) {
            hasDoubleQuotedFrom = true;
            if (decided) break;
          }
          tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - (doubleQuotedFrom.length - 1))));
        } else if (decided) {
          break;
        }
      }
    } catch (err) {
      throw new MailshiftError('MAILSHIFT_SOURCE_READ', `${file}: cannot read: ${(err as Error).message}`, {
        scope: 'mailbox',
        hint: options.isGzip ? 'the .gz file is damaged or cut off; re-create it or give the uncompressed mbox' : 'check the file and its disk',
        cause: err,
      });
    } finally {
      raw.destroy();
    }
    if (!decided) looksLikeMbox = headLooksLikeMbox(head);
    return { looksLikeMbox, isEmpty: total === 0 && head.length === 0, hasDoubleQuotedFrom };
  } finally {
    await handle.close();
  }
}

function headLooksLikeMbox(head: Buffer): boolean {
  let found = false;
  const framer = new MboxFramer(
    {
      messageStart: () => {
        found = true;
      },
      header: () => {},
      body: () => {},
      messageEnd: () => {},
      garbage: () => {},
    },
    { unescape: 'none', honorContentLength: false },
  );
  framer.push(head.subarray(0, 64 * 1024));
  return found;
}
