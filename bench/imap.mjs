// Benchmark: the IMAP fallback. IMAP -> maildir and IMAP -> IMAP of ~10,000 messages from a Dovecot on 127.0.0.1,
// mailshift side by side with mbsync (Debian isync), imapsync (../shared/peers/imapsync, IMAP -> IMAP) and, for
// IMAP -> maildir, Dovecot's own `doveadm backup` from an imapc: location. On loopback (issue 6: faster than mbsync),
// or through bench/lib/net-sim.mjs, a link with latency and a bandwidth cap (issue 14: `--wan`, 40 ms round trip at
// 100 Mbit/s, where round trips decide).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateMboxCorpus } from '../scripts/gen-mbox-corpus.mjs';
import { log, readBenchOptions } from './lib/cli.mjs';
import { chownTreeSync, readDovecotIds, setupDoveadm } from './lib/dovecot.mjs';
import { startBenchImapServer } from './lib/imap-server.mjs';
import { countMaildirMessages } from './lib/maildir.mjs';
import { hasGnuTime, readVersion } from './lib/measure.mjs';
import { startNetSim } from './lib/net-sim.mjs';
import { formatMachineLine, readMachineInfo, REPO_DIR, writeResultJson } from './lib/results.mjs';
import { openScratch } from './lib/scratch.mjs';
import { runSideBySide } from './lib/side-by-side.mjs';
import { summarizeCorpusRuns } from './lib/stats.mjs';
import { formatMegabytes, formatRate, formatSeconds, formatTable } from './lib/table.mjs';
import { available, findExecutable, INSTALL_HINT, unavailable } from './lib/tools.mjs';

export const summary = 'IMAP -> maildir and IMAP -> IMAP: mailshift vs mbsync (isync) and doveadm backup (imapc)';

export const usage = `usage: npm run bench -- imap [options]

Seeds a Dovecot IMAP server on 127.0.0.1 (plaintext, loopback, mail_fsync=never) with a generated mailbox and times
each tool copying it: IMAP -> a fresh maildir on a tmpfs, and IMAP -> an empty second account on the same server.
Tools alternate round by round. Prints wall time, messages/s, MB/s and the client's peak RSS, checks every run
delivered every message, and compares mailshift with mbsync. Writes bench/out/imap-<time>.json.

Every tool reaches the server through the same address: 127.0.0.1 directly, or with --wan / --delay-ms a network
simulation (bench/lib/net-sim.mjs) that delays each direction by a fixed time and caps the bandwidth of one link
shared by all connections, without limiting pipelining.

options:
  --messages N     mailbox size (default 10000)
  --wan            a 40 ms round trip (20 ms each way) at 100 Mbit/s: --delay-ms 20 --mbit 100
  --delay-ms N     one-way delay of the simulated link (default 0: loopback, no simulation)
  --mbit N         bandwidth of the simulated link, both directions, shared (default 100; 0: no cap)
  --server-compress yes|no
                   the server offers COMPRESS=DEFLATE (Dovecot's imap_zlib, as many hosting servers and Gmail do;
                   mbsync and mailshift use it when offered, mailshift only over a slow link). Default: yes with a
                   simulated link, no on loopback
  --quick          1,000 messages, one round (a smoke test of the harness)
  --runs N         rounds (default 3)
  --seed N         corpus seed (default 1)
  --modes a,b      subset of: imap-maildir,imap-imap,imap-imap-again (again: the second run with nothing new,
                   timed after an untimed first copy with the same state)
  --tools a,b      subset of: mailshift,mbsync,imapsync,doveadm,floor,floor2 (floor: bench/lib/imap-floor.mjs, the least
                   a Node client can do for IMAP -> maildir; floor2: the same over two connections on two threads;
                   not peers, a measure of what the machine allows)
  --timeout-s N    per-run time limit (default 900)
  --settle-ms N    imap-imap-again: wait N ms between the untimed first run and the timed second one (default 0:
                   right after it). A tool that does not wait for its LOGOUTs to be answered leaves the server
                   closing its sessions while the next run logs in; a second run after a cutover comes much later
  --cli PATH       mailshift CLI to time (default dist/bin/mailshift.js)`;

const TOOL_NAMES = ['mailshift', 'mbsync', 'imapsync', 'doveadm', 'floor', 'floor2'];
const TOOL_LABELS = { mailshift: 'mailshift', mbsync: 'mbsync', imapsync: 'imapsync', doveadm: 'doveadm backup', floor: 'node floor', floor2: 'node floor x2' };
// A peer kept outside the repository (its own licence), README there: ../shared/peers/imapsync beside the main
// checkout (two levels up from a worktree under wt/), or where MAILSHIFT_BENCH_IMAPSYNC says.
const IMAPSYNC = process.env.MAILSHIFT_BENCH_IMAPSYNC
  ?? [resolve(REPO_DIR, '..', 'shared'), resolve(REPO_DIR, '..', '..', 'shared')].map((dir) => join(dir, 'peers', 'imapsync', 'imapsync')).find((path) => existsSync(path))
  ?? resolve(REPO_DIR, '..', 'shared', 'peers', 'imapsync', 'imapsync');
// Not a peer: the least an IMAP -> maildir copy in Node can do (bench/lib/imap-floor.mjs), to show what this machine
// allows any Node client, next to what mailshift and mbsync take.
const FLOOR_CLIENT = join(REPO_DIR, 'bench', 'lib', 'imap-floor.mjs');
const MODES = ['imap-maildir', 'imap-imap', 'imap-imap-again'];
/** Modes whose target is bob's account on the server, not a maildir. */
const IMAP_TARGET_MODES = ['imap-imap', 'imap-imap-again'];
const MAILSHIFT_CLI = join(REPO_DIR, 'dist', 'bin', 'mailshift.js');
const ESTIMATED_BYTES_PER_MESSAGE = 24 * 1024;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string' },
      quick: { type: 'boolean', default: false },
      wan: { type: 'boolean', default: false },
      'delay-ms': { type: 'string' },
      mbit: { type: 'string' },
      'server-compress': { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string', default: '1' },
      modes: { type: 'string' },
      tools: { type: 'string' },
      'timeout-s': { type: 'string', default: '900' },
      'settle-ms': { type: 'string', default: '0' },
      cli: { type: 'string', default: MAILSHIFT_CLI },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const toInt = (text, what) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a whole number >= 1, got ${JSON.stringify(text)}`);
    return n;
  };
  const list = (text, allowed, what) => {
    const items = text.split(',').map((t) => t.trim());
    const bad = items.filter((t) => !allowed.includes(t));
    if (bad.length) throw new Error(`unknown ${what} ${bad.join(', ')}; choose from ${allowed.join(', ')}`);
    return items;
  };
  const toNumber = (text, what) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be a number >= 0, got ${JSON.stringify(text)}`);
    return n;
  };
  const delayMs = values['delay-ms'] !== undefined ? toNumber(values['delay-ms'], '--delay-ms') : values.wan ? 20 : 0;
  const network = delayMs > 0 || values.mbit !== undefined ? { delayMs, mbit: values.mbit !== undefined ? toNumber(values.mbit, '--mbit') : 100 } : null;
  const compressText = values['server-compress'];
  if (compressText !== undefined && !['yes', 'no'].includes(compressText)) throw new Error(`--server-compress takes yes or no, got ${JSON.stringify(compressText)}`);
  return {
    help: values.help,
    network,
    serverCompress: compressText !== undefined ? compressText === 'yes' : network !== null,
    messages: values.messages ? toInt(values.messages, '--messages') : values.quick ? 1000 : 10000,
    rounds: values.runs ? toInt(values.runs, '--runs') : values.quick ? 1 : 3,
    seed: toInt(values.seed, '--seed'),
    modes: values.modes ? list(values.modes, MODES, 'mode') : MODES,
    tools: values.tools ? list(values.tools, TOOL_NAMES, 'tool') : TOOL_NAMES,
    timeoutMs: toInt(values['timeout-s'], '--timeout-s') * 1000,
    settleMs: toNumber(values['settle-ms'], '--settle-ms'),
    cliPath: resolve(values.cli),
  };
}

function probeTools(names, cliPath) {
  const probes = {
    mailshift() {
      if (!existsSync(cliPath)) return unavailable(`${cliPath} is not built (npm run build)`);
      const help = spawnSync(process.execPath, [cliPath, 'copy', '--help'], { encoding: 'utf8', timeout: 30000 });
      if (help.status !== 0 || !/--password-file/.test(help.stdout ?? '')) return unavailable('this build has no IMAP copy (copy --help shows no --password-file)');
      const version = readVersion([process.execPath, cliPath, '--version']);
      const checkout = dirname(dirname(dirname(cliPath))); // CHECKOUT/dist/bin/mailshift.js
      const commit = readVersion(['git', '-C', checkout, 'rev-parse', '--short', 'HEAD']);
      return available(`${version}${commit ? ` (${commit})` : ''}`, { path: cliPath });
    },
    mbsync() {
      const path = findExecutable('mbsync');
      if (!path) return unavailable(`mbsync not found; ${INSTALL_HINT}`);
      return available(readVersion([path, '--version']), { path });
    },
    imapsync() {
      if (!existsSync(IMAPSYNC)) return unavailable(`${IMAPSYNC} not found (README in ../shared/peers/imapsync)`);
      const version = spawnSync('perl', [IMAPSYNC, '--version'], { encoding: 'utf8', timeout: 30000 });
      if (version.status !== 0) return unavailable(`imapsync does not start (its Perl modules: ${INSTALL_HINT}): ${(version.stderr ?? '').split('\n')[0]}`);
      return available(`imapsync ${version.stdout.trim()}`, { path: IMAPSYNC });
    },
    doveadm() {
      if (!findExecutable('doveadm')) return unavailable(`doveadm not found; ${INSTALL_HINT}`);
      return available(`Dovecot ${readVersion(['dovecot', '--version'])}`);
    },
    floor() {
      return available(`Node ${process.version} (bench/lib/imap-floor.mjs)`, { path: FLOOR_CLIENT });
    },
    floor2() {
      return available(`Node ${process.version} (bench/lib/imap-floor.mjs, 2 lanes)`, { path: FLOOR_CLIENT });
    },
  };
  return Object.fromEntries(names.map((name) => [name, probes[name]()]));
}

function mbsyncConfig({ port, passwordFile, far, near }) {
  const lines = [
    'FSync no',
    '',
    'IMAPAccount src',
    'Host 127.0.0.1',
    `Port ${port}`,
    `User ${far.user}`,
    `PassCmd "cat ${passwordFile(far.user)}"`,
    'SSLType None',
    'AuthMechs LOGIN',
    '',
    'IMAPStore src',
    'Account src',
    '',
  ];
  if (near.kind === 'maildir') {
    // Maildir++ has INBOX at the root: mbsync wants Inbox (not Path) to name it.
    lines.push('MaildirStore dst', `Inbox ${near.path}`, 'SubFolders Maildir++', '');
  } else {
    lines.push('IMAPAccount dstacct', 'Host 127.0.0.1', `Port ${port}`, `User ${near.user}`, `PassCmd "cat ${passwordFile(near.user)}"`,
      'SSLType None', 'AuthMechs LOGIN', '', 'IMAPStore dst', 'Account dstacct', '');
  }
  // CopyArrivalDate: keep INTERNALDATE, as mailshift does; Sync Pull + Create Near: a one-way copy into an empty target.
  const syncState = near.kind === 'maildir' ? '*' : `${near.stateDir}/`;
  lines.push('Channel copy', 'Far :src:', 'Near :dst:', 'Patterns *', 'Create Near', 'Sync Pull', `SyncState ${syncState}`, 'CopyArrivalDate yes', '');
  return lines.join('\n');
}

function buildContenders({ mode, names, probes, workDir, server, port, messages, settleMs = 0 }) {
  const isImapTarget = IMAP_TARGET_MODES.includes(mode);
  const ids = readDovecotIds();
  const passwordFile = (user) => join(workDir, `${user}.pw`);
  for (const account of Object.values(server.accounts)) writeFileSync(passwordFile(account.user), `${account.password}\n`, { mode: 0o600 });
  const out = (name) => join(workDir, `out-${name}`);
  const bob = server.accounts.bob;
  const resetBob = () => {
    rmSync(bob.maildir, { recursive: true, force: true });
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(bob.maildir, sub), { recursive: true });
    chownTreeSync(bob.home, ids.uid, ids.gid);
  };
  const outputOf = (name) => (isImapTarget ? bob.maildir : out(name));
  const check = (name) => async (run, measured) => {
    if (measured.spawnError) return { ok: false, detail: `could not start: ${measured.spawnError}` };
    if (measured.timedOut) return { ok: false, detail: 'timed out' };
    if (measured.exitCode !== 0) {
      const why = `${measured.stderr ?? ''}${measured.stdout ?? ''}`.trim().split('\n').slice(-1)[0] ?? '';
      return { ok: false, detail: `exit ${measured.exitCode ?? measured.signal}: ${why.slice(0, 200)}` };
    }
    const counted = countMaildirMessages(outputOf(name));
    if (counted.messages !== messages) return { ok: false, detail: `MISMATCH: ${counted.messages} of ${messages} messages` };
    return { ok: true, detail: `${counted.messages} messages`, outputBytes: counted.sizeBytes };
  };
  const cleanup = (name) => async () => {
    rmSync(out(name), { recursive: true, force: true });
    rmSync(join(workDir, `state-${name}`), { recursive: true, force: true });
    if (isImapTarget) resetBob();
  };
  const sourceUrl = `imap://alice@127.0.0.1:${port}`;
  const floorContender = (name, lanes) => ({
    async prepare() {
      return { argv: [process.execPath, FLOOR_CLIENT, '127.0.0.1', String(port), 'alice', passwordFile('alice'), out(name), String(lanes)], cwd: workDir };
    },
    verify: check(name),
    cleanup: cleanup(name),
  });
  const all = {
    mailshift: {
      async prepare() {
        if (isImapTarget) resetBob();
        const target = isImapTarget ? `imap://bob@127.0.0.1:${port}` : out('mailshift');
        const passwords = isImapTarget
          ? ['--source-password-file', passwordFile('alice'), '--target-password-file', passwordFile('bob')]
          : ['--password-file', passwordFile('alice')];
        return {
          // As users run it: the installed command, through its shebang (and the Node options it sets).
          argv: [probes.mailshift.path, '--json', 'copy', sourceUrl, target, ...passwords, '--state-dir', join(workDir, 'state-mailshift')],
          cwd: workDir,
        };
      },
      verify: check('mailshift'),
      cleanup: cleanup('mailshift'),
    },
    mbsync: {
      async prepare() {
        if (isImapTarget) resetBob();
        const conf = join(workDir, 'mbsyncrc');
        // SyncState: in the maildir, or for IMAP -> IMAP in a directory of its own; fresh for every run.
        const home = join(workDir, 'mbsync-home');
        rmSync(home, { recursive: true, force: true });
        mkdirSync(join(home, 'state'), { recursive: true });
        const near = isImapTarget ? { kind: 'imap', user: 'bob', stateDir: join(home, 'state') } : { kind: 'maildir', path: out('mbsync') };
        if (near.kind === 'maildir') mkdirSync(near.path, { recursive: true });
        writeFileSync(conf, mbsyncConfig({ port, passwordFile, far: { user: 'alice' }, near }));
        return { argv: [probes.mbsync.path, '-c', conf, '-q', 'copy'], cwd: workDir, env: { ...process.env, HOME: home } };
      },
      verify: check('mbsync'),
      cleanup: cleanup('mbsync'),
    },
    imapsync: {
      async prepare() {
        resetBob();
        const tmp = join(workDir, 'imapsync-tmp');
        rmSync(tmp, { recursive: true, force: true });
        mkdirSync(tmp, { recursive: true });
        // As its README runs it on a plaintext loopback server; --nolog --noreleasecheck: no log file, no web check.
        return {
          argv: ['perl', probes.imapsync.path, '--host1', '127.0.0.1', '--port1', String(port), '--user1', 'alice', '--passfile1', passwordFile('alice'),
            '--host2', '127.0.0.1', '--port2', String(port), '--user2', 'bob', '--passfile2', passwordFile('bob'),
            '--nossl1', '--nossl2', '--notls1', '--notls2', '--nolog', '--noreleasecheck', '--tmpdir', tmp],
          cwd: workDir,
        };
      },
      verify: check('imapsync'),
      cleanup: cleanup('imapsync'),
    },
    floor: floorContender('floor', 1),
    floor2: floorContender('floor2', 2),
    doveadm: {
      async prepare() {
        const dir = join(workDir, 'doveadm');
        rmSync(dir, { recursive: true, force: true });
        const doveadm = setupDoveadm(dir);
        const target = out('doveadm');
        mkdirSync(target, { recursive: true });
        chownTreeSync(target, ids.uid, ids.gid);
        return {
          argv: doveadm.doveadm([
            '-o', `mail_location=maildir:${target}`,
            '-o', 'imapc_host=127.0.0.1', '-o', `imapc_port=${port}`,
            '-o', 'imapc_user=alice', '-o', `imapc_password=${server.accounts.alice.password}`,
            '-o', 'imapc_features=rfc822.size fetch-headers',
            'backup', '-R', 'imapc:',
          ]),
          env: doveadm.env,
          cwd: dir,
        };
      },
      verify: check('doveadm'),
      async cleanup() {
        await cleanup('doveadm')();
        rmSync(join(workDir, 'doveadm'), { recursive: true, force: true });
      },
    },
  };
  const usable = names.filter((name) => (isImapTarget ? !['doveadm', 'floor', 'floor2'].includes(name) : name !== 'imapsync'));
  const contenders = usable.map((name) => ({ name, ...all[name] }));
  return mode === 'imap-imap-again' ? contenders.map((contender) => secondRun(contender, settleMs)) : contenders;
}

/**
 * The second run with nothing new: the first copy (same command, same state) runs untimed in prepare, then the same
 * command again is what is timed (issue 14: no slower than mbsync's second run), `settleMs` later.
 */
function secondRun(contender, settleMs) {
  return {
    ...contender,
    async prepare(run) {
      const spec = await contender.prepare(run);
      const first = spawnSync(spec.argv[0], spec.argv.slice(1), { cwd: spec.cwd, env: spec.env ?? process.env, encoding: 'utf8', timeout: 30 * 60_000 });
      if (first.status !== 0) throw new Error(`the first (untimed) run failed: exit ${first.status}: ${`${first.stderr ?? ''}`.trim().split('\n').slice(-1)[0] ?? ''}`);
      if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
      return spec;
    },
  };
}

/**
 * The targets a mode is held to. Loopback (issue 6): faster than mbsync. Through the simulated link (issue 14):
 * IMAP -> maildir and IMAP -> IMAP at least 1.5x faster than mbsync, IMAP -> IMAP at least 20x faster than imapsync,
 * the second run with nothing new no slower than mbsync's, and peak RSS under 150 MB.
 */
export function decideTargets(mode, summaryByTool, isWan) {
  const mine = summaryByTool.mailshift;
  const ratio = (peer, atLeast, target) => {
    const theirs = summaryByTool[peer];
    if (!mine?.medianSeconds || !theirs?.medianSeconds) return { target, status: 'n/a' };
    const speedup = theirs.medianSeconds / mine.medianSeconds;
    return { target, status: speedup >= atLeast ? 'pass' : 'FAIL', measured: `${speedup.toFixed(2)}x` };
  };
  if (!isWan) return [ratio('mbsync', 1, 'mailshift faster than mbsync')];
  const verdicts = mode === 'imap-imap-again'
    ? [ratio('mbsync', 1, 'second run no slower than mbsync\'s')]
    : [ratio('mbsync', 1.5, 'mailshift at least 1.5x faster than mbsync')];
  if (mode === 'imap-imap') verdicts.push(ratio('imapsync', 20, 'mailshift at least 20x faster than imapsync'));
  const rss = mine?.peakRssBytes;
  verdicts.push(rss ? { target: 'peak RSS under 150 MB', status: rss < 150e6 ? 'pass' : 'FAIL', measured: `${formatMegabytes(rss)} MB` } : { target: 'peak RSS under 150 MB', status: 'n/a' });
  return verdicts;
}

export async function main(argv) {
  const parsed = readBenchOptions('imap', argv, parseOptions, usage);
  if (!parsed.options) return parsed.exitCode;
  const { options } = parsed;
  const machine = readMachineInfo();
  const probes = probeTools(options.tools, options.cliPath);
  const names = options.tools.filter((name) => probes[name].ok);
  for (const name of options.tools) log(`${TOOL_LABELS[name].padEnd(15)} ${probes[name].ok ? probes[name].version : `UNAVAILABLE: ${probes[name].reason}`}`);
  if (!hasGnuTime()) log(`note: /usr/bin/time missing, peak RSS is sampled only (${INSTALL_HINT})`);
  if (!probes.mailshift?.ok) {
    log('mailshift is not available; nothing to compare');
    return 1;
  }

  // Source corpus, its maildir (from mailshift convert, untimed), the server's copy, one output and bob's copy.
  const scratch = openScratch({ label: 'imap', sizeBytes: options.messages * (ESTIMATED_BYTES_PER_MESSAGE * 5 + 16384) + 512 * 1024 * 1024 });
  log(`scratch: ${scratch.dir} (${scratch.kind})`);
  const result = {
    benchmark: 'imap',
    command: `node bench/run.mjs imap${argv.length ? ` ${argv.join(' ')}` : ''}`,
    startedAt: new Date().toISOString(),
    machine,
    options: { messages: options.messages, rounds: options.rounds, seed: options.seed, modes: options.modes, tools: options.tools, network: options.network, serverCompress: options.serverCompress },
    tools: Object.fromEntries(options.tools.map((n) => [n, probes[n]])),
    modes: [],
  };
  let server;
  let netSim;
  let exitCode = 0;
  try {
    const workDir = join(scratch.dir, 'work');
    mkdirSync(workDir, { recursive: true });
    const corpusPath = join(scratch.dir, 'corpus.mbox');
    log(`generating ${options.messages} messages (seed ${options.seed}) ...`);
    const generated = generateMboxCorpus({ messages: options.messages, seed: options.seed, out: corpusPath });
    server = await startBenchImapServer(join(scratch.dir, 'server'), ['alice', 'bob'], { compress: options.serverCompress });
    log(`server: Dovecot ${options.serverCompress ? 'offering' : 'without'} COMPRESS=DEFLATE`);
    if (options.network) {
      netSim = await startNetSim({ upstreamPort: server.port, delayMs: options.network.delayMs, mbit: options.network.mbit });
      log(`network simulation: ${netSim.description}, on 127.0.0.1:${netSim.port}`);
    }
    const port = netSim ? netSim.port : server.port;
    const alice = server.accounts.alice;
    rmSync(alice.maildir, { recursive: true, force: true });
    const converted = spawnSync(process.execPath, [probes.mailshift.path, 'convert', corpusPath, alice.maildir], { encoding: 'utf8' });
    if (converted.status !== 0) throw new Error(`seeding the source account failed: ${converted.stderr}`);
    rmSync(corpusPath);
    server.fixOwnership();
    const seeded = countMaildirMessages(alice.maildir);
    const corpus = { messages: seeded.messages, sizeBytes: seeded.sizeBytes, seed: options.seed, generationSeconds: generated.seconds };
    log(`source account: ${corpus.messages} messages, ${formatMegabytes(corpus.sizeBytes)} MB on 127.0.0.1:${server.port}`);

    for (const mode of options.modes) {
      const contenders = buildContenders({ mode, names, probes, workDir, server, port, messages: corpus.messages, settleMs: options.settleMs });
      // One untimed round first: Dovecot builds its index and header cache for the source on first access, and the
      // tool that happened to go first would pay for it.
      await runSideBySide({ contenders, rounds: 1, timeoutMs: options.timeoutMs, onRun: (r) => log(`  [${mode}] warm-up ${TOOL_LABELS[r.tool].padEnd(15)} ${formatSeconds(r.wallSeconds) ?? '-'} s ${r.verification.ok ? 'ok' : `FAILED: ${r.verification.detail}`}`) });
      const records = await runSideBySide({
        contenders,
        rounds: options.rounds,
        timeoutMs: options.timeoutMs,
        onRun: (r) => log(`  [${mode}] round ${r.round} ${TOOL_LABELS[r.tool].padEnd(15)} ${formatSeconds(r.wallSeconds) ?? '-'} s  ${formatMegabytes(r.peakRssBytes) ?? '-'} MB  CPU ${formatSeconds(r.cpuSeconds) ?? '-'} s, machine ${formatSeconds(r.machineCpuSeconds) ?? '-'} s  ${r.verification.ok ? 'ok' : 'FAILED'}: ${r.verification.detail}`),
      });
      const toolNames = contenders.map((c) => c.name);
      const summaryByTool = summarizeCorpusRuns({ records, names: toolNames, corpus });
      const verdicts = decideTargets(mode, summaryByTool, Boolean(netSim));
      result.modes.push({ mode, corpus, summary: summaryByTool, verdicts, runs: records.map(({ stdout, stderr, ...rest }) => ({ ...rest, stderrTail: (stderr ?? '').slice(-2000) })) });
      const where = `${netSim ? `Dovecot behind ${netSim.description}` : 'Dovecot on 127.0.0.1'}${options.serverCompress ? ', offering COMPRESS=DEFLATE' : ''}`;
      const settled = mode === 'imap-imap-again' && options.settleMs > 0 ? `, timed ${options.settleMs} ms after the first run` : '';
      let text = `\n== imap ${mode}: ${corpus.messages.toLocaleString('en-US')} messages, ${formatMegabytes(corpus.sizeBytes)} MB, ${options.rounds} round(s) alternating, ${where}${settled} ==\n`;
      text += formatTable(
        ['tool', 'ok', 'median s', 'best s', 'msg/s', 'MB/s', 'peak RSS MB', 'CPU s', 'machine CPU s', 'check'],
        toolNames.map((name) => {
          const s = summaryByTool[name];
          return [TOOL_LABELS[name], `${s.okRuns}/${s.runs}`, formatSeconds(s.medianSeconds), formatSeconds(s.bestSeconds), formatRate(s.messagesPerSecond), formatRate(s.megabytesPerSecond), formatMegabytes(s.peakRssBytes), formatSeconds(s.cpuSeconds) ?? '-', formatSeconds(s.machineCpuSeconds) ?? '-', s.problem ?? 'ok'];
        }),
        { alignLeft: [0, 9] },
      );
      for (const verdict of verdicts) text += `target: ${verdict.target}: ${verdict.status}${verdict.measured ? ` (${verdict.measured})` : ''}\n`;
      text += `(CPU s: the tool's user + system time; machine CPU s: both cores' busy time during its run, Dovecot's included)\n`;
      process.stdout.write(text);
    }
  } finally {
    await netSim?.stop();
    await server?.stop();
    scratch.releaseSync();
  }
  result.finishedAt = new Date().toISOString();
  const path = writeResultJson('imap', result);
  process.stdout.write(`\nmachine: ${formatMachineLine(machine)}\nresults: ${path}\n`);
  return exitCode;
}
