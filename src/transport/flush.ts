import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';

/**
 * Flushes everything written on the filesystem that holds `dir` (syncfs(2) through coreutils' `sync -f`).
 * One call per folder replaces an fsync per message: the durability the issue asks for without its per-message cost.
 * Node has no syncfs binding, so we run the tool: an argv array, never a shell. Node's own child_process rather than
 * execa here: loading execa took ~100 ms, a tenth of a 10,000-message conversion, for one fire-and-forget call.
 *
 * Requests for one filesystem are coalesced: while a flush of it runs, every new request shares the one flush queued
 * behind it (a flush that started before a request cannot cover what was written just before that request). A tree
 * of many small folders then costs a few process starts instead of one per folder.
 */
export function flushFilesystem(dir: string): Promise<void> {
  const device = statSync(dir).dev;
  const current = flushesByDevice.get(device);
  if (!current) return startFlush(device, dir);
  current.queued ??= current.running.then(settle, settle).then(() => startFlush(device, dir));
  return current.queued;
}

interface DeviceFlush {
  running: Promise<void>;
  queued: Promise<void> | undefined;
}

const flushesByDevice = new Map<number, DeviceFlush>();

function settle(): void {}

function startFlush(device: number, dir: string): Promise<void> {
  const flush: DeviceFlush = { running: Promise.resolve(), queued: undefined };
  flush.running = syncFilesystem(dir).finally(() => {
    if (flushesByDevice.get(device) === flush) flushesByDevice.delete(device);
  });
  flushesByDevice.set(device, flush);
  return flush.running;
}

function syncFilesystem(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['-f', '--', dir], (err) => (err ? reject(err) : resolve()));
  });
}
