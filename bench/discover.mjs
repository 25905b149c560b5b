// Benchmark: `mailshift discover` against `du -s` over the same generated cPanel tree, side by side in one run.
// Issue 3 sets the targets: on 1,000 accounts, 10,000 mailboxes and ~1,000,000 message files, discover's wall time
// within 2x of du -s, and its peak RSS under 300 MB.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateScaleTree } from '../scripts/gen-cpanel-tree.mjs';
import { parseScale, readBenchOptions, readSideBySideValues, sideBySideOptions } from './lib/cli.mjs';
import { readVersion } from './lib/measure.mjs';
import { formatMachineLine, readMachineInfo, writeResultJson } from './lib/results.mjs';
import { openScratch } from './lib/scratch.mjs';
import { runSideBySide } from './lib/side-by-side.mjs';
import { summarizeToolRuns } from './lib/stats.mjs';
import { formatMegabytes, formatSeconds, formatTable } from './lib/table.mjs';

export const summary = 'cPanel inventory: mailshift discover vs du -s over the same tree (1M message files)';

export const usage = `usage: npm run bench -- discover [options]

Generates a seeded cPanel tree (scripts/gen-cpanel-tree.mjs --scale) on a tmpfs, then times
\`mailshift discover ROOT --json\` and \`du -s ROOT\` over it, alternating round by round. Checks that discover's
totals equal what the generator wrote, and compares with the targets of issue 3 (wall time <= 2x du -s, peak RSS
< 300 MB). Writes the full record to bench/out/discover-<time>.json.

options:
  --scale AxMxK    accounts x mailboxes per account (default mailbox included) x messages per mailbox
                   (default 1000x10x100: 1,000 accounts, 10,000 mailboxes, 1,000,000 message files)
  --quick          50x10x100 (50,000 files), a smoke test of the harness
  --runs N         rounds (default 3)
  --with-stat      also time \`discover --stat\` (stats every message file; no target, for information)
  --timeout-s N    per-run time limit (default 600)
  --cli PATH       mailshift CLI to time (default dist/bin/mailshift.js)
  --strict         exit 1 when a check fails or a target is missed`;

const RSS_TARGET_BYTES = 300e6;
const MAX_RATIO_TO_DU = 2;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'with-stat': { type: 'boolean', default: false },
      ...sideBySideOptions,
    },
  });
  return {
    ...readSideBySideValues(values, { runs: 3, timeoutS: 600 }),
    ...parseScale(values.scale ?? (values.quick ? '50x10x100' : '1000x10x100')),
    withStat: values['with-stat'],
  };
}


/** Pure: issue 3's targets. null = not decidable (a side had no successful run). */
export function decideTargets(byTool) {
  const mine = byTool.discover;
  const du = byTool.du;
  const ratio = mine?.medianWallSeconds != null && du?.medianWallSeconds ? mine.medianWallSeconds / du.medianWallSeconds : null;
  return {
    ratioToDu: ratio,
    wallWithin2xOfDu: ratio === null ? null : ratio <= MAX_RATIO_TO_DU,
    peakRssUnder300MB: mine?.worstPeakRssBytes == null ? null : mine.worstPeakRssBytes < RSS_TARGET_BYTES,
  };
}

const verdict = (value) => (value === null ? 'n/a' : value ? 'pass' : 'FAIL');

export async function main(argv) {
  const parsed = readBenchOptions('discover', argv, parseOptions, usage);
  if (!parsed.options) return parsed.exitCode;
  const { options } = parsed;
  const files = options.accounts * options.mailboxesPerAccount * options.messagesPerMailbox;
  // About one 4 KB page per message file, plus directories and control files; tmpfs only uses what is written.
  const scratch = openScratch({ label: 'discover', sizeBytes: files * 8192 + 512 * 1024 * 1024 });
  const machine = readMachineInfo();
  process.stderr.write(`machine: ${formatMachineLine(machine)}\nscratch: ${scratch.dir} (${scratch.kind})\n`);
  try {
    const started = process.hrtime.bigint();
    const { truth, files: written, bytes } = generateScaleTree(
      { accounts: options.accounts, mailboxesPerAccount: options.mailboxesPerAccount, messagesPerMailbox: options.messagesPerMailbox },
      join(scratch.dir, 'tree'),
    );
    const generateSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const root = truth.root;
    const mailboxes = options.accounts * options.mailboxesPerAccount;
    process.stderr.write(`tree: ${options.accounts} accounts, ${mailboxes} mailboxes, ${written} message files, ${formatMegabytes(bytes)} MB, generated in ${formatSeconds(generateSeconds)} s\n`);

    const jsonOut = join(scratch.dir, 'discover.json');
    const discoverContender = (name, extra) => ({
      name,
      // stdout goes to a file through `sh -c exec`, so the document is complete (the harness keeps only 4 MB of
      // stdout) and the measured process is node itself (exec replaces the shell).
      prepare: async () => ({ argv: ['sh', '-c', 'exec "$0" "$@" > "$MAILSHIFT_BENCH_OUT"', process.execPath, options.cli, 'discover', root, '--json', ...extra], env: { ...process.env, MAILSHIFT_BENCH_OUT: jsonOut } }),
      verify: async (_run, measured) => {
        if (measured.exitCode !== 0) return { ok: false, detail: `exit ${measured.exitCode}: ${measured.stderr.slice(-300)}` };
        const doc = JSON.parse(readFileSync(jsonOut, 'utf8'));
        const t = doc.totals;
        const ok = t.messages === written && t.sizeBytes === bytes && t.mailboxes === mailboxes && t.accounts === options.accounts;
        return { ok, messages: t.messages, detail: ok ? 'totals match the generator' : `totals ${JSON.stringify(t)} != ${written} files, ${bytes} bytes` };
      },
      cleanup: async () => rmSync(jsonOut, { force: true }),
    });
    const contenders = [
      discoverContender('discover', []),
      {
        name: 'du',
        prepare: async () => ({ argv: ['du', '-s', root] }),
        verify: async (_run, measured) => ({ ok: measured.exitCode === 0, detail: measured.stdout.trim().split('\t')[0] + ' KiB' }),
        cleanup: async () => {},
      },
    ];
    if (options.withStat) contenders.push(discoverContender('discover-stat', ['--stat']));

    const records = await runSideBySide({
      contenders,
      rounds: options.runs,
      timeoutMs: options.timeoutMs,
      onRun: (r) =>
        process.stderr.write(`  round ${r.round} ${r.tool.padEnd(13)} ${formatSeconds(r.wallSeconds)} s  ${formatMegabytes(r.peakRssBytes)} MB  ${r.verification?.ok ? 'ok' : `FAILED: ${r.verification?.detail}`}\n`),
    });
    const names = contenders.map((c) => c.name);
    const byTool = summarizeToolRuns(records, names);
    const targets = decideTargets(byTool);
    const table = formatTable(
      ['tool', 'runs ok', 'median wall s', 'best wall s', 'files/s (median)', 'peak RSS MB'],
      names.map((n) => [
        n === 'du' ? 'du -s' : n === 'discover' ? 'mailshift discover --json' : 'mailshift discover --json --stat',
        `${byTool[n].okRuns}/${byTool[n].runs}`,
        formatSeconds(byTool[n].medianWallSeconds),
        formatSeconds(byTool[n].bestWallSeconds),
        byTool[n].medianWallSeconds ? Math.round(written / byTool[n].medianWallSeconds).toLocaleString('en-US') : null,
        formatMegabytes(byTool[n].worstPeakRssBytes),
      ]),
    );
    const lines = [
      '',
      `${options.accounts} accounts, ${mailboxes} mailboxes, ${written.toLocaleString('en-US')} message files (${formatMegabytes(bytes)} MB) on ${scratch.kind}; generated in ${formatSeconds(generateSeconds)} s`,
      '',
      table,
      `discover / du -s (median): ${targets.ratioToDu === null ? 'n/a' : `${targets.ratioToDu.toFixed(2)}x`}  target <= ${MAX_RATIO_TO_DU}x: ${verdict(targets.wallWithin2xOfDu)}`,
      `discover peak RSS < 300 MB: ${verdict(targets.peakRssUnder300MB)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const resultPath = writeResultJson('discover', {
      command: `node bench/run.mjs discover ${argv.join(' ')}`.trim(),
      machine,
      scratch: { kind: scratch.kind, sizeBytes: scratch.sizeBytes },
      tree: { accounts: options.accounts, mailboxes, messageFiles: written, bytes, generateSeconds },
      versions: { du: readVersion(['du', '--version'], /du \(GNU coreutils\) (\S+)/), node: process.version },
      records: records.map(({ stdout, ...rest }) => ({ ...rest, stdoutBytes: stdout?.length ?? 0 })),
      summary: byTool,
      targets,
    });
    process.stdout.write(`full record: ${resultPath}\n`);
    const failed = records.some((r) => !r.verification?.ok) || targets.wallWithin2xOfDu === false || targets.peakRssUnder300MB === false;
    return options.strict && failed ? 1 : 0;
  } finally {
    scratch.releaseSync();
  }
}
