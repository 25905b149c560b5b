import { parseStoreSpec } from '../stores/spec.js';
import type { PlanError, PlanRow } from './plan-file.js';
import { parseRowOptions } from './row-options.js';

/**
 * What must hold before a campaign starts anything, each problem with its plan line: every row's options parse,
 * every credential a row names is in the credentials file, every local source exists. The plan's own syntax
 * (columns, ids, specs, sizes) is parsePlan's; a row too big for its target quota is refused when its turn comes
 * (findQuotaProblem) and reported, so the other rows still run.
 *
 * Pure apart from `exists`, which the caller gives (a stat of a local path).
 */
export interface PreflightInput {
  readonly rows: readonly PlanRow[];
  /** Names in the credentials file; undefined when there is no credentials file. */
  readonly credentialNames: ReadonlySet<string> | undefined;
  readonly credentialsFile: string;
  readonly exists: (localPath: string) => Promise<boolean>;
}

export async function findPreflightProblems(input: PreflightInput): Promise<PlanError[]> {
  const problems: PlanError[] = [];
  for (const row of input.rows) {
    const options = parseRowOptions(row.options);
    if (!options.ok) problems.push({ line: row.line, message: options.reason });
    for (const [column, name] of [
      ['source_credential', row.sourceCredential],
      ['target_credential', row.targetCredential],
    ] as const) {
      if (name === undefined) continue;
      if (!input.credentialNames) problems.push({ line: row.line, message: `${column} "${name}": there is no credentials file (${input.credentialsFile})` });
      else if (!input.credentialNames.has(name)) problems.push({ line: row.line, message: `${column} "${name}" is not in the credentials file ${input.credentialsFile}` });
    }
    const source = parseStoreSpec(row.source);
    if (source.kind !== 'imap' && source.location.type === 'local') {
      const where = source.kind === 'cpanel' ? source.root : source.path;
      if (!(await input.exists(where))) problems.push({ line: row.line, message: `the source ${where} does not exist` });
    }
  }
  return problems;
}
