import { readFile } from 'node:fs/promises';
import { MailshiftError, systemErrorCode, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { printable } from '../core/format.js';
import { parsePlan, type PlanError, type PlanRow } from './plan-file.js';

/**
 * A plan file read for use (by `mailshift report`, and by a campaign run): its rows, or a refusal that lists every
 * problem with its line, since a plan with a bad row is not run in part. `mailshift plan --check` lists the problems
 * without refusing.
 */
export async function readPlanFile(planFile: string, options: { readonly beforeRun?: boolean } = {}): Promise<PlanRow[]> {
  let text: string;
  try {
    text = await readFile(planFile, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the plan ${planFile}: ${systemErrorCode(err) ?? String(err)}`);
  }
  const plan = parsePlan(text);
  if (plan.errors.length === 0) return plan.rows;
  throw buildPlanProblemsError(planFile, plan.errors, options);
}

/** Every problem of a plan by line, as one error: the plan's own (parsePlan) or what a campaign checks before it runs. */
export function buildPlanProblemsError(planFile: string, problems: readonly PlanError[], options: { readonly beforeRun?: boolean } = {}): MailshiftError {
  const lines = problems.map((each) => `  ${each.line > 0 ? `line ${each.line}: ` : ''}${printable(each.message)}`).join('\n');
  return new MailshiftError('MAILSHIFT_CAMPAIGN_PLAN', `${printable(planFile)}: ${problems.length} problem(s)${options.beforeRun ? ', nothing started' : ''}:\n${lines}`, {
    exitCode: ExitCode.usage,
    hint: 'fix the lines listed (mailshift plan --check PLAN lists them again) and run the same command',
  });
}
