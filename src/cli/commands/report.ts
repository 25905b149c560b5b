import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { MailshiftError, systemErrorCode, UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
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
      const globals = cmd.optsWithGlobals<GlobalOptions & ReportCliOptions>();
      const { defaultCampaignDirectory, stateFileIn } = await import('../../campaign/directory.js');
      const { parsePlan } = await import('../../campaign/plan-file.js');
      const { openSqliteState } = await import('../../campaign/state/sqlite.js');
      const { writeCampaignReport } = await import('../../campaign/report/write.js');

      let text: string;
      try {
        text = await readFile(planFile, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read the plan ${planFile}: ${systemErrorCode(err) ?? String(err)}`);
      }
      const plan = parsePlan(text);
      if (plan.errors.length > 0) {
        const lines = plan.errors.map((each) => `  ${each.line > 0 ? `line ${each.line}: ` : ''}${printable(each.message)}`).join('\n');
        throw new MailshiftError('MAILSHIFT_CAMPAIGN_PLAN', `${printable(planFile)}: ${plan.errors.length} problem(s), no report written:\n${lines}`, {
          exitCode: ExitCode.usage,
          hint: 'fix the lines listed (mailshift plan --check PLAN lists them again) and run the same command',
        });
      }
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
        result = await writeCampaignReport({ state, planRows: plan.rows, directory, detail: options.detail, toolVersion: cmd.parent?.version() ?? '0.0.0', now: new Date() });
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
            counts: result.counts,
            files: { json: result.json, accounts_csv: result.accountsCsv, failures_csv: result.failuresCsv, html: result.html },
          }),
        );
      } else {
        ctx.out(`${printable(result.verdict)}\nreport: ${printable(result.html)}\n`);
      }
      ctx.setExitCode(result.exitCode);
    });
}
