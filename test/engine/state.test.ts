import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { defaultStateDir, folderStateKey, stateFileFor, SyncStateFile } from '../../src/engine/state.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'state-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('SyncStateFile', () => {
  it('starts empty, saves, and reads back what it saved', async () => {
    const file = path.join(dir, 'a', 'state.json');
    const state = await SyncStateFile.load(file, 'imaps://a@h -> /m', silentLogger);
    const key = folderStateKey('Work', 'Work');
    expect(state.get(key)).toBeUndefined();
    state.set(key, { uidValidity: 1700000000, highestUid: 42 });
    await state.save();
    const again = await SyncStateFile.load(file, 'imaps://a@h -> /m', silentLogger);
    expect(again.get(key)).toEqual({ uidValidity: 1700000000, highestUid: 42 });
    expect(await readdir(path.dirname(file))).toEqual(['state.json']); // no temp file left behind
  });

  it('lists every folder pair it holds, for `mailshift state show`', async () => {
    const state = await SyncStateFile.load(path.join(dir, 'entries.json'), 'imaps://a@h -> /m', silentLogger);
    state.set(folderStateKey('Work', 'Archive/Work'), { uidValidity: 7, highestUid: 3 });
    state.set(folderStateKey('INBOX', 'INBOX'), { uidValidity: 9, highestUid: 12 });
    expect(state.entries()).toEqual([
      { sourceFolder: 'INBOX', targetFolder: 'INBOX', uidValidity: 9, highestUid: 12, updatedAt: expect.stringMatching(/^\d{4}-/) },
      { sourceFolder: 'Work', targetFolder: 'Archive/Work', uidValidity: 7, highestUid: 3, updatedAt: expect.stringMatching(/^\d{4}-/) },
    ]);
  });

  it('ignores, with a warning, a state file that belongs to another pair or is garbage', async () => {
    const file = path.join(dir, 'other.json');
    const first = await SyncStateFile.load(file, 'pair-1', silentLogger);
    first.set('k', { uidValidity: 1, highestUid: 2 });
    await first.save();
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line) });
    expect((await SyncStateFile.load(file, 'pair-2', logger)).get('k')).toBeUndefined();
    await writeFile(file, '{"version":1,"pair":');
    expect((await SyncStateFile.load(file, 'pair-1', logger)).get('k')).toBeUndefined();
    expect(lines.join('')).toMatch(/belongs to pair-1/);
    expect(lines.join('')).toMatch(/not a mailshift state file/);
  });

  it('drops entries whose numbers are not UIDs instead of trusting them', async () => {
    const file = path.join(dir, 'bad-entry.json');
    await writeFile(file, JSON.stringify({ version: 1, pair: 'p', folders: { a: { uidValidity: -1, highestUid: 3 }, b: { uidValidity: 5, highestUid: 6 } } }));
    const state = await SyncStateFile.load(file, 'p', silentLogger);
    expect(state.get('a')).toBeUndefined();
    expect(state.get('b')).toEqual({ uidValidity: 5, highestUid: 6 });
  });

  it('serialises overlapping saves so the last state wins', async () => {
    const file = path.join(dir, 'race.json');
    const state = await SyncStateFile.load(file, 'p', silentLogger);
    const saves: Promise<void>[] = [];
    for (let uid = 1; uid <= 20; uid++) {
      state.set('f', { uidValidity: 9, highestUid: uid });
      saves.push(state.save());
    }
    await Promise.all(saves);
    expect(JSON.parse(await readFile(file, 'utf8')).folders.f.highestUid).toBe(20);
  });

  it('keeps one file per pair under the XDG state directory', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/x/state' })).toBe('/x/state/mailshift/sync');
    expect(stateFileFor('/d', 'a')).not.toBe(stateFileFor('/d', 'b'));
  });
});

describe('SyncStateFile target UID maps (flags into an IMAP target)', () => {
  const key = folderStateKey('INBOX', 'INBOX');

  it('keeps where the target put each copied message, as compact runs, across a save and a load', async () => {
    const file = path.join(dir, 'map.json');
    const state = await SyncStateFile.load(file, 'p', silentLogger);
    // Recorded as appends are confirmed, before the folder's first watermark.
    for (const [source, target] of [[1, 101], [2, 102], [3, 103], [5, 104], [7, 200]] as const) state.recordTargetUid(key, 55, source, target);
    state.set(key, { uidValidity: 9, highestUid: 7 });
    await state.save();
    const stored = JSON.parse(await readFile(file, 'utf8')) as { folders: Record<string, { targetUids: unknown }> };
    expect(stored.folders[key]!.targetUids).toEqual({ uidValidity: 55, runs: [[1, 101, 3], [5, 104, 1], [7, 200, 1]] });

    const again = await SyncStateFile.load(file, 'p', silentLogger);
    const map = again.targetUidMap(key)!;
    expect(map.uidValidity).toBe(55);
    expect([1, 2, 3, 4, 5, 7].map((uid) => map.get(uid))).toEqual([101, 102, 103, undefined, 104, 200]);
    expect([...map.targetUids()].sort()).toEqual([101, 102, 103, 104, 200]);
  });

  it('keeps the map while the watermark moves, drops it when the source renumbered (UIDVALIDITY changed)', async () => {
    const state = await SyncStateFile.load(path.join(dir, 'renumbered.json'), 'p', silentLogger);
    state.set(key, { uidValidity: 9, highestUid: 1 });
    state.recordTargetUid(key, 55, 1, 10);
    state.set(key, { uidValidity: 9, highestUid: 5 });
    expect(state.targetUidMap(key)?.get(1)).toBe(10);
    state.set(key, { uidValidity: 10, highestUid: 5 });
    expect(state.targetUidMap(key)).toBeUndefined();
  });

  it('starts a new map when the target folder has another UIDVALIDITY', async () => {
    const state = await SyncStateFile.load(path.join(dir, 'target-renumbered.json'), 'p', silentLogger);
    state.recordTargetUid(key, 55, 1, 10);
    state.recordTargetUid(key, 56, 2, 1);
    expect(state.targetUidMap(key)?.uidValidity).toBe(56);
    expect(state.targetUidMap(key)?.get(1)).toBeUndefined();
  });

  it('drops a malformed map and keeps the watermark (the messages are then found by identity again)', async () => {
    const file = path.join(dir, 'malformed-map.json');
    await writeFile(file, JSON.stringify({ version: 1, pair: 'p', folders: { [key]: { uidValidity: 9, highestUid: 4, targetUids: { uidValidity: 1, runs: [[1, 'x', 2]] } } } }));
    const state = await SyncStateFile.load(file, 'p', silentLogger);
    expect(state.get(key)).toEqual({ uidValidity: 9, highestUid: 4 });
    expect(state.targetUidMap(key)).toBeUndefined();
  });
});

describe('SyncStateFile flags mod-sequence (resync --flags from a CONDSTORE source)', () => {
  const key = folderStateKey('INBOX', 'INBOX');

  it('keeps the mod-sequence flags were last brought over at, across a save and a load, while the watermark moves', async () => {
    const file = path.join(dir, 'modseq.json');
    const state = await SyncStateFile.load(file, 'imap://a@h -> imap://b@h', silentLogger);
    state.setFlagsModseq(key, 77);
    expect(state.flagsModseq(key)).toBeUndefined(); // no watermark yet: nothing to keep it with
    state.set(key, { uidValidity: 5, highestUid: 10 });
    state.setFlagsModseq(key, 77);
    state.set(key, { uidValidity: 5, highestUid: 12 });
    await state.save();
    expect((await SyncStateFile.load(file, 'imap://a@h -> imap://b@h', silentLogger)).flagsModseq(key)).toBe(77);
  });

  it('drops it when the source renumbered (UIDVALIDITY changed): the next flag run reads every message', async () => {
    const state = await SyncStateFile.load(path.join(dir, 'modseq-renumbered.json'), 'imap://a@h -> imap://b@h', silentLogger);
    state.set(key, { uidValidity: 5, highestUid: 10 });
    state.setFlagsModseq(key, 77);
    state.set(key, { uidValidity: 6, highestUid: 3 });
    expect(state.flagsModseq(key)).toBeUndefined();
  });

  it('ignores a mod-sequence that is not a positive whole number', async () => {
    const file = path.join(dir, 'modseq-bad.json');
    await writeFile(file, JSON.stringify({ version: 1, pair: 'p', folders: { [key]: { uidValidity: 5, highestUid: 10, updatedAt: '', flagsModseq: 'x' } } }));
    const state = await SyncStateFile.load(file, 'p', silentLogger);
    expect(state.get(key)).toEqual({ uidValidity: 5, highestUid: 10 });
    expect(state.flagsModseq(key)).toBeUndefined();
  });
});
