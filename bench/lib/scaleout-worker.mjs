// One worker process of `npm run bench -- scaleout`: mailshift's own queue worker (dist/src/campaign/queue/worker.js,
// the code `mailshift worker` runs), with a fixed wait in place of the mail work, so that what is measured is the
// queue: BullMQ's hand-over, the lock, the progress and result round trips, the coordinator's bookkeeping.
//   node bench/lib/scaleout-worker.mjs PORT NAME CONCURRENCY WAIT_MS
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_DIR } from './results.mjs';

const [port, name, concurrency, waitMs] = process.argv.slice(2);
const { runQueueWorker } = await import(pathToFileURL(join(REPO_DIR, 'dist/src/campaign/queue/worker.js')).href);
const { buildRedisOptions, parseQueueUrl } = await import(pathToFileURL(join(REPO_DIR, 'dist/src/campaign/queue/connection.js')).href);
const controller = new AbortController();
process.on('SIGTERM', () => controller.abort());
const wait = Number(waitMs);
// The bench starts its clock only when every worker is up: Node's start-up is not the queue's overhead.
process.stdout.write('ready\n');
await runQueueWorker({
  connection: buildRedisOptions(parseQueueUrl(`redis://127.0.0.1:${port}`), {}),
  workerName: name,
  concurrency: Number(concurrency),
  lockDurationMs: 30_000,
  stalledIntervalMs: 15_000,
  discoverIntervalMs: 200,
  executeStage: async (_row, _stage, _signal, progress) => {
    await new Promise((resolve) => setTimeout(resolve, wait));
    progress({ bytes: 1, items: 1 });
    return { status: 'done', items: 1, bytes: 1, exitCode: 0, durationMs: wait, skipped: [], warnings: [] };
  },
  onLog: () => {},
  signal: controller.signal,
});
