// Benchmark: `mailshift copy` of a whole cPanel account against the equivalent hand-written `rsync -a`, side by
// side in one run. Issue 4's target: mailshift's wall time within 1.05x of raw rsync on ~100,000 messages.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateScaleTree } from '../scripts/gen-cpanel-tree.mjs';
import { parseScale, readBenchOptions, readSideBySideValues, sideBySideOptions } from './lib/cli.mjs';
import { countMaildirMessages } from './lib/maildir.mjs';
import { readVersion } from './lib/measure.mjs';
import { formatMachineLine, readMachineInfo, writeResultJson } from './lib/results.mjs';
import { openScratch } from './lib/scratch.mjs';
import { runSideBySide } from './lib/side-by-side.mjs';
import { summarizeToolRuns } from './lib/stats.mjs';
import { formatMegabytes, formatSeconds, formatTable } from './lib/table.mjs';

export const summary = 'account copy: mailshift copy vs the equivalent rsync -a (100,000 messages)';

export const usage = `usage: npm run bench -- copy [options]

Generates one seeded cPanel account (scripts/gen-cpanel-tree.mjs --scale 1xMxK: the default mailbox plus M-1
mailboxes, K messages each) on a tmpfs, then copies it into a fresh target root with
  mailshift copy cpanel:SRC#USER cpanel:DST#USER --no-chown --json       (the same work as rsync -a)
  rsync -a SRC/home/USER/ DST/home/USER/                                  (hand-written)
  mailshift copy ... with chown                                           (--with-chown: information only)
alternating round by round. Each run is checked: every message file of the source is in the target (count and
bytes), exit 0. Target (issue 4): mailshift's median wall time <= 1.05x rsync -a's.

options:
  --scale 1xMxK    mailboxes (default mailbox included) x messages per mailbox (default 1x10x10000: 100,000 files)
  --quick          1x10x1000 (10,000 files), a smoke test of the harness
  --runs N         rounds (default 3; 2 at full scale)
  --jobs N         mailshift --jobs (default: mailshift's default)
  --with-chown     also time the copy with its automatic chown (what a user gets by default)
  --timeout-s N    per-run time limit (default 900)
  --cli PATH       mailshift CLI to time (default dist/bin/mailshift.js)
  --strict         exit 1 when a check fails or the target is missed`;

const MAX_RATIO = 1.05;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'string' },
      quick: { type: 'boolean', default: false },
      jobs: { type: 'string' },
      'with-chown': { type: 'boolean', default: false },
      ...sideBySideOptions,
    },
  });
  const scale = values.scale ?? (values.quick ? '1x10x1000' : '1x10x10000');
  const { accounts, mailboxesPerAccount, messagesPerMailbox } = parseScale(scale);
  if (accounts !== 1) throw new Error(`--scale wants 1xMxK (one account), got ${scale}`);
  return {
    ...readSideBySideValues(values, { runs: mailboxesPerAccount * messagesPerMailbox >= 50_000 ? 2 : 3, timeoutS: 900 }),
    mailboxesPerAccount,
    messagesPerMailbox,
    jobs: values.jobs,
    withChown: values['with-chown'],
  };
}


/** Pure: issue 4's target. null = not decidable (a side had no successful run). */
export function decideTarget(byTool) {
  const mine = byTool.mailshift?.medianWallSeconds;
  const raw = byTool.rsync?.medianWallSeconds;
  const ratio = mine != null && raw ? mine / raw : null;
  return { ratioToRsync: ratio, within105: ratio === null ? null : ratio <= MAX_RATIO };
}

const verdict = (value) => (value === null ? 'n/a' : value ? 'pass' : 'FAIL');

export async function main(argv) {
  const parsed = readBenchOptions('copy', argv, parseOptions, usage);
  if (!parsed.options) return parsed.exitCode;
  const { options } = parsed;
  const files = options.mailboxesPerAccount * options.messagesPerMailbox;
  // Source + one target at a time, ~8 KB of tmpfs per message file (mean size ~3 KB, rounded up to pages).
  const scratch = openScratch({ label: 'copy', sizeBytes: files * 2 * 12288 + 512 * 1024 * 1024 });
  const machine = readMachineInfo();
  process.stderr.write(`machine: ${formatMachineLine(machine)}\nscratch: ${scratch.dir} (${scratch.kind})\n`);
  try {
    const started = process.hrtime.bigint();
    const { truth, files: written, bytes } = generateScaleTree(
      { accounts: 1, mailboxesPerAccount: options.mailboxesPerAccount, messagesPerMailbox: options.messagesPerMailbox },
      join(scratch.dir, 'tree'),
    );
    const generateSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const root = truth.root;
    const user = truth.accounts[0].user;
    const sourceMail = join(root, 'home', user, 'mail');
    const sourceCount = countMaildirMessages(sourceMail);
    process.stderr.write(`tree: 1 account, ${options.mailboxesPerAccount} mailboxes, ${written} message files, ${formatMegabytes(bytes)} MB, generated in ${formatSeconds(generateSeconds)} s\n`);

    const targetRoot = (name) => join(scratch.dir, `target-${name}`);
    const makeTarget = (name) => {
      const dst = targetRoot(name);
      rmSync(dst, { recursive: true, force: true });
      for (const dir of ['etc/valiases', 'etc/vfilters', 'etc/vdomainaliases', 'home']) mkdirSync(join(dst, dir), { recursive: true });
      writeFileSync(join(dst, 'etc/passwd'), `root:x:0:0::/root:/bin/bash\n${user}:x:5001:5001::/home/${user}:/bin/bash\n`);
      writeFileSync(join(dst, 'etc/group'), `root:x:0:\nmail:x:8:\n${user}:x:5001:\n`);
      return dst;
    };
    const checkTarget = (name, measured) => {
      if (measured.exitCode !== 0) return { ok: false, detail: `exit ${measured.exitCode}: ${measured.stderr.slice(-300)}` };
      const copied = countMaildirMessages(join(targetRoot(name), 'home', user, 'mail'));
      const ok = copied.messages === sourceCount.messages && copied.sizeBytes === sourceCount.sizeBytes;
      return { ok, messages: copied.messages, detail: ok ? 'every message file arrived' : `${copied.messages} files / ${copied.sizeBytes} bytes, source ${sourceCount.messages} / ${sourceCount.sizeBytes}` };
    };
    // The target is deleted after every run, untimed; on tmpfs that costs no later run anything (see README).
    const cleanup = (name) => async () => rmSync(targetRoot(name), { recursive: true, force: true });
    const jobs = options.jobs ? ['--jobs', options.jobs] : [];
    const mailshift = (name, extra) => ({
      name,
      prepare: async () => {
        const dst = makeTarget(name);
        return { argv: [process.execPath, options.cli, '--json', '--quiet', 'copy', ...jobs, ...extra, `cpanel:${root}#${user}`, `cpanel:${dst}#${user}`] };
      },
      verify: async (_run, measured) => checkTarget(name, measured),
      cleanup: cleanup(name),
    });
    const contenders = [
      mailshift('mailshift', ['--no-chown']),
      {
        name: 'rsync',
        prepare: async () => {
          const dst = makeTarget('rsync');
          return { argv: ['rsync', '-a', `${join(root, 'home', user)}/`, `${join(dst, 'home', user)}/`] };
        },
        verify: async (_run, measured) => checkTarget('rsync', measured),
        cleanup: cleanup('rsync'),
      },
    ];
    if (options.withChown) contenders.push(mailshift('mailshift-chown', []));

    const records = await runSideBySide({
      contenders,
      rounds: options.runs,
      timeoutMs: options.timeoutMs,
      onRun: (r) =>
        process.stderr.write(`  round ${r.round} ${r.tool.padEnd(15)} ${formatSeconds(r.wallSeconds)} s  ${formatMegabytes(r.peakRssBytes)} MB  ${r.verification?.ok ? 'ok' : `FAILED: ${r.verification?.detail}`}\n`),
    });
    const names = contenders.map((c) => c.name);
    const byTool = summarizeToolRuns(records, names);
    const target = decideTarget(byTool);
    const labels = {
      mailshift: `mailshift copy --no-chown${options.jobs ? ` --jobs ${options.jobs}` : ''}`,
      rsync: 'rsync -a',
      'mailshift-chown': `mailshift copy (with chown)${options.jobs ? ` --jobs ${options.jobs}` : ''}`,
    };
    const table = formatTable(
      ['tool', 'runs ok', 'median wall s', 'best wall s', 'files/s (median)', 'MB/s (median)', 'peak RSS MB'],
      names.map((n) => [
        labels[n],
        `${byTool[n].okRuns}/${byTool[n].runs}`,
        formatSeconds(byTool[n].medianWallSeconds),
        formatSeconds(byTool[n].bestWallSeconds),
        byTool[n].medianWallSeconds ? Math.round(written / byTool[n].medianWallSeconds).toLocaleString('en-US') : null,
        byTool[n].medianWallSeconds ? (bytes / 1e6 / byTool[n].medianWallSeconds).toFixed(0) : null,
        formatMegabytes(byTool[n].worstPeakRssBytes),
      ]),
    );
    const lines = [
      '',
      `1 account, ${options.mailboxesPerAccount} mailboxes, ${written.toLocaleString('en-US')} message files (${formatMegabytes(bytes)} MB) on ${scratch.kind}; generated in ${formatSeconds(generateSeconds)} s`,
      '',
      table,
      `mailshift / rsync -a (median): ${target.ratioToRsync === null ? 'n/a' : `${target.ratioToRsync.toFixed(3)}x`}  target <= ${MAX_RATIO}x: ${verdict(target.within105)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const resultPath = writeResultJson('copy', {
      command: `node bench/run.mjs copy ${argv.join(' ')}`.trim(),
      machine,
      scratch: { kind: scratch.kind, sizeBytes: scratch.sizeBytes },
      tree: { accounts: 1, mailboxes: options.mailboxesPerAccount, messageFiles: written, bytes, generateSeconds },
      versions: { rsync: readVersion(['rsync', '--version'], /rsync\s+version\s+(\S+)/), node: process.version },
      records: records.map(({ stdout, ...rest }) => ({ ...rest, stdoutBytes: stdout?.length ?? 0 })),
      summary: byTool,
      target,
    });
    process.stdout.write(`full record: ${resultPath}\n`);
    const failed = records.some((r) => !r.verification?.ok) || target.within105 === false;
    return options.strict && failed ? 1 : 0;
  } finally {
    scratch.releaseSync();
  }
}
