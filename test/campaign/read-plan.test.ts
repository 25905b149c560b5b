import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPlanFile } from '../../src/campaign/read-plan.js';
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
