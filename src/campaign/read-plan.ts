import { readFile, stat } from 'node:fs/promises';
import { MailshiftError, systemErrorCode, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { printable } from '../core/format.js';
import type { Logger } from '../core/logger.js';
import { readCredentialsFile } from './credentials.js';
import { parsePlan, type PlanError, type PlanRow } from './plan-file.js';
import { findPreflightProblems } from './preflight.js';

/**
 * A plan file read for use (by `mailshift report`, and by a campaign run): its rows, or a refusal that lists every
 * problem with its line, since a plan with a bad row is not run in part. `mailshift plan --check` lists the problems
 * without refusing.
 */
export async function readPlanFile(planFile: string, options: { readonly beforeRun?: boolean } = {}): Promise<PlanRow[]> {
  const plan = parsePlan(await readPlanText(planFile));
  if (plan.errors.length === 0) return plan.rows;
  throw buildPlanProblemsError(planFile, plan.errors, options);
}

export interface CheckedPlan {
  readonly rows: readonly PlanRow[];
  /** The credentials file's entries; undefined when there is none (and none was named). */
  readonly credentials: Map<string, string> | undefined;
  /** Every problem by line, the plan's own and the run's (options, credentials, local sources), in line order. */
  readonly problems: readonly PlanError[];
}

export interface PlanCheckOptions {
  readonly credentialsFile: string;
  /** Named on the command line: then it must exist; the default one is read only when it is there. */
  readonly credentialsRequired: boolean;
  readonly logger: Logger;
}

/**
 * The whole check a campaign makes of its plan before it starts anything, and that `mailshift plan --check` shows:
 * the plan's own syntax (parsePlan), then what the run needs (preflight.ts: row options, credentials, local sources).
 * One function, so that --check never passes a plan the campaign then refuses.
 */
export async function checkPlanFile(planFile: string, options: PlanCheckOptions): Promise<CheckedPlan> {
  const plan = parsePlan(await readPlanText(planFile));
  const credentials = options.credentialsRequired || (await pathExists(options.credentialsFile)) ? await readCredentialsFile(options.credentialsFile, options.logger) : undefined;
  const preflight = await findPreflightProblems({
    rows: plan.rows,
    credentialNames: credentials ? new Set(credentials.keys()) : undefined,
    credentialsFile: options.credentialsFile,
    exists: pathExists,
  });
  const problems = [...plan.errors, ...preflight].sort((a, b) => a.line - b.line);
  return { rows: plan.rows, credentials, problems };
}

async function readPlanText(planFile: string): Promise<string> {
  try {
    return await readFile(planFile, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the plan ${planFile}: ${systemErrorCode(err) ?? String(err)}`);
  }
}

async function pathExists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** Every problem of a plan by line, as one error: the plan's own (parsePlan) or what a campaign checks before it runs. */
export function buildPlanProblemsError(planFile: string, problems: readonly PlanError[], options: { readonly beforeRun?: boolean } = {}): MailshiftError {
  const lines = problems.map((each) => `  ${each.line > 0 ? `line ${each.line}: ` : ''}${printable(each.message)}`).join('\n');
  return new MailshiftError('MAILSHIFT_CAMPAIGN_PLAN', `${printable(planFile)}: ${problems.length} problem(s)${options.beforeRun ? ', nothing started' : ''}:\n${lines}`, {
    exitCode: ExitCode.usage,
    hint: 'fix the lines listed (mailshift plan --check PLAN lists them again) and run the same command',
  });
}
