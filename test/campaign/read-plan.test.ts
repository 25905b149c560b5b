import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPlanFile, readPlanFile } from '../../src/campaign/read-plan.js';
import { silentLogger } from '../../src/core/logger.js';
import { isMailshiftError } from '../../src/core/errors.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let temp: TempDir;
beforeAll(async () => {
  temp = await makeTempDir('read-plan');
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('readPlanFile', () => {
  it('gives the rows of a plan without problems', async () => {
    const file = path.join(temp.path, 'good.csv');
    await writeFile(file, 'id,source,target\nalice,imaps://alice@old.example,imaps://alice@new.example\n');
    expect((await readPlanFile(file)).map((row) => [row.id, row.group, row.line])).toEqual([['alice', 'old.example', 2]]);
  });

  it('refuses a plan with problems, listing each with its line (exit 2)', async () => {
    const file = path.join(temp.path, 'bad.csv');
    await writeFile(file, 'id,source,target\nalice,imaps://alice@old.example,imaps://alice@new.example\nalice,imaps://alice@old.example,\n');
    const failure = await readPlanFile(file).catch((err: unknown) => err);
    expect(isMailshiftError(failure) && { code: failure.code, exitCode: failure.exitCode }).toEqual({ code: 'MAILSHIFT_CAMPAIGN_PLAN', exitCode: 2 });
    expect((failure as Error).message).toBe(`${file}: 2 problem(s):\n  line 3: id "alice" is used twice (first on line 2)\n  line 3: target is empty`);
  });

  it('says which plan it cannot read', async () => {
    const failure = await readPlanFile(path.join(temp.path, 'missing.csv')).catch((err: unknown) => err);
    expect((failure as Error).message).toBe(`cannot read the plan ${path.join(temp.path, 'missing.csv')}: ENOENT`);
  });
});

describe('checkPlanFile', () => {
  it('gives the plan\'s own problems and the run\'s (options, credentials, local sources) together, in line order', async () => {
    const file = path.join(temp.path, 'checked.csv');
    await writeFile(
      file,
      [
        'id,source,target,options,source_credential',
        `alice,maildir:${path.join(temp.path, 'no-such-dir')},maildir:/srv/new/alice,,`,
        'bob,imaps://bob@old.example,imaps://bob@new.example,--bogus,bob.source',
        'bob,imaps://bob@old.example,,,',
      ].join('\n'),
    );
    const checked = await checkPlanFile(file, { credentialsFile: path.join(temp.path, 'none.json'), credentialsRequired: false, logger: silentLogger });
    expect(checked.credentials).toBeUndefined();
    expect(checked.problems.map((each) => each.line)).toEqual([2, 3, 3, 4, 4]);
    expect(checked.problems.map((each) => each.message).join('\n')).toMatch(/does not exist[\s\S]*--bogus[\s\S]*no credentials file[\s\S]*used twice[\s\S]*target is empty/);
  });

  it('reads a credentials file named on the command line, and refuses it when it is missing', async () => {
    const file = path.join(temp.path, 'creds.csv');
    await writeFile(file, 'id,source,target,source_credential\nbob,imaps://bob@old.example,imaps://bob@new.example,bob.source\n');
    const credentialsFile = path.join(temp.path, 'creds.json');
    await writeFile(credentialsFile, JSON.stringify({ version: 1, credentials: { 'bob.source': 'secret' } }), { mode: 0o600 });
    const checked = await checkPlanFile(file, { credentialsFile, credentialsRequired: true, logger: silentLogger });
    expect(checked.problems).toEqual([]);
    expect(checked.credentials?.get('bob.source')).toBe('secret');
    await expect(checkPlanFile(file, { credentialsFile: path.join(temp.path, 'missing.json'), credentialsRequired: true, logger: silentLogger })).rejects.toThrow(/missing\.json/);
  });
});
