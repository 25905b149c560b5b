import { describe, expect, it } from 'vitest';
import { parseProgressLine, parseStatsLine, type RsyncStats } from '../../../src/transport/rsync/progress.js';

describe('parseProgressLine', () => {
  it('reads the progress2 line with and without the transfer counters', () => {
    expect(parseProgressLine('      1,500,000  83%  466.42MB/s    0:00:00 (xfr#5, to-chk=1/14)')).toEqual({
      bytes: 1_500_000, percent: 83, rateText: '466.42MB/s', etaText: '0:00:00', filesTransferred: 5, filesToCheck: 1, filesTotal: 14,
    });
    expect(parseProgressLine('         32,768   1%    0.00kB/s    0:00:00  ')).toEqual({ bytes: 32_768, percent: 1, rateText: '0.00kB/s', etaText: '0:00:00' });
    expect(parseProgressLine('  9,000  10%  1.00MB/s  0:01:00 (xfr#2, ir-chk=1000/3000)')).toMatchObject({ filesToCheck: 1000, filesTotal: 3000 });
  });

  it('ignores item lines', () => {
    expect(parseProgressLine('>f+++++++++ cur/1 2')).toBeUndefined();
  });
});

describe('parseStatsLine', () => {
  it('collects the --stats figures', () => {
    const stats: RsyncStats = {};
    const text = `Number of files: 14 (reg: 7, dir: 6, link: 1)
Number of created files: 14 (reg: 7, dir: 6, link: 1)
Number of regular files transferred: 6
Total file size: 1,800,007 bytes
Total transferred file size: 1,500,001 bytes
Total bytes sent: 1,500,987
Total bytes received: 206`;
    for (const line of text.split('\n')) expect(parseStatsLine(line, stats)).toBe(true);
    expect(stats).toEqual({
      filesTotal: 14, filesCreated: 14, createdRegular: 7, createdDirs: 6, createdLinks: 1, regularFilesTransferred: 6, totalFileSizeBytes: 1_800_007,
      transferredFileSizeBytes: 1_500_001, bytesSent: 1_500_987, bytesReceived: 206,
    });
    expect(parseStatsLine('sent 1,500,987 bytes  received 206 bytes', stats)).toBe(false);
  });
});
