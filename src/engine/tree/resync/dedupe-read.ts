import { createHash } from 'node:crypto';
import path from 'node:path';
import { throwIfAborted } from '../../../core/errors.js';
import { runPool } from '../../../core/async.js';
import { openNoFollow } from '../../../hosts/local.js';
import type { FileSide } from '../../../hosts/side.js';
import { fetchFiles } from '../../../hosts/transfer.js';
import type { SshOptions } from '../../../transport/ssh.js';
import { buildIdentity, findHeaderEnd, parseHeaderFields } from '../../identity.js';

/**
 * Reading what dedupe needs, and no more: the Message-ID of the candidate messages (source messages the target
 * lacks) and of the target-only messages, then the content of the few pairs whose Message-IDs match.
 *
 * - Locally: the header block of each file (a few KB), then a streamed hash of the matched files.
 * - Over ssh: `grep -m1 -i '^message-id:'` over the files (stops at the first match, the header), NUL after each
 *   file name, so nothing to install remotely; the matched files are then fetched with rsync into a local staging
 *   directory and hashed there.
 *
 * "Same content" means: the same identity key (Message-ID, Date, From, To, Cc, Subject, In-Reply-To; identity.ts)
 * and the same body bytes (line endings normalised). Trace headers (Received, Return-Path, Delivered-To, spam scores)
 * are not compared on purpose: two servers that both received one message add different ones.
 */

const maxHeaderBytes = 256 * 1024;

/** The Message-ID as compared: the unfolded value, white space collapsed. Undefined for none or an empty one. */
export function normaliseMessageId(value: string | undefined): string | undefined {
  const trimmed = (value ?? '').replace(/[ \t\r\n]+/g, ' ').trim();
  return trimmed === '' ? undefined : trimmed;
}

/** Message-ID from the first bytes of a message (parsing stops at the blank line after the header). */
export function messageIdFromHeader(header: Buffer): string | undefined {
  return normaliseMessageId(parseHeaderFields(header).find((f) => f.name === 'message-id')?.value);
}

/**
 * Parses `grep -i -m1 -A1 -Z -H '^message-id:'` output: `FILE\0LINE\n` for the match and its following line, `--`
 * lines between groups. A following line that starts with white space continues a folded value.
 */
export function parseGrepMessageIds(output: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  const pending = new Map<string, string>();
  let start = 0;
  while (start < output.length) {
    let end = output.indexOf(0x0a, start);
    if (end < 0) end = output.length;
    const line = output.subarray(start, end);
    start = end + 1;
    const nul = line.indexOf(0);
    if (nul < 0) continue; // "--" separators
    const file = line.subarray(0, nul).toString('utf8');
    const text = line.subarray(nul + 1).toString('latin1').replace(/\r$/, '');
    const match = /^message-id:(.*)$/i.exec(text);
    if (match && !pending.has(file) && !out.has(file)) {
      pending.set(file, match[1] ?? '');
      continue;
    }
    const value = pending.get(file);
    if (value !== undefined) {
      // The line after the match: part of the value only when folded.
      out.set(file, /^[ \t]/.test(text) ? `${value} ${text}` : value);
      pending.delete(file);
    }
  }
  for (const [file, value] of pending) out.set(file, value);
  const normalised = new Map<string, string>();
  for (const [file, value] of out) {
    const id = normaliseMessageId(value);
    if (id) normalised.set(file, id);
  }
  return normalised;
}

export interface DedupeReadOptions {
  readonly ssh?: SshOptions;
  readonly signal?: AbortSignal;
}

/** Message-IDs of files (relative to root) on one side. Files that cannot be read simply have none. */
export async function readMessageIds(side: FileSide, root: string, relPaths: readonly string[], options: DedupeReadOptions = {}): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (relPaths.length === 0) return out;
  if (!side.ssh) {
    await runPool(relPaths, 8, async (rel) => {
      throwIfAborted(options.signal);
      const header = await readHeaderBlock(path.join(root, rel));
      const id = header ? messageIdFromHeader(header) : undefined;
      if (id) out.set(rel, id);
    });
    return out;
  }
  // A newline in a name would break grep's line format; such files are simply not deduplicated (they are copied).
  const safe = relPaths.filter((rel) => !rel.includes('\n'));
  // The remote command travels as ONE argument of `sh -c` (128 KiB at most on Linux), every path in it.
  for (const batch of batchByLength(safe, 60 * 1024, root.length + 8)) {
    throwIfAborted(options.signal);
    const absolute = batch.map((rel) => path.posix.join(root, rel));
    const result = await side.run(['grep', '-i', '-m1', '-A1', '-Z', '-H', '-e', '^message-id:', '--', ...absolute], options.signal ? { signal: options.signal } : {});
    // grep exits 1 when no file matched, 2 when a file vanished or was unreadable; the output is still good.
    if (result.exitCode === 255) throw new Error(`ssh failed while reading Message-IDs: ${result.stderr.trim().split('\n').pop() ?? ''}`);
    const prefix = root.endsWith('/') ? root : `${root}/`;
    for (const [file, id] of parseGrepMessageIds(result.stdout)) {
      if (file.startsWith(prefix)) out.set(file.slice(prefix.length), id);
    }
  }
  return out;
}

/**
 * Content keys (identity key + body hash) of files on one side. Remote files are fetched into `staging` first (only
 * the few whose Message-ID matched something on the other side).
 */
export async function readContentKeys(
  side: FileSide,
  root: string,
  relPaths: readonly string[],
  staging: string,
  options: DedupeReadOptions = {},
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (relPaths.length === 0) return out;
  let localRoot = root;
  if (side.ssh) {
    await fetchFiles({ path: root, ssh: side.ssh }, relPaths, staging, { ...options, retries: 2 });
    localRoot = staging;
  }
  await runPool(relPaths, 4, async (rel) => {
    throwIfAborted(options.signal);
    const key = await hashMessageFile(path.join(localRoot, rel));
    if (key) out.set(rel, key);
  });
  return out;
}

/** The first bytes of a file up to the end of its header block (at most 256 KiB); undefined if unreadable. */
async function readHeaderBlock(file: string): Promise<Buffer | undefined> {
  const handle = await openNoFollow(file);
  if (!handle) return undefined;
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buffer = Buffer.allocUnsafe(16 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, total);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      total += bytesRead;
      const joined = Buffer.concat(chunks);
      if (findHeaderEnd(joined) !== undefined || total >= maxHeaderBytes) return joined;
    }
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}

/**
 * identity key + sha256 of the body with CRLF turned into LF, streamed in 64 KiB reads (memory stays flat whatever
 * the message size). Undefined when the file cannot be read or has no Message-ID.
 */
export async function hashMessageFile(file: string): Promise<string | undefined> {
  const handle = await openNoFollow(file);
  if (!handle) return undefined;
  try {
    const hash = createHash('sha256');
    let header: Buffer = Buffer.alloc(0);
    let inBody = false;
    let heldCr = false;
    let position = 0;
    const feedBody = (bytes: Buffer) => {
      let data = bytes;
      if (heldCr) data = Buffer.concat([Buffer.from([0x0d]), data]);
      heldCr = data.length > 0 && data[data.length - 1] === 0x0d;
      if (heldCr) data = data.subarray(0, -1);
      hash.update(stripCrBeforeLf(data));
    };
    for (;;) {
      const buffer = Buffer.allocUnsafe(64 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const chunk = buffer.subarray(0, bytesRead);
      if (inBody) {
        feedBody(chunk);
        continue;
      }
      header = Buffer.concat([header, chunk]);
      const end = findHeaderEnd(header);
      if (end !== undefined) {
        inBody = true;
        feedBody(header.subarray(end));
        header = header.subarray(0, end);
      } else if (header.length > maxHeaderBytes) {
        return undefined;
      }
    }
    if (heldCr) hash.update(Buffer.from([0x0d]));
    const identity = buildIdentity(header);
    if (identity.isWeak) return undefined;
    return `${identity.key}:${hash.digest('hex')}`;
  } finally {
    await handle.close();
  }
}

function stripCrBeforeLf(data: Buffer): Buffer {
  if (data.indexOf(0x0d) < 0) return data;
  const out = Buffer.allocUnsafe(data.length);
  let written = 0;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]!;
    if (byte === 0x0d && data[i + 1] === 0x0a) continue;
    out[written++] = byte;
  }
  return out.subarray(0, written);
}

function* batchByLength(items: readonly string[], maxChars: number, overheadPerItem: number): Generator<string[]> {
  let batch: string[] = [];
  let size = 0;
  for (const item of items) {
    if (batch.length > 0 && size + item.length + overheadPerItem > maxChars) {
      yield batch;
      batch = [];
      size = 0;
    }
    batch.push(item);
    size += item.length + overheadPerItem;
  }
  if (batch.length > 0) yield batch;
}

