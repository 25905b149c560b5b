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
