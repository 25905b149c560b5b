/**
 * The one grammar for sizes on the command line (`--max-size`, `--target-quota`): a decimal number with an optional
 * unit K, M, G or T in powers of 1024, as `du -h` and mail quotas count, then an optional "i" and "B" ("35M", "1.5GB",
 * "2GiB", "500k", "1T", "45000000"); any case, spaces around the number and before the unit allowed. Written by hand:
 * it is one regular expression, and the size libraries on npm read "K" as 1000 or "KB" as 1000.
 */
export type SizeParse = { ok: true; bytes: number } | { ok: false; reason: string };

const unitBytes = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 } as const;

const sizePattern = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i;

export function parseSize(text: string): SizeParse {
  const match = sizePattern.exec(text.trim());
  if (!match) return { ok: false, reason: 'expected a size like 35M, 500K, 1.5G, 1T or 45000000' };
  const bytes = Math.round(Number(match[1]) * unitBytes[match[2]!.toUpperCase() as keyof typeof unitBytes]);
  // Above 2^53 bytes (8 PiB) a number no longer counts every byte; no mailbox is that large.
  if (!Number.isSafeInteger(bytes)) return { ok: false, reason: 'too large: a size must be below 8 PiB (2^53 bytes)' };
  return { ok: true, bytes };
}
