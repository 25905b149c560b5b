import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followProgress, readItemsFromOutput, readStatsFromOutput } from '../../../src/transport/rsync/output-file.js';
import type { RsyncProgress } from '../../../src/transport/rsync/progress.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailshift-rsync-output-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const item = (n: number) => `>f+++++++++ cur/${n}.M${n}P1.host:2,S\n`;
const progress = (bytes: string, xfr?: number) => `\r      ${bytes}  50%    1.00MB/s    0:00:01${xfr === undefined ? '' : ` (xfr#${xfr}, to-chk=9/20)`}`;
const stats = (files: number) => `\nNumber of files: 20 (reg: 18, dir: 2)\nNumber of regular files transferred: ${files}\nTotal transferred file size: 1,234 bytes\n`;

describe('readStatsFromOutput', () => {
  it("reads the --stats after the given offset only: an earlier attempt's never stand for a later one's", async () => {
    const file = path.join(dir, 'two-attempts');
    const first = `${item(1)}${stats(1)}`;
    await writeFile(file, `${first}${item(2)}`);
    expect(await readStatsFromOutput(file, 0)).toMatchObject({ regularFilesTransferred: 1 });
    expect(await readStatsFromOutput(file, Buffer.byteLength(first))).toEqual({});
  });

  it('finds the stats after 100,000 item lines by reading the tail', async () => {
    const file = path.join(dir, 'long');
    await writeFile(file, `${Array.from({ length: 100_000 }, (_, i) => item(i)).join('')}${stats(100_000)}`);
    expect(await readStatsFromOutput(file, 0)).toMatchObject({ filesTotal: 20, regularFilesTransferred: 100_000, transferredFileSizeBytes: 1234 });
  });
});

describe('readItemsFromOutput', () => {
  it('gives every item, escapes undone, and nothing else', async () => {
    const file = path.join(dir, 'items');
    await writeFile(file, `${item(1)}${progress('1,000', 1)}\n.d..t...... cur/\ncd+++++++++ new/\n>f+++++++++ cur/a\\#012b\n${stats(2)}`);
    const paths: string[] = [];
    await readItemsFromOutput(file, (i) => paths.push(i.path));
    expect(paths).toEqual(['cur/1.M1P1.host:2,S', 'new/', 'cur/a\nb']);
  });
});

describe('followProgress', () => {
  it('reports the newest progress while the file grows, and what came last when stopped', async () => {
    const file = path.join(dir, 'progress');
    await writeFile(file, 'from an earlier attempt\n');
    const offset = Buffer.byteLength('from an earlier attempt\n');
    const seen: RsyncProgress[] = [];
    const follow = followProgress(file, offset, (p) => seen.push(p), 20);
    await appendFile(file, `${item(1)}${progress('1,000', 1)}\n${item(2)}${progress('2,000', 2)}\n`);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(seen.at(-1)).toMatchObject({ bytes: 2000, filesTransferred: 2 });
    const count = seen.length;
    // A redraw without a file count: the newest file count is reported before it.
    await appendFile(file, `${item(3)}${progress('3,000', 3)}\n${progress('3,500')}\r`);
    await follow.stop();
    expect(seen.slice(count)).toEqual([expect.objectContaining({ bytes: 3000, filesTransferred: 3 }), expect.objectContaining({ bytes: 3500 })]);
    expect(seen.slice(count)[1]!.filesTransferred).toBeUndefined();
  });

  it('reads only the newest 64 KiB when a poll finds much more, and still finds the last progress line', async () => {
    const file = path.join(dir, 'burst');
    await writeFile(file, '');
    const seen: RsyncProgress[] = [];
    const follow = followProgress(file, 0, (p) => seen.push(p), 10_000);
    await appendFile(file, `${Array.from({ length: 5_000 }, (_, i) => `${item(i)}${progress(`${i},000`, i)}\n`).join('')}`);
    await follow.stop();
    expect(seen).toEqual([expect.objectContaining({ filesTransferred: 4_999 })]);
  });
});
