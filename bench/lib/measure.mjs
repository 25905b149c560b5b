// Runs one command and measures it: wall time, and peak memory of the whole process tree.
//
// Peak RSS comes from two sources, and we report the larger:
// - sampling: every `sampleMs` we walk the tree under the child (/proc/PID/task/TID/children) and sum the memory of
//   every process in it. This sees tools that fork workers (the sum is what the machine must hold) but can miss a
//   peak shorter than the interval. With more than one process in the tree, anonymous memory is counted by its
//   proportional share (Pss_Anon, /proc/PID/smaps_rollup): a child forked to run a command (mailshift's `sync -f`,
//   a Perl tool's fork) shares its parent's pages copy-on-write until it execs, and its plain RSS would count every
//   one of them a second time (measured: 113 MB held, 162 MB summed, in 3 runs of 25).
// - the kernel's high-water mark of the largest single process (GNU time's %M, ru_maxrss of the children), exact
//   but per process. Used when /usr/bin/time is installed (MAILSHIFT_BENCH_DEPS=1 scripts/install-test-deps.sh).
// File-backed pages (the binary, shared libraries) are still counted once per process, so a sum over processes
// slightly overstates a multi-process tool; that is the conservative direction for a "stays under N MB" target.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
const PAGE_BYTES = (() => {
  const out = spawnSync('getconf', ['PAGESIZE'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 4096;
})();
const OUTPUT_LIMIT_BYTES = 4 * 1024 * 1024;
/** How often a tree of several processes has its memory summed exactly (sampleTreeRss): four times a second. */
const EXACT_TREE_SAMPLE_MS = 250;
const CLOCK_TICKS = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

export function hasGnuTime() {
  return existsSync(GNU_TIME);
}

function readChildren(pid) {
  const children = [];
  let tasks;
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return children;
  }
  for (const tid of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim();
      if (text) for (const child of text.split(' ')) children.push(Number(child));
    } catch {
      // the task ended between readdir and read
    }
  }
  return children;
}

function readRssBytes(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ');
    return Number(fields[1]) * PAGE_BYTES;
  } catch {
    return 0;
  }
}

/**
 * What one process of a tree holds, counting anonymous pages it shares copy-on-write with a forked relative by their
 * proportional share: its file-backed and shared-memory resident pages (statm's `shared`) plus Pss_Anon. For a process
 * that shares no anonymous pages this is its RSS. Falls back to RSS where smaps_rollup is missing (Linux < 4.14).
 */
function readTreeShareBytes(pid) {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ');
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    const pssAnonKiB = /^Pss_Anon:\s+(\d+) kB$/m.exec(rollup);
    if (!pssAnonKiB) return Number(statm[1]) * PAGE_BYTES;
    return Number(statm[2]) * PAGE_BYTES + Number(pssAnonKiB[1]) * 1024;
  } catch {
    return readRssBytes(pid);
  }
}

/**
 * Memory held by `rootPid`'s descendants (and itself unless `excludeRoot`), and how many processes were seen: the RSS
 * of a lone process; over several, each one's share (readTreeShareBytes), so pages a fork shares are counted once.
 * The shares cost a page-table walk of every process (about 1 ms for a 100 MB one, under its memory map's lock while
 * the tool runs): with `exact` false they are not read, and a tree of several processes gets the plain sum of RSS,
 * their upper bound, with `isUpperBound` set.
 */
export function sampleTreeRss(rootPid, { excludeRoot = false, exact = true } = {}) {
  const pids = [];
  const stack = [rootPid];
  const seen = new Set();
  while (stack.length > 0) {
    const pid = stack.pop();
    if (seen.has(pid)) continue;
    seen.add(pid);
    if (!(excludeRoot && pid === rootPid)) pids.push(pid);
    stack.push(...readChildren(pid));
  }
  const isShared = pids.length > 1;
  const readBytes = isShared && exact ? readTreeShareBytes : readRssBytes;
  let rssBytes = 0;
  for (const pid of pids) rssBytes += readBytes(pid);
  return { rssBytes, processes: pids.length, isUpperBound: isShared && !exact };
}

/** Busy time of all cores since boot, from /proc/stat (user, nice, system, irq, softirq; not idle, iowait or a
 * hypervisor's steal); null off Linux. */
function readMachineBusySeconds() {
  try {
    const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq] = fields;
    return (user + nice + system + irq + softirq) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

function tail(text, maxChars) {
  return text.length > maxChars ? `…${text.slice(-maxChars)}` : text;
}

/**
 * Runs argv[0] with argv[1..] (never through a shell), in its own process group so a timeout or Ctrl-C can stop
 * the whole tree. Resolves (never rejects for a failing tool) to:
 * { argv, exitCode, signal, spawnError, timedOut, wallSeconds, peakRssBytes, peakTreeRssSampledBytes,
 *   maxProcessRssBytes, maxProcesses, rssTimeline: [seconds, bytes][], stdout, stderr,
 *   cpuSeconds (the tool's user + system time; needs /usr/bin/time), machineCpuSeconds (every core's busy time
 *   while it ran: the tool, a server it talks to, and anything else on the machine) }
 */
export function runMeasured(argv, { cwd, env, timeoutMs = 30 * 60 * 1000, sampleMs = 50, timelineStepMs = 500 } = {}) {
  const useGnuTime = hasGnuTime();
  const timeDir = useGnuTime ? mkdtempSync(join(tmpdir(), 'mailshift-bench-time-')) : null;
  const timeFile = timeDir ? join(timeDir, 'time.txt') : null;
  // %U %S: the tool's CPU time (its whole tree, once waited for); %M: its largest process's peak RSS in KiB.
  const fullArgv = useGnuTime ? [GNU_TIME, '-f', '%U %S %M', '-o', timeFile, ...argv] : argv;

  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let peakTreeRssSampledBytes = 0;
    let maxProcesses = 0;
    // A coarse RSS timeline (seconds since start, bytes) shows whether memory grows with the input or plateaus.
    const rssTimeline = [];
    let nextTimelineAtMs = 0;
    let timedOut = false;
    let spawnError = null;
    const busyAtStart = readMachineBusySeconds();
    const startedAt = process.hrtime.bigint();
    let endedAt = null;
    let busyAtEnd = null;
    const child = spawn(fullArgv[0], fullArgv.slice(1), {
      cwd,
      env: env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stopTree = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const onHarnessExit = () => {
      stopTree('SIGKILL');
      if (timeDir) rmSync(timeDir, { recursive: true, force: true });
    };
    // prepend: the tree must be gone before the scratch hook (registered earlier) unmounts what it writes to.
    process.prependListener('exit', onHarnessExit);
    let lastExactAtMs = -Infinity;
    const sample = () => {
      if (!child.pid || endedAt) return;
      const elapsedMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
      const isTimelinePoint = elapsedMs >= nextTimelineAtMs;
      // A tree of several processes is summed exactly (sampleTreeRss) at most every EXACT_TREE_SAMPLE_MS: a lone
      // process's peak is exact anyway (GNU time's %M), and reading shares at every sample slowed the tool measured.
      const exact = isTimelinePoint || elapsedMs - lastExactAtMs >= EXACT_TREE_SAMPLE_MS;
      const { rssBytes, processes, isUpperBound } = sampleTreeRss(child.pid, { excludeRoot: useGnuTime, exact });
      if (exact) lastExactAtMs = elapsedMs;
      if (!isUpperBound && rssBytes > peakTreeRssSampledBytes) peakTreeRssSampledBytes = rssBytes;
      if (processes > maxProcesses) maxProcesses = processes;
      if (isTimelinePoint) {
        rssTimeline.push([Math.round(elapsedMs) / 1000, rssBytes]);
        nextTimelineAtMs = elapsedMs + timelineStepMs;
      }
    };
    const sampler = setInterval(sample, sampleMs);
    const timer = setTimeout(() => {
      timedOut = true;
      stopTree('SIGTERM');
      setTimeout(() => stopTree('SIGKILL'), 5000).unref();
    }, timeoutMs);
    child.stdout.on('data', (chunk) => {
      if (stdout.length < OUTPUT_LIMIT_BYTES) stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      if (stderr.length < OUTPUT_LIMIT_BYTES) stderr += chunk;
    });
    child.on('error', (error) => {
      spawnError = error.message;
    });
    child.on('exit', () => {
      endedAt = process.hrtime.bigint();
      busyAtEnd = readMachineBusySeconds();
    });
    child.on('close', (code, signal) => {
      endedAt ??= process.hrtime.bigint();
      busyAtEnd ??= readMachineBusySeconds();
      clearInterval(sampler);
      clearTimeout(timer);
      process.off('exit', onHarnessExit);
      let exitCode = code;
      let maxProcessRssBytes = null;
      let cpuSeconds = null;
      if (timeFile && existsSync(timeFile)) {
        // GNU time writes "Command exited with non-zero status N" / "Command terminated by signal N" before its line.
        const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
        const [user, system, kib] = (lines.at(-1) ?? '').split(' ').map(Number);
        if (Number.isFinite(kib)) maxProcessRssBytes = kib * 1024;
        if (Number.isFinite(user) && Number.isFinite(system)) cpuSeconds = user + system;
        const bySignal = lines.find((l) => l.startsWith('Command terminated by signal'));
        if (bySignal) {
          exitCode = null;
          signal = `signal ${bySignal.split(' ').at(-1)}`;
        }
        if (lines.some((l) => l.includes('No such file or directory') || l.includes('cannot run'))) {
          spawnError ??= lines.join(' ');
        }
      }
      if (timeDir) rmSync(timeDir, { recursive: true, force: true });
      resolve({
        argv,
        exitCode,
        signal: signal ?? null,
        spawnError,
        timedOut,
        wallSeconds: Number(endedAt - startedAt) / 1e9,
        peakRssBytes: Math.max(peakTreeRssSampledBytes, maxProcessRssBytes ?? 0),
        cpuSeconds,
        machineCpuSeconds: busyAtStart !== null && busyAtEnd !== null ? busyAtEnd - busyAtStart : null,
        peakTreeRssSampledBytes,
        maxProcessRssBytes,
        maxProcesses,
        rssTimeline,
        stdout,
        stderr: tail(stderr, 64 * 1024),
      });
    });
  });
}

/** Runs a short command for a version string; '' when it cannot be run. */
export function readVersion(argv, pattern) {
  const out = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 10000 });
  const text = `${out.stdout ?? ''}${out.stderr ?? ''}`;
  if (!pattern) return text.trim().split('\n')[0] ?? '';
  const m = text.match(pattern);
  return m ? (m[1] ?? m[0]) : '';
}
