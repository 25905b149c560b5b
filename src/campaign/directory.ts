import path from 'node:path';

/**
 * Where a campaign keeps what it knows: next to its plan, named after it (`moves.csv` -> `moves.campaign/`), so the
 * same command run again finds its state without being told. Holds campaign.sqlite (the state), campaign.lock,
 * logs/ (one file per account), sync/ (IMAP watermarks) and report/.
 */
export function defaultCampaignDirectory(planFile: string): string {
  const parsed = path.parse(path.resolve(planFile));
  return path.join(parsed.dir, `${parsed.ext.toLowerCase() === '.csv' ? parsed.name : parsed.base}.campaign`);
}

export function stateFileIn(directory: string): string {
  return path.join(directory, 'campaign.sqlite');
}
