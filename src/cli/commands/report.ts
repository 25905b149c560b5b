import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { MailshiftError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { limitHeapGrowth } from '../heap.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatJson, printable } from '../render.js';

interface ReportCliOptions {
  dir?: string;
  detail: 'customer' | 'full';
}

/**
 * `mailshift report PLAN`: the campaign report (report.json, accounts.csv, failures.csv, report.html) from the
 * campaign's state, read only, and the plan as it is now. Prints the verdict line and where report.html is; exits
 * with the campaign's exit code (0 all finished, 3 some with skips, 75 some not finished, 1 some failed).
 */
export function registerReport(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description("write a campaign's report (report.json, accounts.csv, failures.csv, report.html) from its state; exit code as the campaign's")
    .argument('<plan>', "the campaign's plan file")
    .option('--dir <dir>', "the campaign directory (default: the plan's name without .csv, plus .campaign, next to it)")
    .addOption(new Option('--detail <level>', 'customer: host names and addresses masked, for handing to a customer; full: shown').choices(['customer', 'full']).default('customer'))
    .action(async (planFile: string, options: ReportCliOptions, cmd: Command) => {
      limitHeapGrowth();
      const globals = cmd.optsWithGlobals<GlobalOptions & ReportCliOptions>();
      const { defaultCampaignDirectory, stateFileIn } = await import('../../campaign/directory.js');
      const { readPlanFile } = await import('../../campaign/read-plan.js');
      const { openSqliteState } = await import('../../campaign/state/sqlite.js');
      const { writeCampaignReport } = await import('../../campaign/report/write.js');

      const planRows = await readPlanFile(planFile);
      const directory = options.dir ?? defaultCampaignDirectory(planFile);
      const stateFile = stateFileIn(directory);
      if (!existsSync(stateFile)) {
        throw new MailshiftError('MAILSHIFT_CAMPAIGN_STATE', `no campaign state in ${directory}: ${stateFile} does not exist`, {
          exitCode: ExitCode.config,
          hint: 'give the campaign directory this plan was run in (--dir), or a new one to start afresh',
        });
      }
      const state = openSqliteState(stateFile, { readOnly: true });
      let result;
      try {
        result = await writeCampaignReport({ state, planRows, directory, detail: options.detail, toolVersion: cmd.parent?.version() ?? '0.0.0', now: new Date() });
      } finally {
        state.close();
      }
      if (globals.json) {
        ctx.out(
          formatJson({
            ok: result.exitCode === 0,
            command: 'report',
            verdict: result.verdict,
            exit_code: result.exitCode,
            // As report.json's totals name them.
            accounts: result.counts.accounts,
            by_outcome: {
              complete: result.counts.complete,
              'complete-with-exceptions': result.counts.completeWithExceptions,
              unverified: result.counts.unverified,
              'not-finished': result.counts.notFinished,
              failed: result.counts.failed,
            },
            files: { json: result.json, accounts_csv: result.accountsCsv, failures_csv: result.failuresCsv, html: result.html },
          }),
        );
      } else {
        ctx.out(`${printable(result.verdict)}\nreport: ${printable(result.html)}\n`);
      }
      ctx.setExitCode(result.exitCode);
    });
}
