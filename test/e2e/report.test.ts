import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPlan } from '../../src/campaign/plan-file.js';
import { fillSampleCampaign, openTempState, outcome, recordAttempt, sampleRows, verifiedOutcome } from '../support/campaign-state.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { runCli } from './cli.js';

/**
 * `mailshift report PLAN`: the built CLI reads a campaign state (filled here through the CampaignState API, as the
 * runner fills it) and the plan, writes the four report files and exits with the campaign's exit code.
 */
let temp: TempDir;
let plan: string;
beforeAll(async () => {
  temp = await makeTempDir('report-cli');
  plan = path.join(temp.path, 'plan.csv');
  await writeFile(plan, formatPlan(sampleRows, 'the sample campaign'));
  // The default campaign directory of plan.csv: plan.campaign beside it.
  await mkdir(path.join(temp.path, 'plan.campaign'));
  const state = openTempState(path.join(temp.path, 'plan.campaign'), sampleRows);
  fillSampleCampaign(state);
  state.close();
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('mailshift report', () => {
  it('prints the verdict line and the path of report.html, and exits 1 when an account failed', async () => {
    const result = await runCli(['report', plan]);
    expect(result.code, result.stderr).toBe(1);
    const html = path.join(temp.path, 'plan.campaign', 'report', 'report.html');
    expect(result.stdout).toBe(`1 of 7 accounts complete; 1 complete with exceptions; 1 copied, not verified yet; 2 not finished (run again); 2 failed\nreport: ${html}\n`);
    expect(await readFile(html, 'utf8')).toContain('alice@<wbr>source-host');
  });

  it('gives the verdict, counts, exit code and files with --json, and shows hosts with --detail full', async () => {
    const result = await runCli(['--json', 'report', plan, '--detail', 'full']);
    expect(result.code).toBe(1);
    const document = JSON.parse(result.stdout) as { ok: boolean; exit_code: number; by_outcome: Record<string, number>; files: Record<string, string> };
    expect(document).toMatchObject({ ok: false, exit_code: 1, accounts: 7, by_outcome: { complete: 1, 'complete-with-exceptions': 1, unverified: 1, 'not-finished': 2, failed: 2 } });
    const report = JSON.parse(await readFile(document.files['json']!, 'utf8')) as { detail: string; accounts: { source: string }[] };
    expect(report.detail).toBe('full');
    expect(report.accounts[0]!.source).toBe('imaps://alice@mail.old.example');
  });

  it('exits 0 when every account of the plan is complete, reading a campaign directory given with --dir', async () => {
    const rows = sampleRows.slice(0, 1);
    const onlyAlice = path.join(temp.path, 'alice.csv');
    await writeFile(onlyAlice, formatPlan(rows));
    const directory = path.join(temp.path, 'elsewhere');
    await mkdir(directory);
    const state = openTempState(directory, rows);
    recordAttempt(state, 'alice', 'prestage', outcome());
    recordAttempt(state, 'alice', 'verify', verifiedOutcome({ INBOX: 10 }));
    state.close();
    const result = await runCli(['report', onlyAlice, '--dir', directory]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('1 of 1 account complete');
  });

  it('refuses a plan with problems, naming their lines, and writes nothing (exit 2)', async () => {
    const broken = path.join(temp.path, 'broken.csv');
    await writeFile(broken, 'id,source,target\nalice,imaps://alice@old.example,imaps://alice@new.example\nalice,imaps://alice@old.example,imaps://alice@new.example\n');
    const result = await runCli(['report', broken]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('line 3: id "alice" is used twice (first on line 2)');
  });

  it('says there is no campaign yet when its directory has no state (exit 78)', async () => {
    const fresh = path.join(temp.path, 'fresh.csv');
    await writeFile(fresh, formatPlan(sampleRows));
    const result = await runCli(['report', fresh]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`no campaign state in ${path.join(temp.path, 'fresh.campaign')}`);
  });
});
