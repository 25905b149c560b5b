import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-ignore -- plain .mjs script without type declarations (scripts run without a build step)
import { formatAsctime, generateMboxCorpus, TREE_FOLDERS } from '../../scripts/gen-mbox-corpus.mjs';

const dir = mkdtempSync(join(tmpdir(), 'gen-mbox-corpus-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Cuts an mbox the strict mboxo way: a separator is a line starting with "From " after an empty line (or at 0). */
function splitMbox(bytes: Buffer): Buffer[] {
  const text = bytes.toString('latin1');
  const starts: number[] = [];
  const re = /^From /gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index === 0 || text.slice(m.index - 2, m.index) === '\n\n') starts.push(m.index);
  }
  return starts.map((start, i) => bytes.subarray(start, starts[i + 1] ?? bytes.length));
}

function generate(name: string, messages: number, seed: number, layout = 'file') {
  const out = join(dir, name);
  return { out, summary: generateMboxCorpus({ messages, seed, out, layout }) };
}

describe('gen-mbox-corpus', () => {
  const big = generate('a.mbox', 1500, 7);
  const bytes = readFileSync(big.out);
  const messages = splitMbox(bytes);

  it('writes exactly the requested number of messages, each cut where every mbox reader cuts', () => {
    expect(messages).toHaveLength(1500);
    expect(big.summary.sizeBytes).toBe(bytes.length);
    // Any "From " line that is not a separator would split the file differently for an mboxo reader.
    const allFromLines = bytes.toString('latin1').match(/^From /gm) ?? [];
    expect(allFromLines).toHaveLength(1500);
  });

  it('gives every message a unique Message-ID and a From_ line with an asctime date', () => {
    const ids = new Set<string>();
    for (const message of messages) {
      const text = message.toString('latin1');
      expect(text).toMatch(/^From \S+ (Sun|Mon|Tue|Wed|Thu|Fri|Sat) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/);
      ids.add(text.match(/^Message-ID: (.*)$/m)?.[1] ?? '');
      expect(text.endsWith('\n\n')).toBe(true);
    }
    expect(ids.size).toBe(1500);
  });

  it('has realistic sizes: a median of a few KB and a long tail of large attachments', () => {
    const sizes = messages.map((m) => m.length).sort((a, b) => a - b);
    const median = sizes[Math.floor(sizes.length / 2)]!;
    expect(median).toBeGreaterThan(3000);
    expect(median).toBeLessThan(8000);
    expect(sizes.at(-1)!).toBeGreaterThan(200_000);
  });

  it('contains the quoted lines and flag headers converters must handle', () => {
    const text = bytes.toString('latin1');
    expect(text).toMatch(/^>From /m);
    expect(text).toMatch(/^>>From /m);
    expect(text).toMatch(/^Status: RO$/m);
    expect(text).toMatch(/^X-Status: [AFTD]+$/m);
  });

  it('is deterministic, and a smaller corpus is a prefix of a larger one with the same seed', () => {
    const again = generate('b.mbox', 1500, 7);
    expect(readFileSync(again.out).equals(bytes)).toBe(true);
    const small = generate('c.mbox', 300, 7);
    const smallBytes = readFileSync(small.out);
    expect(bytes.subarray(0, smallBytes.length).equals(smallBytes)).toBe(true);
    const other = generate('d.mbox', 300, 8);
    expect(readFileSync(other.out).equals(smallBytes)).toBe(false);
  });

  it('spreads messages over a folder tree in tree layout', () => {
    const tree = generate('tree', 600, 3, 'tree');
    const files = tree.summary.files as { path: string; messages: number }[];
    expect(files.map((f) => f.path.slice(tree.out.length + 1)).sort()).toEqual(TREE_FOLDERS.map((f: { path: string }) => f.path).sort());
    let total = 0;
    for (const file of files) {
      expect(splitMbox(readFileSync(file.path))).toHaveLength(file.messages);
      total += file.messages;
    }
    expect(total).toBe(600);
    expect(readdirSync(join(tree.out, 'Archive')).sort()).toEqual(['2019', '2020']);
  });

  it('pads the day of month with a space in From_ dates, as asctime does', () => {
    expect(formatAsctime(new Date(Date.UTC(2015, 0, 5, 14, 3, 22)))).toBe('Mon Jan  5 14:03:22 2015');
    expect(formatAsctime(new Date(Date.UTC(2015, 0, 15, 4, 3, 2)))).toBe('Thu Jan 15 04:03:02 2015');
  });
});
