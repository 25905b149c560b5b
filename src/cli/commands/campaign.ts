import { mkdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../../core/errors.js';
import type { Stage } from '../../campaign/state/types.js';
import { limitHeapGrowth } from '../heap.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { printable } from '../render.js';
import { createCampaignView } from './campaign-view.js';
import { addSshOptions, buildSshOptionsFromCli, parseWholeNumber, type SshCliOptions } from './ssh-options.js';

interface CampaignCliOptions extends SshCliOptions {
  stage: 'prestage' | 'cutover' | 'verify' | 'all';
  dir?: string;
  credentials?: string;
  concurrency: number;
  perGroup: number;
  largestFirst?: boolean;
  accountTimeout: number;
  retries: number;
  retryDelay: number;
  maxLoad?: number;
  force?: boolean;
  maxConnections: number;
  caFile?: string;
  insecure?: boolean;
  reportDetail: 'customer' | 'full';
  queue?: string;
}

/**
 * `mailshift campaign PLAN`: runs a stage of a plan (prestage copy, cutover resync, verify, or all three in order) for
 * every row, with its state in a campaign directory next to the plan, so that the same command run again resumes.
 * Parses, checks the plan, takes the directory's lock, hands the rows to the runner and draws its events.
 */
export function registerCampaign(program: Command, ctx: CliContext): void {
  const command = program
    .command('campaign')
    .description('run a plan for every account: prestage (copy), cutover (resync), verify, or all in order; resumable, with a report')
    .argument('<plan>', 'the plan file (mailshift plan writes one)')
    .addOption(new Option('--stage <stage>', 'which stage to run for every account').choices(['prestage', 'cutover', 'verify', 'all']).default('all'))
    .option('--dir <dir>', "the campaign directory: state, lock, logs and report (default: next to the plan, PLAN's name + .campaign)")
    .option('--credentials <file>', 'the credentials file the plan names (default: PLAN.credentials.json, when it exists)')
    .option('--concurrency <n>', 'accounts at once', parsePositive, 6)
    .option('--per-group <n>', 'accounts at once per group (by default the source host)', parsePositive, 2)
    .option('--largest-first', 'start with the largest accounts (default: smallest first, so whales do not hold the fleet back)')
    .option('--account-timeout <s>', 'stop an account after this many seconds; it resumes on the next run', parsePositive, 86_400)
    .option('--retries <n>', 'further tries of an account that failed for a temporary reason (network, throttling)', parseWholeNumber, 2)
    .option('--retry-delay <ms>', 'first back-off before such a retry; doubles each time', parseWholeNumber, 10_000)
    .option('--max-load <load>', "start no new account while the source machine's 1-minute load per CPU is above this (e.g. 0.7)", parseLoad)
    .option('--force', 'run the stage again for accounts that finished it')
    .option('--max-connections <n>', 'IMAP connections per server and account', parsePositive, 2)
    .option('--ca-file <file>', 'trust the certificates in this PEM file too (a self-signed IMAP server)')
    .option('--insecure', 'IMAP: do not verify the server certificate, allow a cleartext login (never the default)')
    .addOption(new Option('--report-detail <detail>', 'customer: no hostnames in the report; full: as the plan says').choices(['customer', 'full']).default('customer'))
    .option('--queue <url>', 'run the accounts on mailshift workers through this Redis: redis://HOST:PORT[/DB] (see mailshift worker)');
  addSshOptions(command).action(async (planFile: string, options: CampaignCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<GlobalOptions & CampaignCliOptions>();
    limitHeapGrowth();
    const logger = ctx.logger();
    const { checkPlanFile, buildPlanProblemsError } = await import('../../campaign/read-plan.js');
    const { rows, credentials, problems } = await checkPlanFile(planFile, { credentialsFile: options.credentials ?? `${planFile}.credentials.json`, credentialsRequired: options.credentials !== undefined, logger });
    if (problems.length > 0) throw buildPlanProblemsError(planFile, problems, { beforeRun: true });
    if (rows.length === 0) throw new UsageError(`the plan ${planFile} has no rows`);

    const { defaultCampaignDirectory, stateFileIn } = await import('../../campaign/directory.js');
    const directory = path.resolve(options.dir ?? defaultCampaignDirectory(planFile));
    await mkdir(path.join(directory, 'logs'), { recursive: true, mode: 0o700 });
    const { takeCampaignLock } = await import('../../campaign/state/lock.js');
    const lock = await takeCampaignLock(directory, `mailshift campaign ${path.basename(planFile)} --stage ${options.stage}`);
    const { openSqliteState } = await import('../../campaign/state/sqlite.js');
    try {
      const state = openSqliteState(stateFileIn(directory));
      try {
        const stages: Stage[] = options.stage === 'all' ? ['prestage', 'cutover', 'verify'] : [options.stage];
        const version = program.version() ?? 'unknown';
        const runId = state.beginRun(options.stage, version, await hashFile(planFile), new Date().toISOString());
        const view = createCampaignView(globals.json ? 'json' : ctx.isInteractive ? 'terminal' : 'lines', { out: ctx.out, err: ctx.err });
        const { runCampaign } = await import('../../campaign/run.js');
        const { buildStageExecutor, buildCampaignStageEnvironment } = await import('../../campaign/account-stage.js');
        const { readSourceLoad } = await import('../../campaign/source-load.js');
        const ssh = buildSshOptionsFromCli(options);
        const { runCampaignOnQueue } = await import('../../campaign/queue/run-on-queue.js');
        const result = options.queue
          ? await runCampaignOnQueue(rows, state, { ...options, queue: options.queue, stages, directory, env: ctx.env, onEvent: view.onEvent, signal: ctx.signal })
          : await runCampaign(rows, state, {
          stages,
          limits: { global: options.concurrency, perGroup: options.perGroup },
          largestFirst: Boolean(options.largestFirst),
          accountTimeoutMs: options.accountTimeout * 1000,
          retries: options.retries,
          retryBaseMs: options.retryDelay,
          force: Boolean(options.force),
          ...(options.maxLoad !== undefined ? { maxLoad: options.maxLoad, readLoad: (group: string) => readSourceLoad(group, rows, ssh) } : {}),
          executeStage: buildStageExecutor(
            buildCampaignStageEnvironment(directory, {
              credentials: credentials ?? new Map(),
              ssh,
              imap: { maxConnections: options.maxConnections, ...(options.caFile ? { caFile: options.caFile } : {}), ...(options.insecure ? { isInsecure: true } : {}) },
              env: ctx.env,
              wantProgress: Boolean(globals.json) || ctx.isInteractive,
            }),
          ),
          onEvent: view.onEvent,
          signal: ctx.signal,
        });
        view.finish();
        state.endRun(runId, result.exitCode, new Date().toISOString());
        // The report at the end of every run, interrupted or not: what a customer reads, and failures.csv to run again.
        const { writeCampaignReport } = await import('../../campaign/report/write.js');
        const report = await writeCampaignReport({ state, planRows: rows, directory, detail: options.reportDetail, toolVersion: version, now: new Date() });
        if (globals.json) ctx.out(`${JSON.stringify({ type: 'report', verdict: report.verdict, files: { json: report.json, accounts_csv: report.accountsCsv, failures_csv: report.failuresCsv, html: report.html } })}\n`);
        else ctx.out(`${report.verdict}\nReport: ${printable(report.html)}\n`);
        ctx.setExitCode(result.exitCode);
      } finally {
        state.close();
      }
    } finally {
      await lock.release();
    }
  });
}


async function hashFile(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number, 1 or more');
  return Number(value);
}

function parseLoad(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError('expected a load per CPU above 0, such as 0.7');
  return Number(value);
}
