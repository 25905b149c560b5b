import { packInBatches } from '../../core/batch.js';

/** UIDs -> a compact IMAP sequence set ("1:5,9,12:14"). */
export function formatUidSet(uids: readonly number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j += 1;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Splits UIDs into runs whose sequence set stays short: Exchange refuses commands over 10,240 bytes. */
export function chunkUids(uids: readonly number[], maxSetChars = 2_000, maxCount = 500): number[][] {
  const sorted = [...uids].sort((a, b) => a - b);
  return packInBatches(sorted, (uid) => String(uid).length + 1, maxSetChars, maxCount);
}
