// Benchmark: mbox -> maildir conversion. mailshift against Dovecot's own conversion (doveadm backup from an mbox
// location, mail_fsync=never), mb2md and Python's mailbox module, side by side in one run on the same tmpfs.
// Issue 2 sets the targets: mailshift >= 5x faster than Dovecot, >= 1.5x faster than mb2md, peak RSS < 200 MB.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateMboxCorpus } from '../scripts/gen-mbox-corpus.mjs';
import { log, readBenchOptions } from './lib/cli.mjs';
import { chownTreeSync, setupDoveadm } from './lib/dovecot.mjs';
import { countMaildirMessages } from './lib/maildir.mjs';
import { hasGnuTime, readVersion } from './lib/measure.mjs';
import { BENCH_DIR, formatMachineLine, readMachineInfo, REPO_DIR, writeResultJson } from './lib/results.mjs';
import { openScratch, warnLoudly } from './lib/scratch.mjs';
import { runSideBySide } from './lib/side-by-side.mjs';
import { summarizeCorpusRuns } from './lib/stats.mjs';
import { formatMegabytes, formatRate, formatSeconds, formatTable } from './lib/table.mjs';
import { available, findExecutable, INSTALL_HINT, unavailable } from './lib/tools.mjs';

export const summary = 'mbox -> maildir: mailshift vs Dovecot (doveadm backup), mb2md, Python mailbox';

export const usage = `usage: npm run bench -- convert [options]

Generates seeded mbox corpora on a tmpfs and times each tool converting them into a fresh maildir, alternating
tools round by round. Prints wall time, messages/s, MB/s and peak RSS, checks every output holds all messages,
and compares mailshift with the targets of issue 2. Writes the full record to bench/out/convert-<time>.json.

options:
  --sizes N,N      corpus sizes in messages (default 10000,100000)
  --quick          one 2,000-message corpus, one round (a smoke test of the harness)
  --runs N         rounds per size (default 3 for sizes up to 20,000 messages, 1 above)
  --seed N         corpus seed (default 1)
  --tools a,b      subset of: ${'mailshift,dovecot,mb2md,python'}
  --timeout-s N    per-run time limit (default 1800)
  --fs tmpfs|ext4  scratch filesystem: tmpfs (default) or a journaled ext4 image on a loop device
  --cli PATH       mailshift CLI to time (default dist/bin/mailshift.js; e.g. another checkout's build)
  --strict         exit 1 when an output is incomplete or a target is missed`;

const TOOL_NAMES = ['mailshift', 'dovecot', 'mb2md', 'python'];
const TOOL_LABELS = {
  mailshift: 'mailshift',
  dovecot: 'dovecot backup',
  mb2md: 'mb2md',
  python: 'python mailbox',
};
const MAILSHIFT_CLI = join(REPO_DIR, 'dist', 'bin', 'mailshift.js');
const PYTHON_PEER = join(BENCH_DIR, 'peers', 'python_mailbox_convert.py');
const RSS_TARGET_BYTES = 200e6;
export const TARGETS = [
  { peer: 'dovecot', minSpeedup: 5 },
  { peer: 'mb2md', minSpeedup: 1.5 },
];
/** Corpus bytes per message, on the high side (seed 1 gives ~18 KB; other seeds vary with the MB-sized tail). */
const ESTIMATED_BYTES_PER_MESSAGE = 24 * 1024;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string' },
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      seed: { type: 'string', default: '1' },
      tools: { type: 'string' },
      'timeout-s': { type: 'string', default: '1800' },
      strict: { type: 'boolean', default: false },
      cli: { type: 'string', default: MAILSHIFT_CLI },
      fs: { type: 'string', default: 'tmpfs' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const toInt = (text, what) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a whole number, got ${JSON.stringify(text)}`);
    return n;
  };
  const sizes = values.quick && !values.sizes
    ? [2000]
    : (values.sizes ?? '10000,100000').split(',').map((s) => toInt(s.trim(), '--sizes'));
  if (sizes.some((n) => n < 1)) throw new Error('--sizes must be at least 1 message');
  const tools = values.tools ? values.tools.split(',').map((t) => t.trim()) : TOOL_NAMES;
  const unknown = tools.filter((t) => !TOOL_NAMES.includes(t));
  if (unknown.length) throw new Error(`unknown tool(s) ${unknown.join(', ')}; choose from ${TOOL_NAMES.join(', ')}`);
  if (!['tmpfs', 'ext4'].includes(values.fs)) throw new Error(`--fs must be tmpfs or ext4, got ${JSON.stringify(values.fs)}`);
  const runs = values.runs !== undefined ? toInt(values.runs, '--runs') : null;
  if (runs === 0) throw new Error('--runs must be at least 1');
  return {
    help: values.help,
    sizes,
    roundsFor: (messages) => runs ?? (values.quick ? 1 : messages <= 20000 ? 3 : 1),
    seed: toInt(values.seed, '--seed'),
    tools,
    timeoutMs: toInt(values['timeout-s'], '--timeout-s') * 1000,
    isStrict: values.strict,
    cliPath: resolve(values.cli),
    fsType: values.fs,
  };
}

/** Which tools can run here, and their versions. */
function probeTools(names, cliPath) {
  const probes = {
    mailshift() {
      if (!existsSync(cliPath)) return unavailable(`${cliPath} is not built (npm run build)`);
      const help = spawnSync(process.execPath, [cliPath, 'convert', '--help'], { encoding: 'utf8', timeout: 30000 });
      // Without a convert command commander prints the root help (exit 0), so look for the command's own usage.
      if (help.status !== 0 || !/^Usage: \S+ convert/m.test(help.stdout ?? '')) {
        const why = help.status !== 0
          ? `${help.stderr ?? ''}${help.stdout ?? ''}`.trim().split('\n')[0] || `exit ${help.status}`
          : '`convert --help` shows no convert usage';
        return unavailable(`this build has no convert command yet (${why})`);
      }
      const version = readVersion([process.execPath, cliPath, '--version']);
      const checkout = dirname(dirname(dirname(cliPath))); // CHECKOUT/dist/bin/mailshift.js
      const commit = readVersion(['git', '-C', checkout, 'rev-parse', '--short', 'HEAD']);
      const dirty = readVersion(['git', '-C', checkout, 'status', '--porcelain', '--', 'src', 'converters']) ? '+dirty' : '';
      return available(`${version}${commit ? ` (${commit}${dirty})` : ''}`, { path: cliPath });
    },
    dovecot() {
      if (!findExecutable('doveadm')) return unavailable(`doveadm not found; ${INSTALL_HINT}`);
      return available(readVersion(['dovecot', '--version']));
    },
    mb2md() {
      const path = findExecutable('mb2md');
      if (!path) return unavailable(`mb2md not found; ${INSTALL_HINT}`);
      const pkg = readVersion(['dpkg-query', '-W', '-f=${Version}', 'mb2md']);
      return available(pkg ? `${pkg} (Debian package)` : 'unknown version', { path });
    },
    python() {
      const python = findExecutable('python3');
      if (!python) return unavailable('python3 not found');
      // Resolve the real interpreter once, so a pyenv shim's start-up is not timed as Python's.
      const out = spawnSync(python, ['-c', 'import sys, mailbox; print(sys.executable); print(sys.version.split()[0])'], {
        encoding: 'utf8',
      });
      if (out.status !== 0) return unavailable(`python3 cannot import mailbox: ${out.stderr.trim()}`);
      const [executable, version] = out.stdout.trim().split('\n');
      return available(`Python ${version}`, { executable });
    },
  };
  return Object.fromEntries(names.map((name) => [name, probes[name]()]));
}

function readSourceStamp(path) {
  const st = statSync(path);
  return `${st.size}:${st.mtimeMs}`;
}

function tryParseJson(text) {
  const trimmed = text.trim();
  if (!trimmed) return null;
  try {
    return JSON.parse(trimmed);
  } catch {
    return null;
  }
}

function firstLine(text) {
  return (text ?? '').trim().split('\n').find((l) => l.trim()) ?? '';
}

/** Judges one run: did the tool exit cleanly and write every message? */
export function classifyRun({ measured, counted, expectedMessages }) {
  if (measured.spawnError) return { ok: false, detail: `could not start: ${measured.spawnError}` };
  if (measured.timedOut) return { ok: false, detail: 'timed out' };
  if (measured.exitCode !== 0) {
    const why = firstLine(measured.stderr) || firstLine(measured.stdout);
    return { ok: false, detail: `exit ${measured.exitCode ?? measured.signal}${why ? `: ${why.slice(0, 160)}` : ''}` };
  }
  if (counted.messages !== expectedMessages) {
    return { ok: false, detail: `MISMATCH: ${counted.messages} of ${expectedMessages} messages in the output` };
  }
  return { ok: true, detail: `${counted.messages} messages` };
}

function buildContenders({ names, probes, workDir, corpusPath, expectedMessages }) {
  const outDir = (name) => join(workDir, `out-${name}`);
  const check = (name, outputPath) => async (run, measured) => {
    const counted = countMaildirMessages(outputPath);
    const verdict = classifyRun({ measured, counted, expectedMessages });
    const sourceStamp = readSourceStamp(corpusPath);
    const isSourceModified = sourceStamp !== corpusStamp;
    if (isSourceModified) {
      verdict.ok = false;
      verdict.detail = `SOURCE MODIFIED by ${name}; ${verdict.detail}`;
    }
    return { ...verdict, messages: counted.messages, outputBytes: counted.sizeBytes, folders: counted.folders,
      isSourceModified };
  };
  const corpusStamp = readSourceStamp(corpusPath);
  const removeOutput = (path) => async () => rmSync(path, { recursive: true, force: true });

  const all = {
    mailshift: {
      async prepare() {
        // Run as users run the installed `mailshift` command: the script itself, so its shebang's Node options
        // (a small young generation for lower memory) apply, as they do for the npm bin.
        return { argv: [probes.mailshift.path, 'convert', corpusPath, outDir('mailshift'), '--json'], cwd: REPO_DIR };
      },
      async verify(run, measured) {
        const verdict = await check('mailshift', outDir('mailshift'))(run, measured);
        return { ...verdict, report: tryParseJson(measured.stdout) };
      },
      cleanup: removeOutput(outDir('mailshift')),
    },
    dovecot: (() => {
      const dir = join(workDir, 'dovecot');
      const target = join(dir, 'dst', 'Maildir');
      return {
        async prepare() {
          // Dovecot rewrites the mbox it reads (it adds X-UID, Status, X-IMAPbase...), so it gets a private copy,
          // made before the clock starts.
          rmSync(dir, { recursive: true, force: true });
          const doveadm = setupDoveadm(dir);
          mkdirSync(join(dir, 'src', 'mail'), { recursive: true });
          mkdirSync(join(dir, 'dst'), { recursive: true });
          copyFileSync(corpusPath, join(dir, 'src', 'INBOX'));
          chownTreeSync(dir, doveadm.ids.uid, doveadm.ids.gid);
          const src = join(dir, 'src');
          return {
            argv: doveadm.doveadm(['-o', `mail_location=mbox:${src}/mail:INBOX=${src}/INBOX`, 'backup', `maildir:${target}`]),
            env: doveadm.env,
            cwd: dir,
          };
        },
        verify: (run, measured) => check('dovecot', target)(run, measured),
        cleanup: removeOutput(dir),
      };
    })(),
    mb2md: {
      async prepare() {
        // -s: a single mbox file when it is a file; -d: the maildir to create (absolute, else it is under $HOME).
        return { argv: [probes.mb2md.path, '-s', corpusPath, '-d', outDir('mb2md')], cwd: workDir };
      },
      verify: (run, measured) => check('mb2md', outDir('mb2md'))(run, measured),
      cleanup: removeOutput(outDir('mb2md')),
    },
    python: {
      async prepare() {
        return { argv: [probes.python.executable, PYTHON_PEER, corpusPath, outDir('python')], cwd: workDir };
      },
      verify: (run, measured) => check('python', outDir('python'))(run, measured),
      cleanup: removeOutput(outDir('python')),
    },
  };
  return names.map((name) => ({ name, ...all[name] }));
}

/** Pure: issue 2's targets against one corpus's summary. */
export function decideTargets(summaryByTool) {
  const mine = summaryByTool.mailshift;
  const verdicts = [];
  for (const { peer, minSpeedup } of TARGETS) {
    const name = `mailshift >= ${minSpeedup}x faster than ${TOOL_LABELS[peer]}`;
    const theirs = summaryByTool[peer];
    if (!mine?.medianSeconds || !theirs?.medianSeconds) {
      const missing = !mine?.medianSeconds ? 'mailshift' : TOOL_LABELS[peer];
      verdicts.push({ name, status: 'n/a', reason: `no successful ${missing} run` });
      continue;
    }
    const speedup = theirs.medianSeconds / mine.medianSeconds;
    verdicts.push({ name, status: speedup >= minSpeedup ? 'pass' : 'FAIL', measured: `${speedup.toFixed(2)}x`, speedup });
  }
  const rssName = `mailshift peak RSS < ${RSS_TARGET_BYTES / 1e6} MB`;
  if (!mine?.peakRssBytes) {
    verdicts.push({ name: rssName, status: 'n/a', reason: 'no successful mailshift run' });
  } else {
    verdicts.push({ name: rssName, status: mine.peakRssBytes < RSS_TARGET_BYTES ? 'pass' : 'FAIL',
      measured: `${formatMegabytes(mine.peakRssBytes)} MB` });
  }
  return verdicts;
}

function formatSummaryTable(summaryByTool, names) {
  const rows = names.map((name) => {
    const s = summaryByTool[name];
    return [
      TOOL_LABELS[name], `${s.okRuns}/${s.runs}`, formatSeconds(s.medianSeconds), formatSeconds(s.bestSeconds),
      formatRate(s.messagesPerSecond), formatRate(s.megabytesPerSecond), formatMegabytes(s.peakRssBytes),
      s.maxProcesses, s.problem ? s.problem : 'ok',
    ];
  });
  return formatTable(['tool', 'ok', 'median s', 'best s', 'msg/s', 'MB/s', 'peak RSS MB', 'procs', 'check'], rows,
    { alignLeft: [0, 8] });
}

function formatRatios(summaryByTool, names) {
  const mine = summaryByTool.mailshift;
  if (!mine?.medianSeconds) return '';
  const lines = names.filter((n) => n !== 'mailshift' && summaryByTool[n]?.medianSeconds).map((n) =>
    `  vs ${TOOL_LABELS[n]}: ${(summaryByTool[n].medianSeconds / mine.medianSeconds).toFixed(2)}x`);
  return lines.length ? `mailshift speed-up (peer median / mailshift median; above 1 = mailshift faster):\n${lines.join('\n')}\n` : '';
}

function compactRecord(record) {
  const { stdout, stderr, ...rest } = record;
  const keep = (text) => (text && text.length > 2000 ? `…${text.slice(-2000)}` : text);
  return { ...rest, stdoutTail: keep(stdout), stderrTail: keep(stderr) };
}

export async function main(argv) {
  const parsed = readBenchOptions('convert', argv, parseOptions, usage);
  if (!parsed.options) return parsed.exitCode;
  const { options } = parsed;
  const machine = readMachineInfo();
  const probes = probeTools(options.tools, options.cliPath);
  const names = options.tools.filter((name) => probes[name].ok);
  for (const name of options.tools) {
    const p = probes[name];
    log(`${TOOL_LABELS[name].padEnd(15)} ${p.ok ? p.version : `UNAVAILABLE: ${p.reason}`}`);
  }
  if (!hasGnuTime()) log('note: /usr/bin/time missing, peak RSS is sampled only (' + INSTALL_HINT + ')');

  const largest = Math.max(...options.sizes);
  // Room for the corpus, Dovecot's private copy of it, and one tool's output (tmpfs rounds every file up to a page).
  const scratchBytes = largest * (ESTIMATED_BYTES_PER_MESSAGE * 3 + 8192) + 512 * 1024 * 1024;
  const scratch = openScratch({ label: 'convert', sizeBytes: scratchBytes, fsType: options.fsType });
  log(`scratch: ${scratch.dir} (${scratch.kind}${scratch.sizeBytes ? `, ${formatMegabytes(scratch.sizeBytes, 0)} MB` : ''})`);

  const startedAt = new Date().toISOString();
  const result = {
    benchmark: 'convert',
    command: `${process.env.npm_lifecycle_event === 'bench' ? 'npm run bench --' : 'node bench/run.mjs'} convert` +
      `${argv.length ? ` ${argv.join(' ')}` : ''}`,
    startedAt,
    machine,
    scratch: { kind: scratch.kind, sizeBytes: scratch.sizeBytes },
    options: { sizes: options.sizes, seed: options.seed, tools: options.tools, timeoutMs: options.timeoutMs,
      fsType: options.fsType },
    tools: Object.fromEntries(options.tools.map((n) => [n, probes[n]])),
    targets: { ...Object.fromEntries(TARGETS.map((t) => [t.peer, `${t.minSpeedup}x`])), rssBytes: RSS_TARGET_BYTES },
    sizes: [],
  };
  let hasProblem = false;
  try {
    for (const messages of options.sizes) {
      const rounds = options.roundsFor(messages);
      const workDir = join(scratch.dir, `n${messages}`);
      mkdirSync(workDir, { recursive: true });
      const corpusPath = join(workDir, 'corpus.mbox');
      log(`\ngenerating ${messages} messages (seed ${options.seed}) ...`);
      const generated = generateMboxCorpus({ messages, seed: options.seed, out: corpusPath });
      const corpus = { messages, seed: options.seed, sizeBytes: generated.sizeBytes, generationSeconds: generated.seconds };
      log(`corpus: ${formatMegabytes(corpus.sizeBytes)} MB in ${generated.seconds.toFixed(1)} s; ${rounds} round(s) of ` +
        `${names.join(', ') || 'nothing'}`);
      const contenders = buildContenders({ names, probes, workDir, corpusPath, expectedMessages: messages });
      const records = await runSideBySide({
        contenders,
        rounds,
        timeoutMs: options.timeoutMs,
        onRun: (r) => log(`  [${messages}] round ${r.round} ${TOOL_LABELS[r.tool].padEnd(15)} ` +
          `${formatSeconds(r.wallSeconds) ?? '-'} s  ${formatMegabytes(r.peakRssBytes) ?? '-'} MB  ` +
          `${r.verification.ok ? 'ok' : 'FAILED'}: ${r.verification.detail}`),
      });
      rmSync(workDir, { recursive: true, force: true });
      const summaryByTool = summarizeCorpusRuns({ records, names, corpus });
      const verdicts = decideTargets(summaryByTool);
      for (const r of records) {
        if (!r.verification.ok && r.tool !== 'mailshift') hasProblem = true;
        if (r.verification.isSourceModified) hasProblem = true;
        if (r.verification.detail?.startsWith('MISMATCH')) {
          warnLoudly([`${TOOL_LABELS[r.tool]} round ${r.round}: ${r.verification.detail}`]);
          hasProblem = true;
        }
      }
      if (verdicts.some((v) => v.status !== 'pass')) hasProblem = true;
      result.sizes.push({ corpus, rounds, summary: summaryByTool, verdicts, runs: records.map(compactRecord) });

      let text = `\n== convert: ${messages.toLocaleString('en-US')} messages, ${formatMegabytes(corpus.sizeBytes)} MB mbox ` +
        `(seed ${options.seed}), ${rounds} round(s) alternating, scratch on ${scratch.kind === 'plain directory' ? 'ROOT DISK (not comparable)' : scratch.kind} ==\n`;
      text += formatSummaryTable(summaryByTool, names);
      text += formatRatios(summaryByTool, names);
      text += `targets:\n${verdicts.map((v) => `  ${v.status.padEnd(4)} ${v.name}${v.measured ? `: ${v.measured}` : ''}${v.reason ? ` (${v.reason})` : ''}`).join('\n')}\n`;
      process.stdout.write(text);
    }
  } finally {
    scratch.releaseSync();
  }
  const unavailableTools = options.tools.filter((n) => !probes[n].ok);
  if (unavailableTools.length) {
    const text = `\nnot run: ${unavailableTools.map((n) => `${TOOL_LABELS[n]} (${probes[n].reason})`).join('; ')}\n`;
    process.stdout.write(text);
  }
  result.finishedAt = new Date().toISOString();
  const path = writeResultJson('convert', result);
  process.stdout.write(`\nmachine: ${formatMachineLine(machine)}\nresults: ${path}\n`);
  return options.isStrict && hasProblem ? 1 : 0;
}
