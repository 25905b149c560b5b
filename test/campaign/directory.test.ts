import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCampaignDirectory, reportDirectoryIn, stateFileIn } from '../../src/campaign/directory.js';

describe('campaign directory', () => {
  it('is named after the plan, next to it, without the .csv', () => {
    expect(defaultCampaignDirectory('/srv/migration/plan.csv')).toBe('/srv/migration/plan.campaign');
    expect(defaultCampaignDirectory('PLAN.CSV')).toBe('PLAN.campaign');
    expect(defaultCampaignDirectory('plan.csv')).toBe('plan.campaign');
  });

  it('keeps any other extension, so two plans in one folder never share a state', () => {
    expect(defaultCampaignDirectory('/srv/accounts.list')).toBe('/srv/accounts.list.campaign');
    expect(defaultCampaignDirectory('/srv/plan')).toBe('/srv/plan.campaign');
  });

  it('holds the state database and the report folder', () => {
    expect(stateFileIn('/srv/plan.campaign')).toBe(path.join('/srv/plan.campaign', 'campaign.sqlite'));
    expect(reportDirectoryIn('/srv/plan.campaign')).toBe(path.join('/srv/plan.campaign', 'report'));
  });
});
