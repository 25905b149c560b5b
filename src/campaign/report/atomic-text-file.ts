import { constants as fsConstants, createReadStream } from 'node:fs';
import { open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isProcessAlive } from '../../core/process-alive.js';

/**
 * A text file written in pieces under a temporary name in its directory and renamed over the old file when whole: a
 * reader (a browser with report.html open, a script polling report.json) sees the old report or the new one, never
 * half of one. Pieces are gathered up to a buffer's worth before each write, so a 25,000-account report is written
 * in a few hundred writes without ever being held in memory whole.
 */
export class AtomicTextFile {
  private pending: string[] = [];
  private pendingLength = 0;

  private constructor(
    readonly file: string,
    private readonly temporary: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(file: string): Promise<AtomicTextFile> {
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    // Left by a process with our pid that died: ours to replace. O_NOFOLLOW: a link planted there is not followed.
    await rm(temporary, { force: true });
    const handle = await open(temporary, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644);
    return new AtomicTextFile(file, temporary, handle);
  }

  async write(text: string): Promise<void> {
    this.pending.push(text);
    this.pendingLength += text.length;
    if (this.pendingLength >= flushAtChars) await this.flush();
  }

  /** Writes what is left, makes it durable, and puts the file in place. */
  async commit(): Promise<void> {
    await this.flush();
    await this.handle.sync();
    await this.handle.close();
    await rename(this.temporary, this.file);
  }

  /**
   * Appends what another file (one never committed: a part of this one written alongside it) holds so far, then
   * discards that part. report.html gathers its account details in parts, one per verdict, and joins them in order.
   */
  async appendPart(part: AtomicTextFile): Promise<void> {
    await part.flush();
    await this.flush();
    for await (const chunk of createReadStream(part.temporary, { highWaterMark: 1024 * 1024 })) await this.handle.writeFile(chunk as Buffer);
    await part.discard();
  }

  /** Gives up: the temporary file goes, the old file stays. */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.temporary, { force: true });
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    // writeFile on a handle writes the whole text from the current position (write() may stop short).
    await this.handle.writeFile(text, 'utf8');
  }
}

const flushAtChars = 256 * 1024;

/**
 * Removes the temporary files a process that died while writing (kill -9 in the middle of a report) left in
 * `directory`: names of the form AtomicTextFile gives them, whose process is gone. A live process's are left alone.
 */
export async function removeStaleTemporaries(directory: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(directory)) {
    const pid = /^\..+\.(\d+)\.tmp$/.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isProcessAlive(Number(pid))) continue;
    await rm(path.join(directory, name), { force: true });
    removed.push(name);
  }
  return removed;
}
