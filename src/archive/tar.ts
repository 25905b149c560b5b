import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { InterruptedError, MailshiftError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { ArchiveCompression } from './sniff.js';

/**
 * tar-stream and zlib behind our own types: the one place they are imported. tar-stream decodes ustar, GNU long
 * names and pax records; what it cannot decode (GNU sparse 'S', unknown typeflags) arrives with type null, and a
 * pax-format sparse file arrives as a regular file whose pax record has GNU.sparse.* keys: both become
 * 'unsupported' here, so no caller can write a sparse map as if it were a message.
 */

/** One entry as tar-stream hands it out (its type is not exported by name). */
type TarSource = tarStream.Extract extends AsyncIterable<infer T> ? T : never;

export type ArchiveEntryType = 'file' | 'link' | 'symlink' | 'directory' | 'device' | 'fifo' | 'unsupported';

export interface ArchiveEntry {
  /** The name as stored (pax path or GNU long name applied). */
  readonly name: string;
  /** Read from inside a nested tar (homedir.tar), whose names are relative to the home directory. */
  readonly nested: boolean;
  readonly type: ArchiveEntryType;
  readonly size: number;
  /** Seconds since the epoch, with the pax record's fraction when there is one. */
  readonly mtimeSec: number;
  /** Hard links: the name of the entry whose data this one shares; symlinks: the link's text. */
  readonly linkname?: string;
  /** The entry's data. Whatever the visitor leaves unread is drained after it returns. */
  readonly body: EntryBody;
}

/** An entry's bytes: read with `for await` or handed to stream.pipeline; `resume()` lets them go unread. */
export interface EntryBody extends AsyncIterable<Buffer> {
  resume(): unknown;
}

/**
 * Read and inflate in large pieces: with zlib's default 16 KiB output chunks, Node spent more time in its per-chunk
 * callback than in inflating (gunzip of a 53 MB backup: ~600 ms at 16 KiB, ~90 ms at 256 KiB, on the test machine).
 */
const readChunkBytes = 1024 * 1024;
const gunzipChunkBytes = 256 * 1024;

/** What a visitor asks for after looking at an entry: nothing more, or to read the entry as a tar of its own. */
export type VisitResult = void | 'read-nested';

export type EntryVisitor = (entry: ArchiveEntry) => Promise<VisitResult>;

/**
 * Reads an archive once, from start to end, handing each entry to `visit` in archive order and waiting for it
 * (backpressure: the file is read only as fast as entries are consumed, so memory stays flat). An entry the
 * visitor answers with 'read-nested' is read as a tar itself, inside the outer stream, never written to disk.
 * A truncated or corrupt archive throws MAILSHIFT_ARCHIVE_CORRUPT; what the visitor did with earlier entries stands.
 */
export async function readArchiveEntries(
  file: string,
  compression: ArchiveCompression,
  visit: EntryVisitor,
  options: { readonly signal?: AbortSignal; readonly nested?: boolean } = {},
): Promise<void> {
  const { signal } = options;
  const source = createReadStream(file, { highWaterMark: readChunkBytes, ...(signal ? { signal } : {}) });
  const extract = tarStream.extract();
  const tail = new TailTap();
  const flowing = compression === 'gzip' ? pipeline(source, createGunzip({ chunkSize: gunzipChunkBytes }), tail, extract) : pipeline(source, tail, extract);
  const failed = flowing.then(
    () => undefined,
    (err: unknown) => err,
  );
  const visitorErrors = new WeakSet<object>();
  try {
    await readEntries(extract, options.nested ?? false, visit, visitorErrors);
  } catch (err) {
    // Ctrl-C: every file placed so far is whole (messages reach cur/ only complete); the same command continues.
    if (signal?.aborted) throw new InterruptedError();
    if (typeof err === 'object' && err !== null && visitorErrors.has(err)) throw err;
    throw corrupt(file, source.bytesRead, err);
  } finally {
    source.destroy();
  }
  const pipeError = await failed;
  if (signal?.aborted) throw new InterruptedError();
  if (pipeError !== undefined) throw corrupt(file, source.bytesRead, pipeError);
  // Cut exactly between two entries, a tar reads as complete: only the end-of-archive marker tells.
  if (!tail.hasEndMarker()) throw corrupt(file, source.bytesRead, new Error('the end-of-archive marker is missing'));
}

/**
 * Passes the tar stream through and keeps its last 1024 bytes: a whole archive ends with two zero blocks (POSIX
 * ustar; GNU tar and tar-stream write them), and an archive cut between entries has none.
 */
class TailTap extends Transform {
  private tail: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.tail = chunk.length >= 1024 ? chunk.subarray(chunk.length - 1024) : Buffer.concat([this.tail, chunk]).subarray(-1024);
    callback(null, chunk);
  }

  hasEndMarker(): boolean {
    return this.tail.length === 1024 && this.tail.every((byte) => byte === 0);
  }
}

async function readEntries(extract: tarStream.Extract, nested: boolean, visit: EntryVisitor, visitorErrors: WeakSet<object>): Promise<void> {
  for await (const raw of extract) {
    const entry = toEntry(raw, nested);
    let result: VisitResult;
    try {
      result = await visit(entry);
    } catch (err) {
      // The visitor's own failures (a full disk, a refused directory) pass through as they are; an archive that
      // breaks while the visitor reads an entry's bytes reaches it as the stream's error, and is reported as one.
      if (isVisitorError(err)) visitorErrors.add(err);
      raw.resume();
      throw err;
    }
    if (result === 'read-nested') {
      const inner = tarStream.extract();
      raw.pipe(inner);
      await readEntries(inner, true, visit, visitorErrors);
    } else {
      // Whatever the visitor did not read is drained by the extractor on its way to the next entry.
      raw.resume();
    }
  }
}

/** MailshiftErrors, system call failures and programming errors are the visitor's; anything else is the stream's. */
function isVisitorError(err: unknown): err is object {
  if (typeof err !== 'object' || err === null) return false;
  return err instanceof MailshiftError || 'syscall' in err || err instanceof TypeError || err instanceof RangeError;
}

function toEntry(raw: TarSource, nested: boolean): ArchiveEntry {
  const header = raw.header;
  const pax = readPax(header);
  const paxMtime = pax?.['mtime'] !== undefined ? Number(pax['mtime']) : Number.NaN;
  const mtimeSec = Number.isFinite(paxMtime) ? paxMtime : (header.mtime?.getTime() ?? 0) / 1000;
  const isSparse = pax !== undefined && Object.keys(pax).some((k) => k.startsWith('GNU.sparse'));
  return {
    name: header.name,
    nested,
    type: isSparse ? 'unsupported' : classifyType(header.type),
    size: header.size ?? 0,
    mtimeSec,
    ...(header.linkname ? { linkname: header.linkname } : {}),
    // tar-stream's own (streamx) stream: async-iterable, which is all stream.pipeline and `for await` need.
    body: raw as EntryBody,
  };
}

/** tar-stream keeps the pax record of an entry on its header, which its types do not declare. */
function readPax(header: tarStream.Header): Record<string, string> | undefined {
  const pax: unknown = header.pax;
  if (typeof pax !== 'object' || pax === null) return undefined;
  return pax as Record<string, string>;
}

function classifyType(type: tarStream.Header['type'] | null): ArchiveEntryType {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'link':
      return 'link';
    case 'symlink':
      return 'symlink';
    case 'directory':
      return 'directory';
    case 'character-device':
    case 'block-device':
      return 'device';
    case 'fifo':
      return 'fifo';
    default:
      return 'unsupported';
  }
}

function corrupt(file: string, offset: number, cause: unknown): MailshiftError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new MailshiftError('MAILSHIFT_ARCHIVE_CORRUPT', `${file}: the archive is truncated or corrupt near byte ${offset} (${why})`, {
    scope: 'run',
    hint: 'everything restored before this point is complete and stays; get an intact copy of the backup and run the same command again (nothing is added twice)',
    exitCode: ExitCode.failed,
    cause,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Writing (export)

export interface PackEntry {
  readonly name: string;
  readonly type: 'file' | 'link' | 'directory';
  readonly size?: number;
  readonly mode: number;
  readonly mtimeSec: number;
  readonly linkname?: string;
}

/**
 * A pax archive being written to `out` (gzipped when asked). Every entry carries a pax record, so long UTF-8 names
 * and sub-second mtimes survive, whatever their length; hard links are link entries.
 */
export class PaxWriter {
  private readonly pack = tarStream.pack();
  private readonly flowing: Promise<void>;

  constructor(out: Writable, gzip: boolean) {
    this.flowing = gzip ? pipeline(this.pack, createGzip(), out) : pipeline(this.pack, out);
    // A reader that goes away early (a remote tar that stopped) fails the stream before finish() awaits it: the
    // failure is reported there, or by the caller that watches the reader, never as an unhandled rejection.
    this.flowing.catch(() => undefined);
  }

  /** Adds an entry; for a file, `body` is streamed into it and must be `size` bytes long. */
  async add(entry: PackEntry, body?: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    const header: Partial<tarStream.Header> & { name: string; pax: Record<string, string> } = {
      name: entry.name,
      type: entry.type,
      mode: entry.mode,
      mtime: new Date(Math.floor(entry.mtimeSec) * 1000),
      size: entry.type === 'file' ? (entry.size ?? 0) : 0,
      ...(entry.linkname ? { linkname: entry.linkname } : {}),
      pax: { mtime: entry.mtimeSec.toFixed(9).replace(/\.?0+$/, '') },
    };
    let written: () => void = () => undefined;
    let failed: (err: Error) => void = () => undefined;
    const done = new Promise<void>((resolve, reject) => {
      written = resolve;
      failed = reject;
    });
    const sink = this.pack.entry(header, (err) => (err ? failed(err) : written()));
    // The entry's own stream emits the failure too when the pack is torn down under it (the remote tar's pipe closed
    // while this entry was being written): without a listener that event would end the process before the error is
    // reported, so a --json run would print nothing. The callback above carries the same failure to the caller.
    sink.on('error', failed);
    // Awaited below; marked handled now so a failure while the body is still being read is not an unhandled rejection.
    done.catch(() => undefined);
    if (entry.type === 'file' && body) {
      for await (const chunk of body) {
        // A torn-down entry never drains again: its failure (`done`) ends the wait instead.
        if (!sink.write(chunk as Buffer)) await Promise.race([once(sink as unknown as NodeJS.EventEmitter, 'drain'), done]);
      }
    }
    sink.end(undefined);
    await done;
  }

  async finish(): Promise<void> {
    this.pack.finalize();
    await this.flowing;
  }
}
