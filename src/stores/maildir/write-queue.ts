import * as cryptoModule from 'node:crypto';
import * as fsModule from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { MailshiftError } from '../../core/errors.js';

/**
 * Creates message files on a worker thread, so the main thread parses the next messages while the kernel creates
 * files for the previous ones. Creating a file (open, writev, futimes, close, rename) costs more than framing and
 * hashing it; with two cores the two halves overlap. Every file is still written under tmp/ and renamed into place
 * only when complete, in the order it was queued (so a hard link to a file placed earlier always finds it).
 *
 * Backpressure: the main thread blocks (Atomics.wait) while more than `maxInFlightBytes` are queued, so memory stays
 * bounded however fast the source is read. Failures are flagged in shared memory and thrown on the next call, with
 * the full error after `drain()`.
 *
 * Longer than most modules because both halves of one protocol live here: the worker's code is built from this
 * module's own functions (runWriteOp and publishDigest are written into the worker's source), next to the queue that
 * feeds it and the shared-memory slots both read.
 */

export type WriteOp =
  | { readonly kind: 'write'; readonly tmpPath: string; readonly finalPath: string; readonly mtimeMs: number; readonly data: Uint8Array }
  | { readonly kind: 'open'; readonly tmpPath: string; readonly isHashed?: boolean }
  | { readonly kind: 'append'; readonly tmpPath: string; readonly data: Uint8Array }
  | { readonly kind: 'finish'; readonly tmpPath: string; readonly finalPath: string; readonly mtimeMs: number }
  /** Writes a whole message into tmp/ and publishes its SHA-256 as digest number `digestSeq`; `rename` places it. */
  | { readonly kind: 'write-hashed'; readonly tmpPath: string; readonly mtimeMs: number; readonly data: Uint8Array; readonly digestSeq: number }
  /** Closes a file opened with `isHashed` (its bytes all appended) and publishes its digest; `rename` places it. */
  | { readonly kind: 'finish-hashed'; readonly tmpPath: string; readonly mtimeMs: number; readonly digestSeq: number }
  | { readonly kind: 'rename'; readonly tmpPath: string; readonly finalPath: string }
  | { readonly kind: 'link'; readonly existingPath: string; readonly tmpPath: string; readonly finalPath: string; readonly mtimeMs: number }
  | { readonly kind: 'discard'; readonly tmpPath: string };

interface WorkerFailure {
  readonly message: string;
  readonly code?: string;
  readonly path: string;
}

/** Size of the slabs message bytes are packed into: one allocation and one transfer per batch, not per message. */
const slabBytes = 1024 * 1024;
/** Written slabs kept for reuse. */
const maxFreeSlabs = 3;

const inFlightSlot = 0;
const failedSlot = 1;
/** How many digests the writer has published (digest n is ready when this is above n). */
const digestsDoneSlot = 2;
/** Digests waiting to be read at most; the caller keeps fewer messages than this pending. */
export const digestRingSize = 1024;
const maxInFlightBytes = 3 * 1024 * 1024;
const maxBatchBytes = 1024 * 1024;
const maxBatchOps = 256;

type FsModule = typeof import('node:fs');
type CryptoModule = typeof import('node:crypto');

/** Where the writer keeps its per-file state and publishes digests: shared memory on the writer thread. */
export interface WriterState {
  readonly openFiles: Map<string, number>;
  readonly hashes: Map<string, import('node:crypto').Hash>;
  readonly publishDigest: (seq: number, digest: Buffer | undefined) => void;
}

/**
 * Carries out one operation. Self-contained on purpose (it may use only its arguments): it runs on the writer thread
 * from its source text, and on the calling thread when the queue is inline.
 */
export function runWriteOp(fs: FsModule, crypto: CryptoModule, writer: WriterState, op: WriteOp): void {
  const { openFiles } = writer;
  const createFlags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
  const writeAll = (fd: number, data: Uint8Array) => {
    let offset = 0;
    while (offset < data.length) offset += fs.writeSync(fd, data, offset);
  };
  const closeDated = (fd: number, mtimeMs: number) => {
    const when = new Date(mtimeMs);
    fs.futimesSync(fd, when, when);
    fs.closeSync(fd);
  };
  const finish = (fd: number, tmpPath: string, finalPath: string, mtimeMs: number) => {
    closeDated(fd, mtimeMs);
    fs.renameSync(tmpPath, finalPath);
  };
  switch (op.kind) {
    case 'write': {
      const fd = fs.openSync(op.tmpPath, createFlags, 0o600);
      try {
        writeAll(fd, op.data);
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      finish(fd, op.tmpPath, op.finalPath, op.mtimeMs);
      return;
    }
    case 'write-hashed': {
      // The digest is published even when the write fails, so the caller never waits for it forever; the failure
      // itself is reported through the queue.
      // A failed write leaves no tmp file behind, so the later 'rename' cannot place half a message.
      let digest;
      let isWritten = false;
      try {
        const fd = fs.openSync(op.tmpPath, createFlags, 0o600);
        try {
          writeAll(fd, op.data);
          closeDated(fd, op.mtimeMs);
        } catch (err) {
          try {
            fs.closeSync(fd);
          } catch {
            // closed by closeDated already
          }
          fs.rmSync(op.tmpPath, { force: true });
          throw err;
        }
        digest = crypto.createHash('sha256').update(op.data).digest();
        isWritten = true;
      } finally {
        writer.publishDigest(op.digestSeq, isWritten ? digest : undefined);
      }
      return;
    }
    case 'open':
      openFiles.set(op.tmpPath, fs.openSync(op.tmpPath, createFlags, 0o600));
      if (op.isHashed) writer.hashes.set(op.tmpPath, crypto.createHash('sha256'));
      return;
    case 'append':
      writer.hashes.get(op.tmpPath)?.update(op.data);
      writeAll(openFiles.get(op.tmpPath)!, op.data);
      return;
    case 'finish-hashed': {
      const hash = writer.hashes.get(op.tmpPath);
      writer.hashes.delete(op.tmpPath);
      let isWritten = false;
      try {
        const fd = openFiles.get(op.tmpPath)!;
        openFiles.delete(op.tmpPath);
        try {
          closeDated(fd, op.mtimeMs);
        } catch (err) {
          fs.rmSync(op.tmpPath, { force: true });
          throw err;
        }
        isWritten = true;
      } finally {
        writer.publishDigest(op.digestSeq, isWritten ? hash?.digest() : undefined);
      }
      return;
    }
    case 'rename':
      fs.renameSync(op.tmpPath, op.finalPath);
      return;
    case 'finish': {
      const fd = openFiles.get(op.tmpPath)!;
      openFiles.delete(op.tmpPath);
      finish(fd, op.tmpPath, op.finalPath, op.mtimeMs);
      return;
    }
    case 'link': {
      try {
        fs.linkSync(op.existingPath, op.tmpPath);
      } catch (err) {
        // Other filesystem, or hard links not allowed: a copy, through tmp/ like any other write.
        if (!['EXDEV', 'EPERM', 'EMLINK'].includes((err as { code?: string }).code ?? '')) throw err;
        fs.copyFileSync(op.existingPath, op.tmpPath, fs.constants.COPYFILE_EXCL);
        const when = new Date(op.mtimeMs);
        fs.utimesSync(op.tmpPath, when, when);
      }
      fs.renameSync(op.tmpPath, op.finalPath);
      return;
    }
    case 'discard': {
      const fd = openFiles.get(op.tmpPath);
      writer.hashes.delete(op.tmpPath);
      if (fd !== undefined) {
        openFiles.delete(op.tmpPath);
        fs.closeSync(fd);
      }
      try {
        fs.unlinkSync(op.tmpPath);
      } catch {
        // never created, or already gone
      }
      return;
    }
  }
}

/** Stores digest `seq` in the ring and counts it done (self-contained: it also runs on the writer thread). */
function publishDigest(shared: Int32Array, digests: Uint8Array, seq: number, digest: Uint8Array | undefined, ringSize: number, doneSlot: number, failedSlot: number): void {
  const at = (seq % ringSize) * 32;
  if (digest) {
    digests.set(digest.subarray(0, 32), at);
  } else {
    // No digest means the write failed: flagged before the digest counts as done, so no reader can miss it.
    digests.fill(0, at, at + 32);
    Atomics.store(shared, failedSlot, 1);
  }
  Atomics.store(shared, doneSlot, seq + 1);
  Atomics.notify(shared, doneSlot);
}

// The writer thread's code, handed to `new Worker(..., { eval: true })`: it then runs the same from the TypeScript
// sources (tests) and from dist/ (the CLI), with no path to a separate file to resolve.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const runWriteOp = ${runWriteOp.toString()};
const shared = new Int32Array(workerData.shared);
const digests = new Uint8Array(workerData.digests);
const publishDigest = ${publishDigest.toString()};
const writer = { openFiles: new Map(), hashes: new Map(), publishDigest: (seq, digest) => publishDigest(shared, digests, seq, digest, ${digestRingSize}, ${digestsDoneSlot}, ${failedSlot}) };
parentPort.on('message', (message) => {
  if (message.drain !== undefined) { parentPort.postMessage({ drained: message.drain }); return; }
  // Slabs go back to the main thread once written, to be filled again: this thread allocates so little that its
  // garbage collector would otherwise let a hundred written slabs pile up before freeing them.
  const slabs = new Set();
  for (const item of message.ops) if (item.op.data && item.op.data.buffer.byteLength === ${slabBytes}) slabs.add(item.op.data.buffer);
  for (const item of message.ops) {
    try { runWriteOp(fs, crypto, writer, item.op); }
    catch (e) {
      Atomics.store(shared, ${failedSlot}, 1);
      workerData.failures.postMessage({ message: String((e && e.message) || e), code: e && e.code, path: item.op.tmpPath });
    }
    Atomics.sub(shared, ${inFlightSlot}, item.bytes);
    Atomics.notify(shared, ${inFlightSlot});
  }
  if (slabs.size > 0) parentPort.postMessage({ released: [...slabs] }, [...slabs]);
});
`;

interface WriterThread {
  readonly worker: Worker;
  readonly shared: Int32Array;
  readonly digests: Uint8Array;
  /** Where the writer reports failures; read synchronously, so a waiting caller gets the reason, not just a flag. */
  readonly failures: MessagePort;
}

/** The memory both sides of the queue see: the counters (in flight, failed, digests done) and the digest ring. */
function createSharedMemory(): { shared: Int32Array; digests: Uint8Array } {
  return { shared: new Int32Array(new SharedArrayBuffer(12)), digests: new Uint8Array(new SharedArrayBuffer(digestRingSize * 32)) };
}

function startWriterThread(): WriterThread {
  const { shared, digests } = createSharedMemory();
  const failures = new MessageChannel();
  const worker = new Worker(workerSource, {
    eval: true,
    // The writer's code is CommonJS; the parent's Node options (an --input-type, say) must not change how it runs.
    execArgv: [],
    workerData: { shared: shared.buffer, digests: digests.buffer, failures: failures.port2 },
    transferList: [failures.port2],
    // The writer allocates almost nothing of its own; a small young generation keeps its isolate from holding
    // tens of MB of already-written slabs between collections.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
  });
  // The thread must not keep the process alive on its own; drain() is what waits for it.
  worker.unref();
  failures.port1.unref();
  return { worker, shared, digests, failures: failures.port1 };
}

let prestartedWriter: WriterThread | undefined;

/**
 * Starts the writer thread ahead of need (the CLI calls it before loading `convert`): a new thread takes ~50 ms to
 * boot, which then overlaps the loading of the command instead of stalling the first message. The next WriteQueue
 * takes it over; unused, it lets the process exit like any unref'd thread.
 */
export function prestartWriterThread(): void {
  if (process.env.MAILSHIFT_WRITER === 'inline') return;
  prestartedWriter ??= startWriterThread();
}

function takePrestartedWriter(): WriterThread | undefined {
  const thread = prestartedWriter;
  prestartedWriter = undefined;
  return thread;
}

export class WriteQueue {
  private readonly worker: Worker | undefined;
  private readonly shared: Int32Array;
  /** Digests the writer computed, 32 bytes each, by sequence number modulo the ring size. */
  private readonly digests: Uint8Array;
  private nextDigestSeq = 0;
  private batch: { op: WriteOp; bytes: number }[] = [];
  private batchBytes = 0;
  private slab: Buffer | undefined;
  private slabUsed = 0;
  private readonly batchBuffers = new Set<ArrayBuffer>();
  private readonly freeSlabs: ArrayBuffer[] = [];
  private readonly failures: WorkerFailure[] = [];
  private readonly failurePort: MessagePort | undefined;
  private drainCounter = 0;
  private readonly drainWaiters = new Map<number, () => void>();
  private isClosed = false;
  private readonly inlineWriter: WriterState = {
    openFiles: new Map(),
    hashes: new Map(),
    publishDigest: (seq, digest) => publishDigest(this.shared, this.digests, seq, digest, digestRingSize, digestsDoneSlot, failedSlot),
  };

  /**
   * Inline mode writes on the calling thread (no overlap, ~30 MB less memory). MAILSHIFT_WRITER=inline selects it;
   * the default is the writer thread. Kept switchable because the better choice depends on the machine's free cores.
   */
  private readonly isInline = process.env.MAILSHIFT_WRITER === 'inline';

  constructor() {
    if (this.isInline) {
      this.worker = undefined;
      ({ shared: this.shared, digests: this.digests } = createSharedMemory());
      return;
    }
    const thread = takePrestartedWriter() ?? startWriterThread();
    this.shared = thread.shared;
    this.digests = thread.digests;
    this.failurePort = thread.failures;
    const worker = thread.worker;
    worker.on('message', (message: { drained?: number; released?: ArrayBuffer[] }) => {
      if (message.released) for (const buffer of message.released) if (this.freeSlabs.length < maxFreeSlabs) this.freeSlabs.push(buffer);
      if (message.drained !== undefined) {
        this.drainWaiters.get(message.drained)?.();
        this.drainWaiters.delete(message.drained);
      }
    });
    worker.on('error', (err) => this.failures.push({ message: err.message, path: '(writer thread)' }));
    this.worker = worker;
  }

  /**
   * Copies message slices into memory that can be moved to the writer thread: a region of the current slab, or a
   * buffer of its own for a large piece. (Cloning a slice would copy its whole backing buffer, often a 1 MB read
   * chunk; transferring a pooled one would break its neighbours.)
   */
  pack(chunks: readonly Uint8Array[], totalBytes: number): Uint8Array {
    // Inline, the op runs before enqueue returns: the caller's own bytes are written as they are.
    if (!this.worker) return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, totalBytes);
    let target: Uint8Array;
    if (totalBytes > slabBytes / 4) {
      target = Buffer.allocUnsafeSlow(totalBytes);
    } else {
      if (!this.slab || this.slabUsed + totalBytes > this.slab.length) {
        this.post(); // the old slab goes with the batch that uses it
        const reused = this.freeSlabs.pop();
        this.slab = reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(slabBytes);
        this.slabUsed = 0;
      }
      target = this.slab.subarray(this.slabUsed, this.slabUsed + totalBytes);
      this.slabUsed += totalBytes;
    }
    let at = 0;
    for (const chunk of chunks) {
      target.set(chunk, at);
      at += chunk.length;
    }
    return target;
  }

  /** Queues one operation; blocks while too much is in flight. Throws if an earlier write failed. */
  enqueue(op: WriteOp): void {
    if (this.isClosed) throw new Error('write queue is closed');
    if (!this.worker) {
      try {
        runWriteOp(fsModule, cryptoModule, this.inlineWriter, op);
      } catch (err) {
        this.failures.push({ message: (err as Error).message, code: (err as { code?: string }).code, path: op.tmpPath });
        Atomics.store(this.shared, failedSlot, 1);
        this.throwIfFailed();
      }
      return;
    }
    this.throwIfFailed();
    const bytes = 'data' in op ? op.data.length : 0;
    if ('data' in op) this.batchBuffers.add(op.data.buffer as ArrayBuffer);
    this.batch.push({ op, bytes });
    this.batchBytes += bytes;
    if (this.batchBytes >= maxBatchBytes || this.batch.length >= maxBatchOps) this.post();
  }

  private post(): void {
    if (this.batch.length === 0 || !this.worker) return;
    const bytes = this.batchBytes;
    // Wait for room before handing more to the worker: memory stays bounded by maxInFlightBytes + one batch.
    for (;;) {
      const inFlight = Atomics.load(this.shared, inFlightSlot);
      if (inFlight + bytes <= maxInFlightBytes || inFlight === 0) break;
      Atomics.wait(this.shared, inFlightSlot, inFlight, 100);
      this.throwIfFailed();
    }
    Atomics.add(this.shared, inFlightSlot, bytes);
    // Message bytes are moved, not copied: the slabs and large buffers the batch's ops point into (see pack).
    const transfer = [...this.batchBuffers];
    if (this.slab && this.batchBuffers.has(this.slab.buffer as ArrayBuffer)) this.slab = undefined;
    this.worker.postMessage({ ops: this.batch }, transfer);
    this.batch = [];
    this.batchBytes = 0;
    this.batchBuffers.clear();
  }

  /** A sequence number for the next hashed write ('write-hashed', 'finish-hashed'): its digest's place in the ring. */
  claimDigestSeq(): number {
    return this.nextDigestSeq++;
  }

  /**
   * True when the writer has more than half of what it may hold in flight still to do: work the calling thread takes
   * on itself then (see MessageDraft.shouldSeal) is work it would otherwise spend waiting.
   */
  isBehind(): boolean {
    return this.worker !== undefined && Atomics.load(this.shared, inFlightSlot) + this.batchBytes > maxInFlightBytes / 2;
  }

  /** True when the writer has published digest `seq`. */
  isDigestReady(seq: number): boolean {
    return Atomics.load(this.shared, digestsDoneSlot) > seq;
  }

  /**
   * The SHA-256 (hex) the writer computed for hashed write `seq`, waiting for it if need be. Read each digest once,
   * and before `digestRingSize` later ones are claimed (its place in the ring is then reused).
   */
  readDigestHex(seq: number): string {
    if (!this.isDigestReady(seq)) {
      this.post(); // the op may still be in the unsent batch
      for (;;) {
        const done = Atomics.load(this.shared, digestsDoneSlot);
        if (done > seq) break;
        Atomics.wait(this.shared, digestsDoneSlot, done, 100);
        this.throwIfFailed();
      }
    }
    // A failed write published an empty digest: nothing may be named from it.
    this.throwIfFailed(true);
    const at = (seq % digestRingSize) * 32;
    return Buffer.from(this.digests.buffer, this.digests.byteOffset + at, 32).toString('hex');
  }

  /** Resolves when everything queued so far is on disk (renamed into place); throws the first failure. */
  async drain(): Promise<void> {
    const worker = this.worker;
    if (worker) {
      this.post();
      const token = ++this.drainCounter;
      // Drains may overlap (folders are finished in the background): the thread keeps the process alive while any waits.
      if (this.drainWaiters.size === 0) worker.ref();
      try {
        await new Promise<void>((resolve) => {
          this.drainWaiters.set(token, resolve);
          worker.postMessage({ drain: token });
        });
      } finally {
        if (this.drainWaiters.size === 0) worker.unref();
      }
    }
    this.throwIfFailed(true);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    try {
      await this.drain();
    } finally {
      this.isClosed = true;
      await this.worker?.terminate();
    }
  }

  private receiveFailures(): void {
    if (!this.failurePort) return;
    for (let received = receiveMessageOnPort(this.failurePort); received; received = receiveMessageOnPort(this.failurePort)) this.failures.push(received.message as WorkerFailure);
  }

  private throwIfFailed(withDetails = false): void {
    if (Atomics.load(this.shared, failedSlot) === 0) return;
    this.receiveFailures();
    // The writer flags a failure a moment before it sends the reason: wait for the reason (up to a second).
    for (let waited = 0; withDetails && this.failurePort && this.failures.length === 0 && waited < 100; waited++) {
      Atomics.wait(this.shared, failedSlot, 1, 10);
      this.receiveFailures();
    }
    const first = this.failures[0];
    if (!first && !withDetails) return; // flagged, details not delivered yet: drain() reports them
    throw new MailshiftError('MAILSHIFT_WRITE_FAILED', `cannot write ${first?.path ?? 'a message file'}: ${first?.message ?? 'unknown error'}`, {
      scope: 'run',
      hint: first?.code === 'ENOSPC' ? 'the target filesystem is full; free space and run again (nothing is written twice)' : 'check the target directory and run again (nothing is written twice)',
    });
  }
}
