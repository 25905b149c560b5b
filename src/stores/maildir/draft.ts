import { createHash, hash as cryptoHash, type Hash } from 'node:crypto'; // hash(): one-shot, cheaper per small message
import { WriteQueue } from './write-queue.js';

const maxPendingBytes = 256 * 1024;

/**
 * One message on its way into the tree. Bytes are gathered and handed to the writer thread: a small message as one
 * write, a large one in 256 KB pieces through a file opened under tmp/, so memory does not grow with message size.
 * Without a queue (dry run) it only counts and hashes.
 */
export class MessageDraft {
  /** Incremental hash, only for messages too large to gather (most are hashed in one call). */
  private hash: Hash | undefined;
  private sizeBytes = 0;
  private lineFeeds = 0;
  private crlfs = 0;
  private lastByte = -1;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private isOpened = false;
  private isDone = false;
  private digest: string | undefined;
  private knownVirtualSize: number | undefined;

  /** Set once the message went to the writer thread to be written and hashed there (seal). */
  private digestSeq: number | undefined;
  private isSealed = false;

  constructor(
    private readonly output: { queue: WriteQueue; tmpPath: string } | undefined,
    private readonly isHashed = true,
    /** The writer thread computes the hash (the draft must be sealed before its hash is read). */
    private readonly hashOnWriter = false,
  ) {}

  /**
   * Hands the finished message to the writer thread, which writes it under tmp/ and hashes it there, so the caller
   * can frame the next messages meanwhile. Afterwards `contentHashHex()` waits for that digest, `isHashReady()` says
   * whether it has come, and `moveTo`/`close` place or drop the file as usual.
   */
  seal(mtime: Date): void {
    const output = this.output;
    if (!output || !this.hashOnWriter || this.isSealed || this.isDone) throw new Error('this draft cannot be sealed');
    this.isSealed = true;
    this.digestSeq = output.queue.claimDigestSeq();
    if (this.isOpened) {
      if (this.pendingBytes > 0) output.queue.enqueue({ kind: 'append', tmpPath: output.tmpPath, data: output.queue.pack(this.pending, this.pendingBytes) });
      output.queue.enqueue({ kind: 'finish-hashed', tmpPath: output.tmpPath, mtimeMs: mtime.getTime(), digestSeq: this.digestSeq });
    } else {
      const data = output.queue.pack(this.pending, this.pendingBytes);
      output.queue.enqueue({ kind: 'write-hashed', tmpPath: output.tmpPath, mtimeMs: mtime.getTime(), data, digestSeq: this.digestSeq });
    }
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** False in a dry run (no writer thread): the hash is then computed on the spot. */
  get canSeal(): boolean {
    return this.hashOnWriter;
  }

  /**
   * True when sealing is the faster choice: the message is already streaming to the writer (a large one), or the
   * writer keeps up. When the writer is behind, the caller hashes it here instead (hashHere): the two threads share
   * the work rather than one waiting for the other.
   */
  shouldSeal(): boolean {
    return this.hashOnWriter && (this.isOpened || !this.output!.queue.isBehind());
  }

  /** Computes the hash on the calling thread, instead of sealing: the message is then written when it is placed. */
  hashHere(): void {
    if (!this.isHashed || this.isOpened || this.isSealed || this.isDone) throw new Error('this draft cannot be hashed here');
    // Hashed from the read buffers, not packed: a packed slab may be handed to the writer before this message is
    // placed, so the bytes are packed only in moveTo, right before the op that carries them.
    if (this.pending.length === 1) {
      this.digest = cryptoHash('sha256', this.pending[0]!, 'hex');
    } else {
      const hash = createHash('sha256');
      for (const chunk of this.pending) hash.update(chunk);
      this.digest = hash.digest('hex');
    }
  }

  /** After `seal`: true once the writer has published this message's digest (reading it will not wait). */
  isHashReady(): boolean {
    return this.digestSeq === undefined || this.output!.queue.isDigestReady(this.digestSeq);
  }

  /**
   * The whole message in one piece, when the caller already knows its RFC822.SIZE (an IMAP source counted it): no
   * pass over the lines to count them.
   */
  writeWhole(content: Buffer, virtualSizeBytes: number): void {
    if (this.sizeBytes > 0) throw new Error('writeWhole must be the only write of a draft');
    this.pending.push(content);
    this.pendingBytes = content.length;
    this.sizeBytes = content.length;
    this.knownVirtualSize = virtualSizeBytes;
    if (this.pendingBytes >= maxPendingBytes) this.streamPending();
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Holding the slices is safe: stream chunks are fresh buffers that nothing writes to again.
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= maxPendingBytes) this.streamPending();
    this.sizeBytes += chunk.length;
    let at = chunk.indexOf(0x0a);
    while (at >= 0) {
      this.lineFeeds += 1;
      if ((at > 0 ? chunk[at - 1] : this.lastByte) === 0x0d) this.crlfs += 1;
      at = chunk.indexOf(0x0a, at + 1);
    }
    this.lastByte = chunk[chunk.length - 1]!;
  }

  /** A large message: hash incrementally, open its tmp file and send what has been gathered so far. */
  private streamPending(): void {
    if (this.isHashed && !this.hashOnWriter) {
      this.hash ??= createHash('sha256');
      for (const chunk of this.pending) this.hash.update(chunk);
    }
    const output = this.output;
    if (output) {
      if (!this.isOpened) output.queue.enqueue({ kind: 'open', tmpPath: output.tmpPath, ...(this.hashOnWriter ? { isHashed: true } : {}) });
      this.isOpened = true;
      output.queue.enqueue({ kind: 'append', tmpPath: output.tmpPath, data: output.queue.pack(this.pending, this.pendingBytes) });
    }
    this.pending = [];
    this.pendingBytes = 0;
  }

  get size(): number {
    return this.sizeBytes;
  }

  /** RFC822.SIZE: the size with every bare LF counted as CRLF (Dovecot's W= field). */
  get virtualSize(): number {
    return this.knownVirtualSize ?? this.sizeBytes + this.lineFeeds - this.crlfs;
  }

  /** SHA-256 of the message bytes. Call once all bytes are written. */
  contentHashHex(): string {
    if (this.digest) return this.digest;
    if (!this.isHashed) throw new Error('this draft was started without a content hash');
    if (this.hashOnWriter) {
      if (this.digestSeq === undefined) throw new Error('seal the draft before reading a hash computed by the writer');
      this.digest = this.output!.queue.readDigestHex(this.digestSeq);
      return this.digest;
    }
    if (this.hash) {
      for (const chunk of this.pending) this.hash.update(chunk);
      this.digest = this.hash.digest('hex');
    } else {
      this.hashHere();
    }
    return this.digest!;
  }

  /** @internal Queues the file: written under tmp/, given its received time, renamed to finalPath. */
  moveTo(finalPath: string, mtime: Date): void {
    const output = this.output;
    if (!output || this.isDone) throw new Error('message draft is not open');
    if (this.isSealed) {
      this.isDone = true;
      output.queue.enqueue({ kind: 'rename', tmpPath: output.tmpPath, finalPath });
      return;
    }
    if (this.isHashed) this.contentHashHex();
    this.isDone = true;
    if (this.isOpened) {
      if (this.pendingBytes > 0) output.queue.enqueue({ kind: 'append', tmpPath: output.tmpPath, data: output.queue.pack(this.pending, this.pendingBytes) });
      output.queue.enqueue({ kind: 'finish', tmpPath: output.tmpPath, finalPath, mtimeMs: mtime.getTime() });
    } else {
      output.queue.enqueue({ kind: 'write', tmpPath: output.tmpPath, finalPath, mtimeMs: mtime.getTime(), data: output.queue.pack(this.pending, this.pendingBytes) });
    }
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Drops whatever was not placed (a truncated or duplicate message). Safe to call twice. */
  close(): void {
    this.pending = [];
    this.pendingBytes = 0;
    if (this.output && (this.isOpened || this.isSealed) && !this.isDone) this.output.queue.enqueue({ kind: 'discard', tmpPath: this.output.tmpPath });
    this.isDone = true;
  }
}
