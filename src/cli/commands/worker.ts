import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { CliContext } from '../context.js';
import { addSshOptions, buildSshOptionsFromCli, type SshCliOptions } from './ssh-options.js';

interface WorkerCliOptions extends SshCliOptions {
  queue: string;
  credentials?: string;
  concurrency: number;
  name?: string;
  dir: string;
  lockDuration: number;
  activityLog?: string;
  maxConnections: number;
  caFile?: string;
  insecure?: boolean;
}

/**
 * `mailshift worker --queue redis://HOST:PORT`: runs the jobs of the campaigns a coordinator (`mailshift campaign PLAN
 * --queue …`) puts in that Redis, on this host, until Ctrl-C (then it lets its running jobs finish). Passwords come
 * from this host's credentials file or environment, never from the queue.
 */
export function registerWorker(program: Command, ctx: CliContext): void {
  const command = program
    .command('worker')
    .description('run campaign jobs from a Redis queue (mailshift campaign PLAN --queue …); start one on every host that should work')
    .requiredOption('--queue <url>', 'the Redis the campaign uses: redis://HOST:PORT[/DB] (password: MAILSHIFT_REDIS_PASSWORD)')
    .option('--credentials <file>', 'the credentials file (mode 0600) for the names the plan gives; MAILSHIFT_CREDENTIAL_<NAME> variables add to it')
    .option('--concurrency <n>', 'accounts at once per group queue on this host', parsePositive, 2)
    .option('--name <name>', "this worker's name, shown by the campaign next to the account it runs (default: HOST-PID)")
    .option('--dir <dir>', "this host's directory for per-account logs and IMAP sync state", 'mailshift-worker')
    .option('--lock-duration <ms>', "a job's lock, renewed every quarter of it: a worker that dies loses its job to another one after at most this long plus half", parsePositive, 10_000)
    .option('--activity-log <file>', 'append one JSON line per job start and end (time, job, group, account, worker)')
    .option('--max-connections <n>', 'IMAP connections per server and account', parsePositive, 2)
    .option('--ca-file <file>', 'trust the certificates in this PEM file too (a self-signed IMAP server)')
    .option('--insecure', 'IMAP: do not verify the server certificate, allow a cleartext login (never the default)');
  addSshOptions(command).action(async (options: WorkerCliOptions) => {
    const logger = ctx.logger();
    const { parseQueueUrl, buildRedisOptions, checkRedisReachable, formatQueueAddress } = await import('../../campaign/queue/connection.js');
    const address = parseQueueUrl(options.queue);
    const connection = buildRedisOptions(address, ctx.env);
    const { readWorkerCredentials } = await import('../../campaign/queue/worker-credentials.js');
    const credentials = await readWorkerCredentials(options.credentials, ctx.env, logger);
    await checkRedisReachable(address, connection);
    const directory = path.resolve(options.dir);
    await mkdir(path.join(directory, 'logs'), { recursive: true, mode: 0o700 });
    const { buildStageExecutor, buildCampaignStageEnvironment } = await import('../../campaign/account-stage.js');
    const { runQueueWorker } = await import('../../campaign/queue/worker.js');
    const workerName = options.name ?? `${hostname()}-${process.pid}`;
    logger.info(`worker ${workerName}: serving the campaigns in ${formatQueueAddress(address)} (${credentials.size} credential(s)); Ctrl-C stops it after its running jobs`);
    await runQueueWorker({
      connection,
      workerName,
      concurrency: options.concurrency,
      lockDurationMs: options.lockDuration,
      stalledIntervalMs: Math.max(500, Math.floor(options.lockDuration / 2)),
      ...(options.activityLog ? { activityLog: path.resolve(options.activityLog) } : {}),
      executeStage: buildStageExecutor(
        buildCampaignStageEnvironment(directory, {
          credentials,
          ssh: buildSshOptionsFromCli(options),
          imap: { maxConnections: options.maxConnections, ...(options.caFile ? { caFile: options.caFile } : {}), ...(options.insecure ? { isInsecure: true } : {}) },
          env: ctx.env,
          // The coordinator draws every job's progress (a terminal or --json there): reported always.
          wantProgress: true,
        }),
      ),
      onLog: (line) => logger.info(`worker ${workerName}: ${line}`),
      signal: ctx.signal,
    });
    logger.info(`worker ${workerName}: stopped`);
  });
}

function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number, 1 or more');
  return Number(value);
}
