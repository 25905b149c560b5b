import type { FileHandle } from 'node:fs/promises';
import { MailshiftError, systemErrorCode, throwIfAborted } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { inflatedChunks, openReadOnly } from './reader.js';
import type { ScannedFile } from './scan.js';

/**
 * Byte ranges of one scanned mbox file, read again. A plain file is read where the range is (pread). A .gz cannot
 * seek: its reader inflates forward and keeps its place, so ranges asked for in file order (how the mbox store lists
 * and reads them) cost one pass over the file; a range behind the current place starts the inflation over.
 *
 * Either reader opens the file read-only with O_NOFOLLOW and refuses it when it is no longer the file that was
 * scanned (another inode: replaced, or a link swapped in).
 */
export interface RegionReader {
  /** The bytes [start, end) in pieces of at most `chunkBytes` (plain files). Throws when the file is shorter now. */
  read(start: number, end: number, options?: { chunkBytes?: number; signal?: AbortSignal }): AsyncIterable<Buffer>;
  close(): Promise<void>;
}

export function openRegionReader(file: ScannedFile): RegionReader {
  return file.isGzip ? new GzipRegionReader(file) : new PlainRegionReader(file);
}

const defaultChunkBytes = 256 * 1024;

class PlainRegionReader implements RegionReader {
  private handle: FileHandle | undefined;

  constructor(private readonly file: ScannedFile) {}

  async *read(start: number, end: number, options: { chunkBytes?: number; signal?: AbortSignal } = {}): AsyncIterable<Buffer> {
    this.handle ??= await openScanned(this.file);
    const chunkBytes = options.chunkBytes ?? defaultChunkBytes;
    let at = start;
    while (at < end) {
      throwIfAborted(options.signal);
      const length = Math.min(chunkBytes, end - at);
      let bytesRead: number;
      const buffer = Buffer.allocUnsafe(length);
      try {
        ({ bytesRead } = await this.handle.read(buffer, 0, length, at));
      } catch (err) {
        throw readError(this.file, err);
      }
      if (bytesRead === 0) throw sourceChanged(this.file, start, 'the file is shorter than when it was read');
      at += bytesRead;
      yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
    }
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}

class GzipRegionReader implements RegionReader {
  private handle: FileHandle | undefined;
  private chunks: AsyncIterator<Buffer> | undefined;
  /** Decompressed offset of pending[0]. */
  private position = 0;
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly file: ScannedFile) {}

  async *read(start: number, end: number, options: { signal?: AbortSignal } = {}): AsyncIterable<Buffer> {
    if (!this.chunks || start < this.position) await this.restart();
    // The place is updated before each piece is handed out, so a caller that stops early leaves it right.
    while (this.position < end) {
      throwIfAborted(options.signal);
      if (this.pending.length === 0 && !(await this.pull())) throw sourceChanged(this.file, start, 'the file is shorter than when it was read');
      if (this.position < start) {
        const skip = Math.min(this.pending.length, start - this.position);
        this.pending = this.pending.subarray(skip);
        this.position += skip;
        continue;
      }
      const take = Math.min(this.pending.length, end - this.position);
      const piece = this.pending.subarray(0, take);
      this.pending = this.pending.subarray(take);
      this.position += take;
      yield piece;
    }
  }

  private async pull(): Promise<boolean> {
    let next: IteratorResult<Buffer>;
    try {
      next = await this.chunks!.next();
    } catch (err) {
      throw readError(this.file, err);
    }
    if (next.done) return false;
    this.pending = next.value;
    return true;
  }

  private async restart(): Promise<void> {
    await this.close();
    this.handle = await openScanned(this.file);
    this.chunks = inflatedChunks(this.handle, {})[Symbol.asyncIterator]();
    this.position = 0;
    this.pending = Buffer.alloc(0);
  }

  async close(): Promise<void> {
    await this.chunks?.return?.();
    this.chunks = undefined;
    await this.handle?.close();
    this.handle = undefined;
  }
}

async function openScanned(file: ScannedFile): Promise<FileHandle> {
  const handle = await openReadOnly(file.file);
  const stat = await handle.stat();
  if (stat.dev !== file.dev || stat.ino !== file.ino) {
    await handle.close();
    throw sourceChanged(file, 0, 'the file was replaced by another one');
  }
  return handle;
}

/** The mbox is not what it was when it was scanned: its messages cannot be found by their byte ranges any more. */
export function sourceChanged(file: ScannedFile, offset: number, what: string): MailshiftError {
  return new MailshiftError('MAILSHIFT_SOURCE_CHANGED', `${file.displayName}: ${what} (message at byte ${offset}): the mbox changed after it was read`, {
    scope: 'mailbox',
    exitCode: ExitCode.sourceChanged,
    hint: 'a mail client or the server rewrote it during the copy; run the same command again (messages already copied are recognised on the target and not copied twice)',
  });
}

function readError(file: ScannedFile, err: unknown): MailshiftError {
  return new MailshiftError('MAILSHIFT_SOURCE_READ', `${file.displayName}: cannot read: ${systemErrorCode(err) ?? ''} ${(err as Error).message}`.replace(/ {2,}/g, ' '), {
    scope: 'mailbox',
    hint: file.isGzip ? 'the .gz file is damaged or cut off; re-create it or give the uncompressed mbox' : 'check the file and its disk',
    cause: err,
  });
}
