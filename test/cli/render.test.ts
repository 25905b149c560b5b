import { describe, expect, it } from 'vitest';
import { toProgress as formatCopyProgress } from '../../src/engine/operations/copy.js';
import { createProgressBar, formatBytes, formatTable } from '../../src/cli/render.js';

describe('formatBytes', () => {
  it('prints whole bytes below 1 KB and one decimal below 10 units', () => {
    expect(formatBytes(228.758)).toBe('229 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(25 * 1024 * 1024)).toBe('25 MB');
  });
});

describe('formatTable', () => {
  it('pads columns and right-aligns numeric ones', () => {
    expect(formatTable(['NAME', 'N'], [['a', 1], ['bbb', 22]])).toBe('NAME   N\na      1\nbbb   22\n');
  });
});

describe('formatTable with names from the tree', () => {
  it('does not let a newline or an escape sequence in a folder name break a table row', () => {
    const text = formatTable(['FOLDER', 'COPIED'], [['line\nbreak', 1], ['bad\u001b[31mname', 2], ['Entwürfe', 3]]);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^line\\x0abreak +1$/);
    expect(lines[2]).toMatch(/^bad\\x1b\[31mname +2$/);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines[3]).toMatch(/^Entwürfe +3$/);
    expect(text).not.toMatch(/\u001b/);
  });
});

describe('createProgressBar with a total known as work goes on (an IMAP copy)', () => {
  it('shows a percentage, done/total messages and an ETA, and how many folders the total covers', () => {
    const lines: string[] = [];
    const bar = createProgressBar((text) => lines.push(text), { label: 'copying', isInteractive: true });
    bar.update(formatCopyProgress({ messages: 0, bytes: 0, sourceBytes: 0, plannedMessages: 0, plannedBytes: 0, foldersPlanned: 0, foldersTotal: 3 }));
    bar.finish();
    expect(lines[0]).toMatch(/copying 0 msgs 0 B/);
    lines.length = 0;
    const progress = createProgressBar((text) => lines.push(text), { label: 'copying', isInteractive: true });
    progress.update(formatCopyProgress({ messages: 25, bytes: 2_000, sourceBytes: 2_500, plannedMessages: 100, plannedBytes: 10_000, foldersPlanned: 2, foldersTotal: 3 }));
    progress.finish();
    expect(lines[0]).toMatch(/copying \[#{6}\.{18}\] 25% 25\/100 msgs .*\/s ETA \S+.* \(2\/3 folders listed\)$/);
  });
});
