import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// The harness is plain .mjs (benchmarks run without a build step), hence no type declarations.
// @ts-ignore
import { classifyRun, decideTargets } from '../../bench/convert.mjs';
// @ts-ignore
import { summarizeCorpusRuns } from '../../bench/lib/stats.mjs';
// @ts-ignore
import { countMaildirMessages } from '../../bench/lib/maildir.mjs';
// @ts-ignore
import { runMeasured } from '../../bench/lib/measure.mjs';
// @ts-ignore
import { planRotations } from '../../bench/lib/side-by-side.mjs';
// @ts-ignore
import { formatTable } from '../../bench/lib/table.mjs';

const dir = mkdtempSync(join(tmpdir(), 'bench-harness-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const okRun = { exitCode: 0, signal: null, spawnError: null, timedOut: false, stdout: '', stderr: '' };

describe('side-by-side rounds', () => {
  it('rotates the order so that no tool always runs first', () => {
    expect(planRotations(['a', 'b', 'c'], 4)).toEqual([['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b'], ['a', 'b', 'c']]);
  });
});

describe('classifyRun', () => {
  it('accepts a run only when the tool exited 0 and wrote every message', () => {
    expect(classifyRun({ measured: okRun, counted: { messages: 10 }, expectedMessages: 10 }).ok).toBe(true);
    const short = classifyRun({ measured: okRun, counted: { messages: 9 }, expectedMessages: 10 });
    expect(short).toEqual({ ok: false, detail: 'MISMATCH: 9 of 10 messages in the output' });
  });

  it('reports a failing tool by its exit code and first line of stderr, whatever it wrote', () => {
    const failed = { ...okRun, exitCode: 2, stderr: "error: unknown command 'convert'\nmore\n" };
    expect(classifyRun({ measured: failed, counted: { messages: 10 }, expectedMessages: 10 })).toEqual({
      ok: false,
      detail: "exit 2: error: unknown command 'convert'",
    });
    expect(classifyRun({ measured: { ...okRun, timedOut: true }, counted: { messages: 0 }, expectedMessages: 1 }).ok)
      .toBe(false);
  });
});

describe('targets', () => {
  const corpus = { messages: 1000, sizeBytes: 20e6 };
  const run = (tool: string, wallSeconds: number, ok = true, peakRssBytes = 50e6) =>
    ({ tool, wallSeconds, peakRssBytes, maxProcesses: 1, verification: { ok, detail: ok ? 'ok' : 'exit 1' } });

  it('compares medians of successful runs only', () => {
    const summary = summarizeCorpusRuns({
      records: [run('mailshift', 1), run('mailshift', 3), run('mailshift', 2), run('mailshift', 0.1, false)],
      names: ['mailshift'],
      corpus,
    });
    expect(summary.mailshift).toMatchObject({ runs: 4, okRuns: 3, medianSeconds: 2, bestSeconds: 1, problem: 'exit 1' });
    expect(summary.mailshift.messagesPerSecond).toBe(500);
    expect(summary.mailshift.megabytesPerSecond).toBe(10);
  });

  it('passes a target only at or above the required speed-up, and fails RSS at 200 MB', () => {
    const summary = summarizeCorpusRuns({
      records: [run('mailshift', 1, true, 200e6), run('dovecot', 5), run('mb2md', 1.4)],
      names: ['mailshift', 'dovecot', 'mb2md'],
      corpus,
    });
    const verdicts = decideTargets(summary);
    expect(verdicts.map((v: { status: string }) => v.status)).toEqual(['pass', 'FAIL', 'FAIL']);
  });

  it('says n/a rather than pass when mailshift has no successful run', () => {
    const summary = summarizeCorpusRuns({ records: [run('mailshift', 1, false), run('dovecot', 5)], names: ['mailshift', 'dovecot'], corpus });
    expect(decideTargets(summary).every((v: { status: string }) => v.status === 'n/a')).toBe(true);
  });
});

describe('countMaildirMessages', () => {
  it('counts files in cur/ and new/ of every maildir in the tree, not index files, not through symlinks', () => {
    const root = join(dir, 'Maildir');
    for (const sub of ['cur', 'new', 'tmp', '.Work/cur', '.Work/new', '.Work/tmp']) mkdirSync(join(root, sub), { recursive: true });
    writeFileSync(join(root, 'cur', '1:2,S'), 'abc');
    writeFileSync(join(root, 'new', '2'), 'de');
    writeFileSync(join(root, 'tmp', 'partial'), 'x');
    writeFileSync(join(root, 'dovecot-uidlist'), '3 V1 N3\n');
    writeFileSync(join(root, '.Work', 'cur', '3:2,'), 'f');
    const elsewhere = join(dir, 'elsewhere');
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(elsewhere, sub), { recursive: true });
    writeFileSync(join(elsewhere, 'cur', 'x'), 'x');
    symlinkSync(elsewhere, join(root, '.Linked'));
    expect(countMaildirMessages(root)).toEqual({ messages: 3, sizeBytes: 6, folders: 2 });
  });
});

describe('runMeasured', () => {
  it('measures wall time and the peak RSS of a whole process tree, not just its largest process', async () => {
    // The parent starts two children at once, each holding ~100 MB for a moment: the tree holds over 200 MB.
    const child = 'const b = Buffer.alloc(100e6, 1); setTimeout(() => console.log(b[0]), 800)';
    const parent = `const { spawn } = require('child_process');
      for (let i = 0; i < 2; i++) spawn(process.execPath, ['-e', ${JSON.stringify(child)}], { stdio: 'inherit' });`;
    const measured = await runMeasured([process.execPath, '-e', parent]);
    expect(measured.exitCode).toBe(0);
    expect(measured.stdout).toBe('1\n1\n');
    expect(measured.wallSeconds).toBeGreaterThan(0.7);
    expect(measured.peakTreeRssSampledBytes).toBeGreaterThan(200e6);
    expect(measured.peakRssBytes).toBeGreaterThan(200e6);
    expect(measured.maxProcesses).toBeGreaterThanOrEqual(3);
    expect(measured.rssTimeline.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...measured.rssTimeline.map(([, bytes]: [number, number]) => bytes))).toBeLessThanOrEqual(
      measured.peakTreeRssSampledBytes,
    );
    if (measured.maxProcessRssBytes !== null) expect(measured.maxProcessRssBytes).toBeLessThan(200e6);
    // Two processes of ~100 MB each on a loaded machine (CI with servers running) can take longer than 5 s to start.
  }, 30_000);

  it('counts the pages a forked child shares with its parent once, not twice', async () => {
    // Perl (essential on Debian) forks without exec: the child shares the parent's ~100 MB copy-on-write while it
    // sleeps. RSS per process would sum ~200 MB for the ~100 MB the machine holds.
    const script = 'my $b = ""; vec($b, 100_000_000 - 1, 8) = 1; if (my $pid = fork) { waitpid($pid, 0) } else { sleep 1; exit 0 }';
    const measured = await runMeasured(['perl', '-e', script]);
    expect(measured.exitCode).toBe(0);
    expect(measured.maxProcesses).toBeGreaterThanOrEqual(2);
    expect(measured.peakTreeRssSampledBytes).toBeGreaterThan(90e6);
    expect(measured.peakTreeRssSampledBytes).toBeLessThan(150e6);
  }, 30_000);

  it('reports a command that cannot start instead of throwing', async () => {
    const measured = await runMeasured([join(dir, 'no-such-tool')]);
    expect(measured.exitCode === 0 && !measured.spawnError).toBe(false);
  });

  it('stops a run at its time limit', async () => {
    const measured = await runMeasured(['sleep', '30'], { timeoutMs: 300 });
    expect(measured.timedOut).toBe(true);
    expect(measured.wallSeconds).toBeLessThan(10);
  });
});

describe('formatTable', () => {
  it('aligns text left and numbers right, and shows missing values as "-"', () => {
    expect(formatTable(['tool', 'seconds'], [['mb2md', '1.55'], ['python mailbox', null]])).toBe(
      'tool            seconds\n--------------  -------\nmb2md              1.55\npython mailbox        -\n',
    );
  });
});
