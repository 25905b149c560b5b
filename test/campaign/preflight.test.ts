import { describe, expect, it } from 'vitest';
import { parsePlan } from '../../src/campaign/plan-file.js';
import { findPreflightProblems } from '../../src/campaign/preflight.js';
import { defaultCampaignDirectory, stateFileIn } from '../../src/campaign/directory.js';
import { parseLoadPerCpu } from '../../src/campaign/source-load.js';

const rows = parsePlan(
  'id,source,target,options,source_credential,target_credential\n' +
    'a,/srv/old/a,/srv/new/a,--max-size 35M,,\n' +
    'b,/srv/gone/b,/srv/new/b,--delete,,\n' +
    'c,imaps://c@old.example,imaps://c@new.example,,c-src,c-dst\n',
).rows;

describe('findPreflightProblems', () => {
  it('lists every problem with its line: bad options, missing credentials, missing local sources', async () => {
    const problems = await findPreflightProblems({ rows, credentialNames: new Set(['c-src']), credentialsFile: 'plan.csv.credentials.json', exists: async (p) => p !== '/srv/gone/b' });
    expect(problems).toEqual([
      { line: 3, message: expect.stringMatching(/^options: .*--delete/) },
      { line: 3, message: 'the source /srv/gone/b does not exist' },
      { line: 4, message: 'target_credential "c-dst" is not in the credentials file plan.csv.credentials.json' },
    ]);
  });

  it('says so when rows name credentials and there is no credentials file', async () => {
    const problems = await findPreflightProblems({ rows: rows.slice(2), credentialNames: undefined, credentialsFile: 'x.json', exists: async () => true });
    expect(problems.map((p) => p.message)).toEqual(['source_credential "c-src": there is no credentials file (x.json)', 'target_credential "c-dst": there is no credentials file (x.json)']);
  });
});

describe('the campaign directory', () => {
  it('sits next to the plan, named after it', () => {
    expect(defaultCampaignDirectory('/work/moves.csv')).toBe('/work/moves.campaign');
    expect(defaultCampaignDirectory('/work/moves.plan')).toBe('/work/moves.plan.campaign');
    expect(stateFileIn('/work/moves.campaign')).toBe('/work/moves.campaign/campaign.sqlite');
  });
});

describe('parseLoadPerCpu', () => {
  it('divides the 1-minute load by the CPUs, and reads nothing from text that is no load average', () => {
    expect(parseLoadPerCpu('1.40 0.58 0.59 1/467 12345\n', 2)).toBeCloseTo(0.7);
    expect(parseLoadPerCpu('', 2)).toBeUndefined();
    expect(parseLoadPerCpu('0.5 0.5 0.5', Number.NaN)).toBeUndefined();
  });
});
