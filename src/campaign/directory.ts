import path from 'node:path';

/**
 * Where a campaign keeps its state and its reports: a directory next to the plan file, named after it
 * (`/srv/migration/plan.csv` -> `/srv/migration/plan.campaign`), so one plan has one campaign unless `--dir` says
 * otherwise, and two plans in one folder never share a state. Pure: nothing is created here.
 */
export function defaultCampaignDirectory(planFile: string): string {
  const parsed = path.parse(planFile);
  // Only ".csv" is taken off: a plan named "accounts.list" keeps its whole name ("accounts.list.campaign").
  const name = parsed.ext.toLowerCase() === '.csv' ? parsed.name : parsed.base;
  return path.join(parsed.dir, `${name}.campaign`);
}

/** The state database of the campaign in `directory`. */
export function stateFileIn(directory: string): string {
  return path.join(directory, 'campaign.sqlite');
}

/** Where the report files of the campaign in `directory` go. */
export function reportDirectoryIn(directory: string): string {
  return path.join(directory, 'report');
}
