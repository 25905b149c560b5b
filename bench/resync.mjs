// Benchmark: the post-cutover catch-up. A maildir is copied, then the source gets 1% new messages and 5% flag
// renames; `mailshift resync` is timed against a plain `rsync -a` re-run (no --delete) and against Dovecot's
// incremental `doveadm backup` between the two maildirs, side by side in one run. Issue 5's target: at 100,000
// messages, resync no slower than the plain rsync re-run, and no duplicates left on the target (rsync leaves one per
// renamed message).
import { spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readSync, closeSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readBenchOptions } from './lib/cli.mjs';
import { chownTreeSync, setupDoveadm } from './lib/dovecot.mjs';
import { readVersion } from './lib/measure.mjs';
import { formatMachineLine, readMachineInfo, REPO_DIR, writeResultJson } from './lib/results.mjs';
import { openScratch } from './lib/scratch.mjs';
import { runSideBySide } from './lib/side-by-side.mjs';
import { median, minimum } from './lib/stats.mjs';
import { formatSeconds, formatTable } from './lib/table.mjs';

export const summary = 'post-cutover catch-up: mailshift resync vs rsync -a re-run vs doveadm backup (100,000 messages)';

export const usage = `usage: npm run bench -- resync [options]

Generates a seeded Maildir++ tree (INBOX, Sent, Archive) on a tmpfs and copies it (rsync -a for rsync and mailshift,
an initial doveadm backup for Dovecot). Then the source gets 1% new messages and 5% flag renames, and each tool
catches the target up, alternating round by round (every run starts from a fresh copy of the copied target, made
untimed):
  mailshift resync SRC DST --json
  rsync -a SRC/ DST/                                   (the usual advice: "run rsync again", no --delete)
  doveadm -o mail_location=maildir:SRC backup maildir:DST   (Dovecot's one-way catch-up, as nobody)
Each run is checked: every message (by Message-ID) is on the target, and the duplicates it left are counted
(files minus distinct Message-IDs). Target (issue 5): mailshift's median wall time <= rsync's, 0 duplicates.

options:
  --messages N     messages in the copied maildir (default 100000)
  --quick          10,000 messages, one round (a smoke test of the harness)
  --runs N         rounds (default 2)
  --tools a,b      subset of: mailshift,rsync,dovecot
  --timeout-s N    per-run time limit (default 900)
  --cli PATH       mailshift CLI to time (default dist/bin/mailshift.js)
  --strict         exit 1 when a check fails or the target is missed`;

const MAILSHIFT_CLI = join(REPO_DIR, 'dist', 'bin', 'mailshift.js');
const TOOL_NAMES = ['mailshift', 'rsync', 'dovecot'];
const LABELS = { mailshift: 'mailshift resync', rsync: 'rsync -a (re-run)', dovecot: 'doveadm backup' };
const FOLDERS = [
  { dir: '', share: 0.6 },
  { dir: '.Sent', share: 0.2 },
  { dir: '.Archive', share: 0.2 },
];

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string' },
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      tools: { type: 'string' },
      'timeout-s': { type: 'string', default: '900' },
      cli: { type: 'string', default: MAILSHIFT_CLI },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const messages = Number(values.messages ?? (values.quick ? 10000 : 100000));
  if (!Number.isInteger(messages) || messages < 100) throw new Error('--messages must be a whole number >= 100');
  const tools = (values.tools ?? TOOL_NAMES.join(',')).split(',').map((t) => t.trim());
  for (const t of tools) if (!TOOL_NAMES.includes(t)) throw new Error(`unknown tool ${t}`);
  return {
    help: values.help,
    messages,
    runs: Number(values.runs ?? (values.quick ? 1 : 2)),
    tools,
    timeoutMs: Number(values['timeout-s']) * 1000,
    cli: values.cli,
    strict: values.strict,
  };
}

/** A small seeded PRNG (mulberry32): the same tree every run. */
function makeRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function messageText(i, random) {
  // Message-ID first: the duplicate check reads only the first line of each file.
  const bodyLines = 20 + Math.floor(random() * 80);
  const body = [];
  for (let l = 0; l < bodyLines; l++) body.push(`line ${l} of message ${i}: ${'lorem ipsum dolor sit amet '.repeat(1 + (l % 2))}`);
  return `Message-ID: <bench-${i}@mailshift.bench>\nFrom: a@example.com\nTo: b@example.com\nSubject: message ${i}\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\n${body.join('\n')}\n`;
}

function folderFor(random) {
  const r = random();
  let acc = 0;
  for (const f of FOLDERS) {
    acc += f.share;
    if (r < acc) return f.dir;
  }
  return FOLDERS[0].dir;
}

/** Writes message i into root (cur/ with flags, or new/); returns its relative path. */
function writeMessage(root, i, random, { forceNew = false } = {}) {
  const text = messageText(i, random);
  const folder = folderFor(random);
  const isNew = forceNew || random() < 0.1;
  const base = `${1_700_000_000 + i}.M${i}P4242.bench.example,S=${Buffer.byteLength(text)}`;
  const rel = isNew ? join(folder, 'new', base) : join(folder, 'cur', `${base}:2,${random() < 0.3 ? 'RS' : 'S'}`);
  writeFileSync(join(root, rel), text);
  utimesSync(join(root, rel), 1_700_000_000 + i, 1_700_000_000 + i);
  return rel;
}

function makeTree(root) {
  for (const f of FOLDERS) {
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(root, f.dir, sub), { recursive: true });
    if (f.dir) writeFileSync(join(root, f.dir, 'maildirfolder'), '');
  }
}

function cpA(from, to) {
  const r = spawnSync('cp', ['-a', '--', from, to], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp -a ${from} ${to}: ${r.stderr}`);
}

/** The mutation after the copy: 1% new messages, 5% of the messages in cur/ renamed to other flags. Same on every root. */
function mutate(roots, messages) {
  const random = makeRandom(99);
  const curFiles = [];
  for (const f of FOLDERS) for (const name of readdirSync(join(roots[0], f.dir, 'cur'))) curFiles.push(join(f.dir, 'cur', name));
  curFiles.sort();
  const renames = Math.round(messages * 0.05);
  // Every k-th file, deterministic.
  const step = Math.max(1, Math.floor(curFiles.length / renames));
  let renamed = 0;
  for (let k = 0; k < curFiles.length && renamed < renames; k += step) {
    const rel = curFiles[k];
    const to = rel.replace(/:2,.*$/, ':2,FS');
    if (to === rel) continue;
    for (const root of roots) renameSync(join(root, rel), join(root, to));
    renamed++;
  }
  const added = Math.round(messages * 0.01);
  for (let i = 0; i < added; i++) {
    for (const root of roots) writeMessage(root, messages + i, makeRandom(1000 + i), { forceNew: true });
  }
  return { renamed, added };
}

/** Messages on a maildir tree by Message-ID (first line of each file): files, distinct ids, duplicates. */
function checkTarget(root, expectedIds) {
  let files = 0;
  const ids = new Set();
  const buffer = Buffer.alloc(128);
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (e.name === 'cur' || e.name === 'new') {
        for (const f of readdirSync(join(dir, e.name), { withFileTypes: true })) {
          if (!f.isFile() || f.name.startsWith('.')) continue;
          files++;
          const fd = openSync(join(dir, e.name, f.name), 'r');
          const n = readSync(fd, buffer, 0, buffer.length, 0);
          closeSync(fd);
          const first = buffer.subarray(0, n).toString('latin1');
          // Dovecot adds no header of its own in a maildir-to-maildir backup; look at the first few lines anyway.
          const m = /^message-id:\s*(<[^>]*>)/im.exec(first);
          ids.add(m ? m[1] : `(no id) ${e.name}/${f.name}`);
        }
      } else if (e.name.startsWith('.') && dir === root) {
        walk(join(dir, e.name));
      }
    }
  };
  walk(root);
  const missing = expectedIds - ids.size;
  return { files, distinct: ids.size, duplicates: files - ids.size, missing };
}

export async function main(argv) {
  const parsed = readBenchOptions('resync', argv, parseOptions, usage);
  if (!parsed.options) return parsed.exitCode;
  const { options } = parsed;
  const n = options.messages;
  // tmpfs pages: ~4-8 KB per file; source, copied target, Dovecot's pair, and up to two run copies at once.
  const scratch = openScratch({ label: 'resync', sizeBytes: n * 8 * 8192 + 1024 * 1024 * 1024 });
  const machine = readMachineInfo();
  process.stderr.write(`machine: ${formatMachineLine(machine)}\nscratch: ${scratch.dir} (${scratch.kind})\n`);
  try {
    const src = join(scratch.dir, 'src');
    const dst0 = join(scratch.dir, 'dst-copied');
    const t0 = process.hrtime.bigint();
    makeTree(src);
    const random = makeRandom(7);
    for (let i = 0; i < n; i++) writeMessage(src, i, random);
    const generateSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stderr.write(`source: ${n.toLocaleString('en-US')} messages generated in ${formatSeconds(generateSeconds)} s\n`);

    // The copy every catch-up starts from.
    const copy = spawnSync('rsync', ['-a', `${src}/`, `${dst0}/`], { encoding: 'utf8' });
    if (copy.status !== 0) throw new Error(`initial rsync: ${copy.stderr}`);

    let dove = null;
    const srcD0 = join(scratch.dir, 'dovecot-src');
    const dstD0 = join(scratch.dir, 'dovecot-dst-copied');
    if (options.tools.includes('dovecot')) {
      dove = setupDoveadm(join(scratch.dir, 'doveadm'));
      cpA(src, srcD0);
      chownTreeSync(srcD0, dove.ids.uid, dove.ids.gid);
      mkdirSync(dstD0);
      chownTreeSync(dstD0, dove.ids.uid, dove.ids.gid);
      const started = process.hrtime.bigint();
      const [cmd, ...args] = dove.doveadm(['-o', `mail_location=maildir:${srcD0}`, 'backup', `maildir:${dstD0}`]);
      const first = spawnSync(cmd, args, { env: dove.env, encoding: 'utf8' });
      if (first.status !== 0) throw new Error(`initial doveadm backup: ${first.stderr}`);
      process.stderr.write(`dovecot: initial backup (the copy) in ${formatSeconds(Number(process.hrtime.bigint() - started) / 1e9)} s\n`);
    }

    const change = mutate(dove ? [src, srcD0] : [src], n);
    if (dove) chownTreeSync(srcD0, dove.ids.uid, dove.ids.gid);
    const expectedIds = n + change.added;
    process.stderr.write(`after the copy: ${change.added} new messages, ${change.renamed} flag renames on the source\n`);

    const runDir = (name) => join(scratch.dir, `run-${name}`);
    const contenders = [];
    const verify = (name, target) => async (_run, measured) => {
      if (measured.exitCode !== 0 && !(name === 'mailshift' && measured.exitCode === 5)) {
        return { ok: false, detail: `exit ${measured.exitCode}: ${measured.stderr.slice(-300)}` };
      }
      const c = checkTarget(target(), expectedIds);
      return { ok: c.missing === 0, messages: c.distinct, duplicates: c.duplicates, files: c.files, detail: c.missing === 0 ? `${c.duplicates} duplicates` : `${c.missing} messages missing` };
    };
    if (options.tools.includes('mailshift')) {
      contenders.push({
        name: 'mailshift',
        prepare: async () => {
          cpA(dst0, runDir('mailshift'));
          return { argv: [process.execPath, options.cli, '--json', '--quiet', 'resync', src, runDir('mailshift')] };
        },
        verify: verify('mailshift', () => runDir('mailshift')),
        cleanup: async () => rmSync(runDir('mailshift'), { recursive: true, force: true }),
      });
    }
    if (options.tools.includes('rsync')) {
      contenders.push({
        name: 'rsync',
        prepare: async () => {
          cpA(dst0, runDir('rsync'));
          return { argv: ['rsync', '-a', `${src}/`, `${runDir('rsync')}/`] };
        },
        verify: verify('rsync', () => runDir('rsync')),
        cleanup: async () => rmSync(runDir('rsync'), { recursive: true, force: true }),
      });
    }
    if (dove) {
      // Dovecot's incremental run changes both its source (indexes) and target: each run gets fresh copies of both.
      const s = () => join(runDir('dovecot'), 'src');
      const d = () => join(runDir('dovecot'), 'dst');
      contenders.push({
        name: 'dovecot',
        prepare: async () => {
          mkdirSync(runDir('dovecot'));
          cpA(srcD0, s());
          cpA(dstD0, d());
          chownTreeSync(runDir('dovecot'), dove.ids.uid, dove.ids.gid);
          return { argv: dove.doveadm(['-o', `mail_location=maildir:${s()}`, 'backup', `maildir:${d()}`]), env: dove.env };
        },
        verify: verify('dovecot', d),
        cleanup: async () => rmSync(runDir('dovecot'), { recursive: true, force: true }),
      });
    }

    const records = await runSideBySide({
      contenders,
      rounds: options.runs,
      timeoutMs: options.timeoutMs,
      onRun: (r) =>
        process.stderr.write(`  round ${r.round} ${r.tool.padEnd(10)} ${formatSeconds(r.wallSeconds)} s  ${r.verification?.ok ? 'ok' : 'FAILED'}: ${r.verification?.detail}\n`),
    });
    const names = contenders.map((c) => c.name);
    const byTool = {};
    for (const name of names) {
      const runs = records.filter((r) => r.tool === name);
      const ok = runs.filter((r) => r.verification?.ok);
      byTool[name] = {
        runs: runs.length,
        okRuns: ok.length,
        medianWallSeconds: ok.length ? median(ok.map((r) => r.wallSeconds)) : null,
        bestWallSeconds: ok.length ? minimum(ok.map((r) => r.wallSeconds)) : null,
        duplicates: ok.length ? Math.max(...ok.map((r) => r.verification.duplicates)) : null,
        peakRssBytes: runs.length ? Math.max(...runs.map((r) => r.peakRssBytes ?? 0)) : null,
      };
    }
    const m = byTool.mailshift?.medianWallSeconds;
    const r = byTool.rsync?.medianWallSeconds;
    const ratio = m && r ? m / r : null;
    const meetsTime = ratio !== null && ratio <= 1;
    const meetsDuplicates = byTool.mailshift?.duplicates === 0;
    const table = formatTable(
      ['tool', 'runs ok', 'median wall s', 'best wall s', 'duplicates left', 'peak RSS MB'],
      names.map((name) => [
        LABELS[name],
        `${byTool[name].okRuns}/${byTool[name].runs}`,
        formatSeconds(byTool[name].medianWallSeconds),
        formatSeconds(byTool[name].bestWallSeconds),
        byTool[name].duplicates,
        byTool[name].peakRssBytes ? (byTool[name].peakRssBytes / 1e6).toFixed(0) : null,
      ]),
    );
    const lines = [
      '',
      `${n.toLocaleString('en-US')} messages copied, then ${change.added.toLocaleString('en-US')} new and ${change.renamed.toLocaleString('en-US')} flag renames on the source; scratch on ${scratch.kind}`,
      '',
      table,
      `mailshift / rsync re-run (median): ${ratio === null ? 'n/a' : `${ratio.toFixed(2)}x`}  target <= 1x: ${ratio === null ? 'n/a' : meetsTime ? 'pass' : 'FAIL'};  duplicates left by mailshift: ${byTool.mailshift?.duplicates ?? 'n/a'} (target 0: ${byTool.mailshift ? (meetsDuplicates ? 'pass' : 'FAIL') : 'n/a'})`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const resultPath = writeResultJson('resync', {
      command: `node bench/run.mjs resync ${argv.join(' ')}`.trim(),
      machine,
      scratch: { kind: scratch.kind },
      versions: { rsync: readVersion(['rsync', '--version'], /version\s+(\S+)/), dovecot: dove ? readVersion(['dovecot', '--version'], /^(\S+)/) : null },
      messages: n,
      change,
      byTool,
      ratio,
      records,
    });
    process.stderr.write(`results: ${resultPath}\n`);
    const failed = records.some((rec) => !rec.verification?.ok);
    return options.strict && (failed || !meetsTime || !meetsDuplicates) ? 1 : 0;
  } finally {
    scratch.releaseSync();
  }
}
