// Benchmark: what `mailshift campaign` itself costs per account, over many small accounts copied local to local.
// Issue 15's targets: the campaign's overhead (its wall time minus that of the same copies run directly) under 20 ms
// per account; its peak RSS under 300 MB at 25,000 accounts; a second run of a finished 25,000-account campaign (every
// account skipped) under 10 s. Also the size of its state database.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateScaleTree } from '../scripts/gen-cpanel-tree.mjs';
import { log, readBenchOptions } from './lib/cli.mjs';
import { countMaildirMessages } from './lib/maildir.mjs';
import { readVersion, runMeasured } from './lib/measure.mjs';
import { formatMachineLine, readMachineInfo, REPO_DIR, writeResultJson } from './lib/results.mjs';
import { openScratch } from './lib/scratch.mjs';
import { planRotations } from './lib/side-by-side.mjs';
import { median } from './lib/stats.mjs';
import { formatMegabytes, formatSeconds, formatTable } from './lib/table.mjs';

export const summary = 'campaign overhead per account, peak RSS, state size, resume (1,000 and 25,000 small accounts)';

export const usage = `usage: npm run bench -- campaign [options]

Generates a seeded cPanel root of N small accounts (scripts/gen-cpanel-tree.mjs --scale Nx1xK: one mailbox of K
messages each) on a tmpfs, writes a plan with \`mailshift plan PLAN --from-cpanel SRC --to DST\`, then times, into a
fresh target root each run (its etc/passwd copied from the source, as a cPanel target needs), alternating:
  campaign  mailshift campaign PLAN --stage prestage --concurrency C --per-group C --dir DIR
            (the installed command through its shebang; per-group raised to C because every row of a local plan is
            in one group, 'local', whose default limit of 2 would make it run fewer copies at once than the direct run)
  direct    bench/lib/campaign-direct.mjs: the same engine call per row (runCopyOperation, with the options
            src/campaign/account-stage.ts gives a prestage) C at a time in one Node process, without the campaign:
            no state, lock, scheduler, events or per-account logs; same Node options as the command
  runner    bench/lib/campaign-runner-only.mjs: the campaign's runner and SQLite state alone (runCampaign over
            the plan's rows with a stage that does nothing; no copies): what the campaign does per account without
            a copy's time hiding it; runner-g2 the same with --per-group 2 (the default, below the concurrency)
  loop      (--tools ...,loop) what admins do today: a shell loop running \`mailshift copy SRC#USER DST#USER\` for one
            account after the other; context, run in the first round only
Overhead per account = (campaign wall - direct wall) / N, per round and from the medians. Also the CPU time of the
campaign's Node process minus the direct one's (steadier on a busy machine than wall time), each process's own
peak RSS, the state database's size (campaign.sqlite, -wal, -shm) and, after the last campaign run, the same
command again R times: a resume of a finished campaign, every account skipped. Without campaign runs (--tools
runner) the resume is timed on the state the runner finished: a quick look at a large resume, no copies.
Each run is checked: exit 0, and every message file of the source is in the target.

options:
  --accounts LIST  comma-separated sizes (default 1000,25000)
  --quick          --accounts 200 --runs 1: a smoke test of the harness (~1-2 min)
  --messages K     messages per account, in its one mailbox (default 3)
  --runs N         rounds per size (default 3 up to 5,000 accounts, 1 above)
  --concurrency C  accounts at once, in both (default 6, the campaign's default)
  --tools LIST     subset of campaign,direct,runner,runner-g2,loop (default campaign,direct,runner,runner-g2)
  --resumes R      timed runs of the finished campaign (default 3)
  --timeout-s N    per-run time limit (default 21600)
  --strict         exit 1 when a check fails or a target is missed`;

const MAILSHIFT_CLI = join(REPO_DIR, 'dist', 'bin', 'mailshift.js');
const DIRECT_PROBE = join(REPO_DIR, 'bench', 'lib', 'campaign-direct.mjs');
const RUNNER_PROBE = join(REPO_DIR, 'bench', 'lib', 'campaign-runner-only.mjs');
const USAGE_HOOK = join(REPO_DIR, 'bench', 'lib', 'usage-at-exit.mjs');
const TOOL_NAMES = ['campaign', 'direct', 'runner', 'runner-g2', 'loop'];
const RUNNER_TOOLS = ['runner', 'runner-g2'];
const OVERHEAD_TARGET_MS = 20;
const RSS_TARGET_BYTES = 300e6;
const RSS_TARGET_AT_ACCOUNTS = 25_000;
const RESUME_TARGET_SECONDS = 10;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      accounts: { type: 'string' },
      quick: { type: 'boolean', default: false },
      messages: { type: 'string', default: '3' },
      runs: { type: 'string' },
      concurrency: { type: 'string', default: '6' },
      tools: { type: 'string', default: 'campaign,direct,runner,runner-g2' },
      resumes: { type: 'string', default: '3' },
      'timeout-s': { type: 'string', default: '21600' },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const sizes = (values.accounts ?? (values.quick ? '200' : '1000,25000')).split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 99_999)) throw new Error(`--accounts wants sizes from 1 to 99999, got ${values.accounts}`);
  const tools = values.tools.split(',');
  const unknown = tools.filter((t) => !TOOL_NAMES.includes(t));
  if (unknown.length > 0 || tools.length === 0) throw new Error(`--tools: unknown ${unknown.join(', ')} (choose from ${TOOL_NAMES.join(', ')})`);
  const whole = (text, name, min) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} wants a whole number >= ${min}, got ${text}`);
    return n;
  };
  return {
    help: values.help,
    sizes,
    messages: whole(values.messages, '--messages', 1),
    runs: values.runs !== undefined ? whole(values.runs, '--runs', 1) : values.quick ? 1 : undefined,
    concurrency: whole(values.concurrency, '--concurrency', 1),
    tools: TOOL_NAMES.filter((t) => tools.includes(t)),
    resumes: whole(values.resumes, '--resumes', 0),
    timeoutMs: whole(values['timeout-s'], '--timeout-s', 1) * 1000,
    cli: MAILSHIFT_CLI,
    strict: values.strict,
  };
}

/** The Node options on the CLI's `#!/usr/bin/env -S node ...` line: the direct copies run under the same ones. */
function readShebangNodeOptions(cli) {
  const first = readFileSync(cli, 'utf8').split('\n', 1)[0];
  const m = /^#!.*\bnode\b(.*)$/.exec(first);
  return m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
}

/** Pure: per-round and median overheads, in ms per account; null where a side has no successful run. */
export function decideOverheads(records, accounts) {
  const ok = (tool) => records.filter((r) => r.tool === tool && r.verification?.ok);
  const rounds = [...new Set(records.map((r) => r.round))].map((round) => {
    const campaign = ok('campaign').find((r) => r.round === round);
    const direct = ok('direct').find((r) => r.round === round);
    const perAccount = (a, b) => (a == null || b == null ? null : ((a - b) / accounts) * 1000);
    return {
      round,
      wallMsPerAccount: perAccount(campaign?.wallSeconds, direct?.wallSeconds),
      nodeCpuMsPerAccount: perAccount(campaign?.nodeCpuSeconds, direct?.nodeCpuSeconds),
      treeCpuMsPerAccount: perAccount(campaign?.cpuSeconds, direct?.cpuSeconds),
    };
  });
  const campaignWall = median(ok('campaign').map((r) => r.wallSeconds));
  const directWall = median(ok('direct').map((r) => r.wallSeconds));
  const campaignCpu = median(ok('campaign').map((r) => r.nodeCpuSeconds));
  const directCpu = median(ok('direct').map((r) => r.nodeCpuSeconds));
  return {
    rounds,
    medianWallMsPerAccount: campaignWall === null || directWall === null ? null : ((campaignWall - directWall) / accounts) * 1000,
    medianNodeCpuMsPerAccount: campaignCpu === null || directCpu === null ? null : ((campaignCpu - directCpu) / accounts) * 1000,
  };
}

/** Pure: issue 15's targets for one size. null = not decidable here (no run, or a target for another size). */
export function decideTargets({ accounts, overheads, campaignPeakRssBytes, resumeMedianSeconds }) {
  const atFullSize = accounts >= RSS_TARGET_AT_ACCOUNTS;
  return {
    overheadUnder20ms: overheads.medianWallMsPerAccount === null ? null : overheads.medianWallMsPerAccount < OVERHEAD_TARGET_MS,
    peakRssUnder300MB: !atFullSize || campaignPeakRssBytes == null ? null : campaignPeakRssBytes < RSS_TARGET_BYTES,
    resumeUnder10s: !atFullSize || resumeMedianSeconds == null ? null : resumeMedianSeconds < RESUME_TARGET_SECONDS,
  };
}

const verdict = (value) => (value === null ? 'n/a' : value ? 'pass' : 'FAIL');
const formatMs = (value) => (value === null || value === undefined ? '-' : value.toFixed(1));

function readUsage(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** Sizes of the files in the campaign directory that hold its state; the logs and the report apart. */
function readStateSize(dir) {
  const files = {};
  for (const name of ['campaign.sqlite', 'campaign.sqlite-wal', 'campaign.sqlite-shm']) files[name] = existsSync(join(dir, name)) ? statSync(join(dir, name)).size : 0;
  const logsDir = join(dir, 'logs');
  const logNames = existsSync(logsDir) ? readdirSync(logsDir) : [];
  const logsBytes = logNames.reduce((sum, name) => sum + statSync(join(logsDir, name)).size, 0);
  const reportDir = join(dir, 'report');
  const reportBytes = existsSync(reportDir) ? readdirSync(reportDir).reduce((sum, name) => sum + statSync(join(reportDir, name)).size, 0) : 0;
  return { files, stateBytes: files['campaign.sqlite'] + files['campaign.sqlite-wal'], logs: logNames.length, logsBytes, reportBytes };
}

/** An empty cPanel target root that knows the source's users (a copy into a cPanel root sets owners from its passwd). */
function makeTarget(dir, sourceRoot) {
  rmSync(dir, { recursive: true, force: true });
  for (const sub of ['etc/valiases', 'etc/vfilters', 'etc/vdomainaliases', 'home']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'etc/passwd'), readFileSync(join(sourceRoot, 'etc/passwd')));
}

async function runSize(accounts, options, scratch) {
  const base = join(scratch.dir, `n${accounts}`);
  const sourceDir = join(base, 'source');
  const targetRoot = join(base, 'target');
  const planFile = join(base, 'plan.csv');
  const nodeOptions = readShebangNodeOptions(options.cli);
  const hookEnv = (usageFile) => ({ ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${USAGE_HOOK}`.trim(), MAILSHIFT_BENCH_USAGE_FILE: usageFile });

  log(`== ${accounts.toLocaleString('en-US')} accounts: generating the tree ...`);
  let started = process.hrtime.bigint();
  const { truth, files, bytes } = generateScaleTree({ accounts, mailboxesPerAccount: 1, messagesPerMailbox: options.messages }, sourceDir);
  const generateSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const sourceRoot = truth.root;
  const sourceCount = countMaildirMessages(join(sourceRoot, 'home'));
  log(`   ${files.toLocaleString('en-US')} message files, ${formatMegabytes(bytes)} MB, generated in ${formatSeconds(generateSeconds)} s`);

  makeTarget(targetRoot, sourceRoot);
  const planned = await runMeasured([options.cli, 'plan', planFile, '--from-cpanel', sourceRoot, '--to', targetRoot], { timeoutMs: options.timeoutMs });
  if (planned.exitCode !== 0) throw new Error(`mailshift plan exited ${planned.exitCode}: ${planned.stderr.slice(-500)}`);
  log(`   plan written by mailshift plan in ${formatSeconds(planned.wallSeconds)} s`);
  const users = truth.accounts.map((account) => account.user);
  const usersFile = join(base, 'users.txt');
  writeFileSync(usersFile, `${users.join('\n')}\n`);

  const checkTarget = (measured) => {
    if (measured.exitCode !== 0) return { ok: false, detail: `exit ${measured.exitCode}: ${measured.stderr.slice(-300)}` };
    const copied = countMaildirMessages(join(targetRoot, 'home'));
    const ok = copied.messages === sourceCount.messages && copied.sizeBytes === sourceCount.sizeBytes;
    return { ok, messages: copied.messages, detail: ok ? 'every message file arrived' : `${copied.messages} files / ${copied.sizeBytes} bytes, source ${sourceCount.messages} / ${sourceCount.sizeBytes}` };
  };
  const campaignArgv = (dir) => [options.cli, 'campaign', planFile, '--stage', 'prestage', '--concurrency', String(options.concurrency), '--per-group', String(options.concurrency), '--dir', dir];
  const rounds = options.runs ?? (accounts <= 5000 ? 3 : 1);
  const contenders = {
    campaign: (round) => ({ argv: campaignArgv(join(base, `campaign-${round}`)) }),
    direct: () => ({ argv: [process.execPath, ...nodeOptions, DIRECT_PROBE, planFile, String(options.concurrency), join(base, 'direct-sync')] }),
    runner: (round) => ({ argv: [process.execPath, ...nodeOptions, RUNNER_PROBE, planFile, join(base, `runner-${round}`), String(options.concurrency), String(options.concurrency)] }),
    'runner-g2': (round) => ({ argv: [process.execPath, ...nodeOptions, RUNNER_PROBE, planFile, join(base, `runner-g2-${round}`), String(options.concurrency), '2'] }),
    // The admin's loop: one command per account, one after the other, output to a log (here: nowhere).
    loop: () => ({
      argv: ['bash', '-c', 'failed=0; while read -r u; do "$MAILSHIFT" copy "cpanel:$SRC#$u" "cpanel:$DST#$u" > /dev/null 2>&1 || failed=1; done < "$USERS"; exit $failed'],
      env: { ...process.env, MAILSHIFT: options.cli, SRC: sourceRoot, DST: targetRoot, USERS: usersFile },
    }),
  };

  const records = [];
  const resumes = [];
  let state = null;
  let resumedFrom = null;
  const plan = planRotations(options.tools.filter((t) => t !== 'loop'), rounds);
  if (options.tools.includes('loop')) plan[0].push('loop');
  const lastCampaignRound = options.tools.includes('campaign') ? rounds : null;
  for (const [index, order] of plan.entries()) {
    const round = index + 1;
    for (const tool of order) {
      makeTarget(targetRoot, sourceRoot);
      const usageFile = join(base, `usage-${tool}-${round}.json`);
      const spec = contenders[tool](round);
      const record = { tool, round, loadAverage1m: readLoad() };
      const measured = await runMeasured(spec.argv, { env: spec.env ?? hookEnv(usageFile), timeoutMs: options.timeoutMs });
      const usage = tool === 'loop' ? null : readUsage(usageFile);
      Object.assign(record, measured, {
        stdout: measured.stdout.slice(-2000),
        stderr: measured.stderr.slice(-2000),
        nodeCpuSeconds: usage ? usage.userSeconds + usage.systemSeconds : null,
        nodePeakRssBytes: usage?.maxRssBytes ?? null,
      });
      record.verification = RUNNER_TOOLS.includes(tool) ? checkRunner(measured, accounts) : checkTarget(measured);
      records.push(record);
      log(`   round ${round} ${tool.padEnd(8)} ${formatSeconds(record.wallSeconds)} s wall, node CPU ${formatSeconds(record.nodeCpuSeconds)} s, tree CPU ${formatSeconds(record.cpuSeconds)} s, node peak RSS ${formatMegabytes(record.nodePeakRssBytes) ?? '-'} MB, load ${record.loadAverage1m.toFixed(2)}  ${record.verification.ok ? 'ok' : `FAILED: ${record.verification.detail}`}`);
      // Without campaign runs, the resume is timed on the state the runner finished: every account done, no copies
      // (a quick look at a large resume: --tools runner).
      const resumesHere = tool === 'campaign' ? round === lastCampaignRound : tool === 'runner' && !options.tools.includes('campaign') && round === rounds;
      if (RUNNER_TOOLS.includes(tool) && !resumesHere) rmSync(join(base, `${tool}-${round}`), { recursive: true, force: true });
      if (resumesHere) {
        const dir = join(base, `${tool}-${round}`);
        if (record.verification.ok) {
          resumedFrom = tool;
          state = readStateSize(dir);
          for (let r = 1; r <= options.resumes; r++) resumes.push(await runResume(campaignArgv(dir), accounts, hookEnv(join(base, `usage-resume-${r}.json`)), join(base, `usage-resume-${r}.json`), options, r));
          state.afterResumes = readStateSize(dir).files;
        }
        rmSync(dir, { recursive: true, force: true });
      }
      rmSync(usageFile, { force: true });
    }
  }
  rmSync(targetRoot, { recursive: true, force: true });
  rmSync(base, { recursive: true, force: true });
  return { accounts, files, bytes, generateSeconds, planSeconds: planned.wallSeconds, rounds, records, resumes, resumedFrom, state };
}

/** The runner alone copies nothing: it must have taken every account to done. */
function checkRunner(measured, accounts) {
  if (measured.exitCode !== 0) return { ok: false, detail: `exit ${measured.exitCode}: ${measured.stderr.slice(-300)}` };
  let done;
  try {
    done = JSON.parse(measured.stdout.trim().split('\n').at(-1)).counts.done;
  } catch {
    return { ok: false, detail: `no result line: ${measured.stdout.slice(-300)}` };
  }
  return { ok: done === accounts, detail: done === accounts ? 'every account done' : `${done} of ${accounts} done` };
}

/** The finished campaign's command again: every account already done, nothing copied. */
async function runResume(argv, accounts, env, usageFile, options, r) {
  const measured = await runMeasured(argv, { env, timeoutMs: options.timeoutMs });
  const usage = readUsage(usageFile);
  const expected = `campaign: prestage for 0 of ${accounts} account(s) (${accounts} already done)`;
  const ok = measured.exitCode === 0 && measured.stderr.includes(expected);
  const record = {
    run: r,
    wallSeconds: measured.wallSeconds,
    nodeCpuSeconds: usage ? usage.userSeconds + usage.systemSeconds : null,
    nodePeakRssBytes: usage?.maxRssBytes ?? null,
    exitCode: measured.exitCode,
    ok,
    detail: ok ? 'every account skipped' : `expected "${expected}", exit ${measured.exitCode}: ${measured.stderr.slice(-300)}`,
  };
  log(`   resume ${r}: ${formatSeconds(record.wallSeconds)} s, node peak RSS ${formatMegabytes(record.nodePeakRssBytes) ?? '-'} MB  ${ok ? 'ok' : `FAILED: ${record.detail}`}`);
  return record;
}

function readLoad() {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

function formatSizeReport(size, options) {
  const overheads = decideOverheads(size.records, size.accounts);
  const okOf = (tool) => size.records.filter((r) => r.tool === tool && r.verification.ok);
  const campaignPeakRssBytes = okOf('campaign').reduce((max, r) => Math.max(max, r.nodePeakRssBytes ?? 0), 0) || null;
  const resumeMedianSeconds = median(size.resumes.filter((r) => r.ok).map((r) => r.wallSeconds));
  const resumeCpuSeconds = median(size.resumes.filter((r) => r.ok).map((r) => r.nodeCpuSeconds));
  const targets = decideTargets({ accounts: size.accounts, overheads, campaignPeakRssBytes, resumeMedianSeconds });
  const runs = formatTable(
    ['run', 'wall s', 'node CPU s', 'tree CPU s', 'node peak RSS MB', 'tree peak RSS MB', 'load', 'check'],
    size.records.map((r) => [
      `round ${r.round} ${r.tool}`,
      formatSeconds(r.wallSeconds),
      formatSeconds(r.nodeCpuSeconds),
      formatSeconds(r.cpuSeconds),
      formatMegabytes(r.nodePeakRssBytes),
      formatMegabytes(r.peakTreeRssSampledBytes),
      r.loadAverage1m.toFixed(2),
      r.verification.ok ? 'ok' : 'FAILED',
    ]),
  );
  const perRound = overheads.rounds.map((r) => `round ${r.round}: wall ${formatMs(r.wallMsPerAccount)}, node CPU ${formatMs(r.nodeCpuMsPerAccount)}, tree CPU ${formatMs(r.treeCpuMsPerAccount)}`);
  const loop = okOf('loop')[0];
  const hasPair = options.tools.includes('campaign') && options.tools.includes('direct');
  const runnerLines = RUNNER_TOOLS.filter((tool) => okOf(tool).length > 0).map((tool) => {
    const runs = okOf(tool);
    const cpu = median(runs.map((r) => r.nodeCpuSeconds));
    return `campaign runner alone, no-op stages, --per-group ${tool === 'runner' ? options.concurrency : 2}: median ${formatSeconds(median(runs.map((r) => r.wallSeconds)))} s wall, ${formatMs(cpu === null ? null : (cpu / size.accounts) * 1000)} ms of CPU per account (process start included), peak RSS ${formatMegabytes(Math.max(...runs.map((r) => r.nodePeakRssBytes ?? 0)))} MB`;
  });
  const state = size.state;
  const lines = [
    '',
    `== campaign: ${size.accounts.toLocaleString('en-US')} accounts x 1 mailbox x ${options.messages} messages (${size.files.toLocaleString('en-US')} message files, ${formatMegabytes(size.bytes)} MB), --stage prestage, concurrency ${options.concurrency}, ${size.rounds} round(s) alternating ==`,
    `tree generated in ${formatSeconds(size.generateSeconds)} s; mailshift plan --from-cpanel in ${formatSeconds(size.planSeconds)} s`,
    runs.trimEnd(),
    ...(hasPair
      ? [
          `campaign overhead, ms per account (campaign - direct) / ${size.accounts}:`,
          ...perRound.map((line) => `  ${line}`),
          `  median: wall ${formatMs(overheads.medianWallMsPerAccount)}, node CPU ${formatMs(overheads.medianNodeCpuMsPerAccount)}`,
        ]
      : []),
    ...runnerLines,
    ...(loop ? [`shell loop of mailshift copy, one account after the other: ${formatSeconds(loop.wallSeconds)} s (${formatMs((loop.wallSeconds / size.accounts) * 1000)} ms per account)`] : []),
    size.resumedFrom === null
      ? null
      : state
      ? `state after the ${size.resumedFrom === 'campaign' ? 'campaign' : 'runner (no copies)'}: campaign.sqlite ${formatMegabytes(state.files['campaign.sqlite'], 2)} MB, -wal ${formatMegabytes(state.files['campaign.sqlite-wal'], 2)} MB, -shm ${formatMegabytes(state.files['campaign.sqlite-shm'], 2)} MB (${formatMs(state.stateBytes / size.accounts)} bytes per account); logs/: ${state.logs} files, ${formatMegabytes(state.logsBytes, 2)} MB; report/: ${formatMegabytes(state.reportBytes, 2)} MB`
      : 'state: no successful campaign run',
    size.resumedFrom === null
      ? null
      : size.resumes.length > 0
      ? `resume of the finished ${size.resumedFrom === 'campaign' ? 'campaign' : 'runner\'s state (no copies)'}, mailshift campaign again (every account skipped): ${size.resumes.map((r) => `${formatSeconds(r.wallSeconds)} s${r.ok ? '' : ' FAILED'}`).join(', ')}; median ${formatSeconds(resumeMedianSeconds)} s wall, ${formatSeconds(resumeCpuSeconds)} s CPU; node peak RSS ${formatMegabytes(Math.max(...size.resumes.map((r) => r.nodePeakRssBytes ?? 0)))} MB`
      : 'resume: not run',
    'targets:',
    `  ${verdict(targets.overheadUnder20ms)} overhead < ${OVERHEAD_TARGET_MS} ms per account (median wall): ${formatMs(overheads.medianWallMsPerAccount)} ms`,
    `  ${verdict(targets.peakRssUnder300MB)} campaign peak RSS < 300 MB at ${RSS_TARGET_AT_ACCOUNTS.toLocaleString('en-US')} accounts: ${formatMegabytes(campaignPeakRssBytes) ?? '-'} MB${size.accounts < RSS_TARGET_AT_ACCOUNTS ? ' (at this size; the target is for 25,000)' : ''}`,
    `  ${verdict(targets.resumeUnder10s)} resume of a finished 25,000-account campaign < ${RESUME_TARGET_SECONDS} s: ${formatSeconds(resumeMedianSeconds) ?? '-'} s${size.accounts < RSS_TARGET_AT_ACCOUNTS ? ' (at this size)' : ''}`,
  ];
  return { text: `${lines.filter((line) => line !== null).join('\n')}\n`, overheads, targets, campaignPeakRssBytes, resumeMedianSeconds };
}

export async function main(argv) {
  const parsed = readBenchOptions('campaign', argv, parseOptions, usage);
  if (!parsed.options) return parsed.exitCode;
  const { options } = parsed;
  // Per account ~40 inodes and ~40 KB on each side (source and one target), plus its log and state; tmpfs uses
  // memory only for what is written. The default inode limit of a tmpfs (half the RAM's pages) holds 25,000 easily.
  const largest = Math.max(...options.sizes);
  const scratch = openScratch({ label: 'campaign', sizeBytes: largest * 128 * 1024 + 512 * 1024 * 1024 });
  const machine = readMachineInfo();
  log(`machine: ${formatMachineLine(machine)}\nscratch: ${scratch.dir} (${scratch.kind})`);
  try {
    const sizes = [];
    for (const accounts of options.sizes) {
      const size = await runSize(accounts, options, scratch);
      const report = formatSizeReport(size, options);
      process.stdout.write(report.text);
      sizes.push({ ...size, overheads: report.overheads, targets: report.targets, campaignPeakRssBytes: report.campaignPeakRssBytes, resumeMedianSeconds: report.resumeMedianSeconds });
    }
    const resultPath = writeResultJson('campaign', {
      command: `node bench/run.mjs campaign ${argv.join(' ')}`.trim(),
      machine,
      scratch: { kind: scratch.kind, sizeBytes: scratch.sizeBytes },
      options: { ...options, help: undefined },
      versions: { rsync: readVersion(['rsync', '--version'], /rsync\s+version\s+(\S+)/), node: process.version },
      sizes,
    });
    process.stdout.write(`full record: ${resultPath}\n`);
    const failed = sizes.some((s) => s.records.some((r) => !r.verification.ok) || s.resumes.some((r) => !r.ok) || Object.values(s.targets).includes(false));
    return options.strict && failed ? 1 : 0;
  } finally {
    scratch.releaseSync();
  }
}
