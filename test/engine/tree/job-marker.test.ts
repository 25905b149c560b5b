import { mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildJobMarkerPath,
  decideMarkerStartMs,
  formatJobMarker,
  parseJobMarker,
  parseMarkerReply,
  removeJobMarker,
  startJobMarker,
} from '../../../src/engine/tree/job-marker.js';
import { LocalFileSide } from '../../../src/hosts/local.js';

describe('buildJobMarkerPath', () => {
  it("puts a directory job's marker in its target, a one-file job's beside the file and named after it", () => {
    expect(buildJobMarkerPath({ path: '/home/alice/mail' })).toBe('/home/alice/mail/mailshift-copy-in-progress');
    expect(buildJobMarkerPath({ path: '/home/alice/etc/new.rcube.db', isFile: true })).toBe('/home/alice/etc/mailshift-copy-in-progress.new.rcube.db');
  });
});

describe('the marker text', () => {
  it('records the start, and reads it back', () => {
    const text = formatJobMarker(1765000000123);
    expect(text).toMatch(/^mailshift copy: rsync may be writing into this directory\./);
    expect(parseJobMarker(text)).toBe(1765000000123);
  });

  it('reads no start from an empty marker (cut off by the kill while written) or from text that is not a marker', () => {
    expect(parseJobMarker('')).toBeUndefined();
    expect(parseJobMarker('mailshift copy: rsync may be writing')).toBeUndefined();
    expect(parseJobMarker('started-ms=soon\n')).toBeUndefined();
  });

  it("sweeps from the recorded start, never later than the marker's change time, and from that alone when nothing is recorded", () => {
    expect(decideMarkerStartMs({ text: formatJobMarker(1000), ctimeMs: 1002 })).toBe(1000);
    // Touched since (a chown of the tree): the ctime moved on, the recorded start did not.
    expect(decideMarkerStartMs({ text: formatJobMarker(1000), ctimeMs: 90_000 })).toBe(1000);
    // Recorded from a clock a little ahead of the file system's.
    expect(decideMarkerStartMs({ text: formatJobMarker(1005), ctimeMs: 1001 })).toBe(1001);
    expect(decideMarkerStartMs({ text: '', ctimeMs: 1001 })).toBe(1001);
  });
});

describe('parseMarkerReply (the remote start script)', () => {
  it('reads a new marker and a kept one', () => {
    expect(parseMarkerReply(`new\u00001765000000.1234567890\u0000${formatJobMarker(1765000000120)}`)).toEqual({ isInherited: false, ctimeMs: 1765000000123, text: formatJobMarker(1765000000120) });
    expect(parseMarkerReply('kept\u00001765000000.5000000000\u0000')).toEqual({ isInherited: true, ctimeMs: 1765000000500, text: '' });
  });

  it('refuses anything else', () => {
    expect(parseMarkerReply('')).toBeUndefined();
    expect(parseMarkerReply('kept\u0000\u0000')).toBeUndefined();
    expect(parseMarkerReply('maybe\u00001.0\u0000')).toBeUndefined();
  });
});

describe('startJobMarker on this machine', () => {
  let dir: string;
  const side = new LocalFileSide();
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mailshift-marker-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the directories and a marker that records the start, removes an older build\'s temp dir, and goes away when asked', async () => {
    const target = path.join(dir, 'mail');
    const oldTempDir = path.join(target, 'mailshift-tmp');
    await side.mkdirs([oldTempDir]);
    await writeFile(path.join(oldTempDir, '1.M1P1.host:2,S.aB3xYz'), 'half');
    const before = Date.now();
    const marker = await startJobMarker(side, { path: target }, { dirs: [target], oldTempDir });
    expect(marker.isInherited).toBe(false);
    expect(marker.startedMs).toBeGreaterThanOrEqual(before - 1000);
    expect(marker.startedMs).toBeLessThanOrEqual(Date.now());
    expect(parseJobMarker(await readFile(marker.path, 'utf8'))).toBeGreaterThanOrEqual(before);
    await expect(stat(oldTempDir)).rejects.toMatchObject({ code: 'ENOENT' });
    await removeJobMarker(side, marker);
    await expect(stat(marker.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('keeps a marker an interrupted run left, with its start', async () => {
    const markerPath = path.join(dir, 'mailshift-copy-in-progress');
    await writeFile(markerPath, formatJobMarker(1000));
    const marker = await startJobMarker(side, { path: dir }, { dirs: [dir] });
    expect(marker).toEqual({ path: markerPath, startedMs: 1000, isInherited: true });
    expect(await readFile(markerPath, 'utf8')).toBe(formatJobMarker(1000));
  });

  it('takes an empty marker (killed while writing it) to have started when it was created', async () => {
    const markerPath = path.join(dir, 'mailshift-copy-in-progress');
    await writeFile(markerPath, '');
    await utimes(markerPath, 1000, 1000);
    const { ctimeMs } = await stat(markerPath);
    expect((await startJobMarker(side, { path: dir }, { dirs: [dir] })).startedMs).toBe(ctimeMs);
  });

  it('never writes through a link at the marker name', async () => {
    const outside = path.join(dir, 'outside');
    await writeFile(outside, 'keep me');
    const target = path.join(dir, 't');
    await side.mkdirs([target]);
    await symlink(outside, path.join(target, 'mailshift-copy-in-progress'));
    await expect(startJobMarker(side, { path: target }, { dirs: [target] })).rejects.toMatchObject({ code: 'MAILSHIFT_COPY_MARKER' });
    expect(await readFile(outside, 'utf8')).toBe('keep me');
  });
});
