// Benchmark: the campaign's scale-out on BullMQ and Redis (issue 16). N accounts, each a job whose work is a fixed
// wait (no mail moved), run by 1, 2 and 4 worker processes against a real redis-server started here: the queue's
// overhead per job and the throughput against the number of workers. Target (issue 16): overhead under 5 ms per job,
// throughput near-linear in the workers while the work is a wait (I/O-bound).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { log, readBenchOptions } from './lib/cli.mjs';
import { formatMachineLine, readMachineInfo, REPO_DIR, writeResultJson } from './lib/results.mjs';
import { formatTable } from './lib/table.mjs';

export const summary = 'campaign on BullMQ + Redis: queue overhead per job, throughput with 1, 2, 4 workers (25,000 jobs)';

export const usage = `usage: npm run bench -- scaleout [options]

Starts redis-server (Debian's, persistence off) on a free port on 127.0.0.1. For each worker count, runs a campaign
of N one-stage accounts through mailshift's coordinator (runQueueCampaign, in this process, with its SQLite state in
a temp dir) and W worker processes (mailshift's runQueueWorker), each account's work a fixed wait. Measures the wall
time from the first job added to the last result recorded, and derives:
  throughput   jobs/s
  overhead     per job, in ms: (wall time x slots / jobs) - wait, where slots = workers x concurrency
               (the time a slot spends on a job beyond the job's own work: queue hand-over, lock, events, recording)
Target (issue 16): overhead < 5 ms per job; throughput near-linear in the workers.

options:
  --jobs N          accounts (default 25000)
  --quick           2,000 accounts
  --workers LIST    worker counts (default 1,2,4)
  --concurrency C   jobs at once per worker (default 8)
  --wait-ms W       the work of each job (default 100)`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      jobs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      workers: { type: 'string', default: '1,2,4' },
      concurrency: { type: 'string', default: '8' },
      'wait-ms': { type: 'string', default: '100' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const jobs = Number(values.jobs ?? (values.quick ? 2000 : 25000));
  const workers = values.workers.split(',').map(Number);
  if (!Number.isInteger(jobs) || jobs < 10) throw new Error('--jobs must be a whole number >= 10');
  if (workers.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--workers: whole numbers >= 1, comma-separated');
  return { help: values.help, jobs, workers, concurrency: Number(values.concurrency), waitMs: Number(values['wait-ms']) };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(dir) {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().trim() === 'PONG') return { port, child };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start (bash scripts/install-test-deps.sh installs it)');
}

async function runOne({ port, dir, jobs, workers, concurrency, waitMs }, modules) {
  const children = [];
  for (let i = 0; i < workers; i++) {
    children.push(spawn(process.execPath, [join(REPO_DIR, 'bench/lib/scaleout-worker.mjs'), String(port), `w${i + 1}`, String(concurrency), String(waitMs)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  }
  await Promise.all(children.map((child) => new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`a worker exited with ${code} before it was ready`)));
  })));
  const state = modules.openSqliteState(join(dir, `state-${workers}.sqlite`));
  const rows = Array.from({ length: jobs }, (_, index) => ({ id: `a${index}`, source: `/bench/src/a${index}`, target: `/bench/dst/a${index}`, group: 'bench', priority: 0, line: index + 2 }));
  const slots = workers * concurrency;
  const controller = new AbortController();
  const started = process.hrtime.bigint();
  const result = await modules.runQueueCampaign(rows, state, {
    connection: modules.buildRedisOptions(modules.parseQueueUrl(`redis://127.0.0.1:${port}`), {}),
    campaignId: `bench${workers}w${Date.now()}`,
    stages: ['prestage'],
    limits: { global: slots, perGroup: slots },
    largestFirst: false,
    accountTimeoutMs: 600_000,
    retries: 0,
    retryBaseMs: 1000,
    force: false,
    onEvent: () => {},
    signal: controller.signal,
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  state.close();
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))));
  return { workers, concurrency, slots, jobs, waitMs, wallMs, done: result.counts.done, exitCode: result.exitCode, jobsPerS: jobs / (wallMs / 1000), overheadMsPerJob: (wallMs * slots) / jobs - waitMs, idealMs: (jobs * waitMs) / slots };
}

export async function main(argv) {
  const read = readBenchOptions('scaleout', argv, parseOptions, usage);
  if (!read.options) return read.exitCode;
  const options = read.options;
  const load = (file) => import(pathToFileURL(join(REPO_DIR, 'dist/src', file)).href);
  const modules = {
    ...(await load('campaign/queue/coordinator.js')),
    ...(await load('campaign/queue/connection.js')),
    ...(await load('campaign/state/sqlite.js')),
  };
  const dir = mkdtempSync(join(tmpdir(), 'mailshift-bench-scaleout-'));
  const redis = await startRedis(dir);
  const machine = readMachineInfo();
  log(`scaleout: ${options.jobs} jobs of ${options.waitMs} ms, workers ${options.workers.join(', ')} x concurrency ${options.concurrency}; ${formatMachineLine(machine)}`);
  const runs = [];
  try {
    for (const workers of options.workers) {
      log(`  ${workers} worker(s)...`);
      runs.push(await runOne({ port: redis.port, dir, jobs: options.jobs, workers, concurrency: options.concurrency, waitMs: options.waitMs }, modules));
    }
  } finally {
    redis.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  const base = runs[0];
  process.stdout.write(
    `${formatTable(
      ['workers', 'slots', 'jobs', 'done', 'wall', 'ideal', 'jobs/s', 'speed-up', 'overhead/job'],
      runs.map((run) => [run.workers, run.slots, run.jobs, run.done, `${(run.wallMs / 1000).toFixed(1)} s`, `${(run.idealMs / 1000).toFixed(1)} s`, run.jobsPerS.toFixed(0), `${(run.jobsPerS / base.jobsPerS).toFixed(2)}x`, `${run.overheadMsPerJob.toFixed(1)} ms`]),
    )}\n`,
  );
  const target = runs.every((run) => run.overheadMsPerJob < 5);
  process.stdout.write(`target overhead < 5 ms per job: ${target ? 'pass' : 'FAIL'}\n`);
  const file = writeResultJson('scaleout', { machine, options, runs, at: new Date().toISOString() });
  process.stdout.write(`results: ${file}\n`);
  return runs.every((run) => run.done === run.jobs) ? 0 : 1;
}
