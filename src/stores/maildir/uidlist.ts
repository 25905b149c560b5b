import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { formatUidlistHeader, formatUidlistRecord, type UidlistRecord } from '../../../converters/maildir/uidlist.js';
import { fileMode, tmpPrefix } from './files.js';

/** A set of UIDs as a growable bitmap: UIDs are dense small integers, a Set<number> costs ~20 bytes each. */
export class UidSet {
  private bits = new Uint8Array(1024);
  private readonly sparse = new Set<number>();

  has(uid: number): boolean {
    if (uid < 0x1000000) return uid >>> 3 < this.bits.length && (this.bits[uid >>> 3]! & (1 << (uid & 7))) !== 0;
    return this.sparse.has(uid);
  }

  add(uid: number): void {
    if (uid >= 0x1000000) {
      this.sparse.add(uid); // far-apart UIDs (up to 2^32) stay out of the bitmap
      return;
    }
    const byte = uid >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, byte + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[byte]! |= 1 << (uid & 7);
  }
}

/**
 * Writes dovecot-uidlist line by line in 64 KB pieces (tmp file, then rename), records sorted by UID. Building it as
 * one string with an object per record made the end of a 100,000-message folder the peak of the whole run's memory.
 * Added records name the base name only: Dovecot matches records by base name, and the flags part of a recorded name
 * may be stale (maildir-format.md §2).
 */
export function writeUidlistStreaming(
  file: string,
  header: { uidValidity: number; nextUid: number; headerFields: ReadonlyMap<string, string> },
  existing: readonly UidlistRecord[],
  addedBases: readonly string[],
  addedUids: readonly number[],
): void {
  const order = Uint32Array.from(addedUids.keys()).sort((a, b) => addedUids[a]! - addedUids[b]!);
  const existingSorted = [...existing].sort((a, b) => a.uid - b.uid);
  const tmp = `${file}.${tmpPrefix}${process.pid}`;
  const fd = openSync(tmp, 'w', fileMode);
  try {
    let pending = formatUidlistHeader(header);
    const flush = (force: boolean) => {
      if (pending.length < 65536 && !force) return;
      writeSync(fd, pending);
      pending = '';
    };
    let e = 0;
    for (let a = 0; a < order.length || e < existingSorted.length; ) {
      const added = a < order.length ? order[a]! : -1;
      if (added >= 0 && (e >= existingSorted.length || addedUids[added]! < existingSorted[e]!.uid)) {
        pending += `${addedUids[added]} :${addedBases[added]}\n`;
        a += 1;
      } else {
        pending += formatUidlistRecord(existingSorted[e]!);
        e += 1;
      }
      flush(false);
    }
    flush(true);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
