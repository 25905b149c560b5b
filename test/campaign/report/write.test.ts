import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePlan } from '../../../src/campaign/plan-file.js';
import { writeCampaignReport, type ReportInput } from '../../../src/campaign/report/write.js';
import type { CampaignState } from '../../../src/campaign/state/types.js';
import { isMailshiftError } from '../../../src/core/errors.js';
import { fillSampleCampaign, hostileFolder, openTempState, outcome, planRow, planRows, recordAttempt, sampleRows, verifiedOutcome } from '../../support/campaign-state.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

let temp: TempDir;
let state: CampaignState;
beforeAll(async () => {
  temp = await makeTempDir('report-write');
  state = openTempState(temp.path, sampleRows);
  fillSampleCampaign(state);
});
afterAll(async () => {
  state?.close();
  await temp?.cleanup();
});

function input(overrides: Partial<ReportInput> = {}): ReportInput {
  return { state, planRows: sampleRows, directory: path.join(temp.path, 'plan.campaign'), detail: 'customer', toolVersion: '0.1.0', now: new Date('2026-12-07T05:00:00Z'), ...overrides };
}

interface ReportJson {
  schema: string;
  verdict: string;
  exit_code: number;
  run: { generated_at: string; tool_version: string; plan_hash: string | null; runs: { stage: string; exit_code: number | null }[] };
  totals: { accounts: number; by_outcome: Record<string, number>; by_verdict: Record<string, number>; skipped_items: number; missing: number };
  accounts: { id: string; source: string; verdict: string; verdict_reason: string; skipped: { item: string; reason: string }[]; folders: { name: string }[] }[];
}

describe('writeCampaignReport', () => {
  it('writes the four files into DIRECTORY/report and returns their paths, the verdict line and the exit code', async () => {
    const result = await writeCampaignReport(input());
    const reportDir = path.join(temp.path, 'plan.campaign', 'report');
    expect(result).toMatchObject({
      json: path.join(reportDir, 'report.json'),
      accountsCsv: path.join(reportDir, 'accounts.csv'),
      failuresCsv: path.join(reportDir, 'failures.csv'),
      html: path.join(reportDir, 'report.html'),
      verdict: '1 of 7 accounts complete; 1 complete with exceptions; 1 copied, not verified yet; 2 not finished (run again); 2 failed',
      exitCode: 1,
    });
    expect((await readdir(reportDir)).sort()).toEqual(['accounts.csv', 'failures.csv', 'report.html', 'report.json']);
  });

  it('report.json has the versioned schema, the runs, totals and one entry per account in plan order', async () => {
    const result = await writeCampaignReport(input());
    const report = JSON.parse(await readFile(result.json, 'utf8')) as ReportJson;
    expect(report.schema).toBe('mailshift.report/1');
    expect(report.verdict).toBe(result.verdict);
    expect(report.exit_code).toBe(1);
    expect(report.run).toMatchObject({ generated_at: '2026-12-07T05:00:00.000Z', tool_version: '0.1.0', plan_hash: 'sha256:0123abcd' });
    expect(report.run.runs).toMatchObject([{ stage: 'all', exit_code: 1 }]);
    expect(report.totals).toMatchObject({ accounts: 7, skipped_items: 1, missing: 2 });
    expect(report.totals.by_outcome).toEqual({ complete: 1, 'complete-with-exceptions': 1, unverified: 1, 'not-finished': 2, failed: 2 });
    expect(report.accounts.map((account) => [account.id, account.verdict])).toEqual([
      ['alice', 'complete'],
      ['bob', 'complete-with-exceptions'],
      ['carol', 'incomplete'],
      ['dave', 'incomplete'],
      ['erin', 'unverified'],
      ['frank', 'incomplete'],
      ['grace', 'incomplete'],
    ]);
    expect(report.accounts[6]!.folders.map((folder) => folder.name)).toContain(hostileFolder);
  });

  it('shows no host name or address in a customer report, in any of the four files but failures.csv', async () => {
    const result = await writeCampaignReport(input());
    for (const file of [result.json, result.accountsCsv, result.html]) {
      const text = await readFile(file, 'utf8');
      expect(text, file).not.toMatch(/mail\.(old|new)\.example|192\.0\.2\.7/);
      expect(text, file).toContain('source-host');
    }
    // failures.csv is a plan to run again: its rows are the plan's own.
    expect(await readFile(result.failuresCsv, 'utf8')).toContain('imaps://carol@mail.old.example');
  });

  it('shows them in a full report', async () => {
    const result = await writeCampaignReport(input({ detail: 'full' }));
    const report = JSON.parse(await readFile(result.json, 'utf8')) as ReportJson;
    expect(report.accounts[0]!.source).toBe('imaps://alice@mail.old.example');
    expect(await readFile(result.html, 'utf8')).toContain('login refused by mail.old.example (192.0.2.7)');
  });

  it('accounts.csv has one row per account with its status and verdict', async () => {
    const result = await writeCampaignReport(input());
    const rows = parse(await readFile(result.accountsCsv, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.map((row) => [row['id'], row['status'], row['verdict']])).toEqual([
      ['alice', 'done', 'complete'],
      ['bob', 'done-with-skips', 'complete-with-exceptions'],
      ['carol', 'failed', 'incomplete'],
      ['dave', 'timed-out', 'incomplete'],
      ['erin', 'done', 'unverified'],
      ['frank', 'planned', 'incomplete'],
      ['grace', 'failed', 'incomplete'],
    ]);
    expect(rows[2]!['first_error']).toBe('login refused by source-host ([address]): check the credentials');
  });

  it('failures.csv is a plan of exactly the rows that failed, timed out or never ran, verbatim', async () => {
    const result = await writeCampaignReport(input());
    const plan = parsePlan(await readFile(result.failuresCsv, 'utf8'));
    expect(plan.errors).toEqual([]);
    expect(plan.rows.map((row) => row.id)).toEqual(['carol', 'dave', 'frank', 'grace']);
    const carol = sampleRows.find((row) => row.id === 'carol')!;
    expect({ ...plan.rows[0]!, line: carol.line }).toEqual(carol);
  });

  it('report.html holds the verdict line, one table row and one details per account, the hostile folder as text', async () => {
    const result = await writeCampaignReport(input());
    const html = await readFile(result.html, 'utf8');
    expect(html).toContain(`<p id="verdict" class="verdict bad">${result.verdict}</p>`);
    expect(html.match(/<details class="account"/g)).toHaveLength(7);
    expect(html.match(/<tr><td><a href="#account-/g)).toHaveLength(7);
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    // The details put what needs attention first: the failed accounts (carol, grace), the complete one (alice) last.
    const order = [...html.matchAll(/<details class="account" id="account-(\d+)">/g)].map((match) => sampleRows[Number(match[1]) - 1]!.id);
    expect(order).toEqual(['carol', 'grace', 'dave', 'frank', 'bob', 'erin', 'alice']);
  });

  it('replaces the files of an earlier report whole, leaving no temporary file behind', async () => {
    const first = await writeCampaignReport(input());
    const before = await readFile(first.json, 'utf8');
    const second = await writeCampaignReport(input({ now: new Date('2026-12-07T06:00:00Z') }));
    const after = await readFile(second.json, 'utf8');
    expect(after).not.toBe(before);
    expect(after).toContain('2026-12-07T06:00:00.000Z');
    expect((await readdir(path.dirname(second.json))).filter((name) => name.includes('.tmp'))).toEqual([]);
  });

  it('fails with a typed error, and keeps the old report, when the report folder cannot be written', async () => {
    const directory = path.join(temp.path, 'blocked.campaign');
    await mkdir(directory);
    // A file where the report folder should be.
    await writeFile(path.join(directory, 'report'), 'not a folder');
    const failure = await writeCampaignReport(input({ directory })).catch((err: unknown) => err);
    expect(isMailshiftError(failure) && failure.code).toBe('MAILSHIFT_REPORT_WRITE');
    expect((await stat(path.join(directory, 'report'))).isFile()).toBe(true);
  });

  it('says the plan has no accounts, and exits 0, for an empty plan', async () => {
    const result = await writeCampaignReport(input({ planRows: [], directory: path.join(temp.path, 'empty.campaign') }));
    expect(result.verdict).toBe('The plan has no accounts.');
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(await readFile(result.json, 'utf8')) as ReportJson;
    expect(report.accounts).toEqual([]);
  });
});

describe('a 25,000-account report', () => {
  it('is written whole from a SQLite state, every account in every file', async () => {
    const big = await makeTempDir('report-25k');
    try {
      const rows = planRows(Array.from({ length: 25_000 }, (_, i) => planRow(`user${String(i).padStart(5, '0')}`)));
      const bigState = openTempState(big.path, rows);
      // Every account verified (one stage each keeps the filling short: 50,000 transactions); one in a thousand with an
      // item its pre-stage skipped, one in five thousand failed.
      rows.forEach((row, i) => {
        if (i % 5000 === 1) return recordAttempt(bigState, row.id, 'prestage', outcome({ status: 'failed', error: 'login refused' }));
        if (i % 1000 === 2) recordAttempt(bigState, row.id, 'prestage', outcome({ status: 'done-with-skips', skipped: [{ item: 'INBOX/1.eml', reason: 'over the size limit' }] }));
        recordAttempt(bigState, row.id, 'verify', verifiedOutcome({ INBOX: 8, Sent: 2 }));
      });
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      const result = await writeCampaignReport({ state: bigState, planRows: rows, directory: big.path, detail: 'customer', toolVersion: '0.1.0', now: new Date() });
      const elapsedMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      bigState.close();
      // Not a timing assertion: the time is printed for the record (benchmarks belong in npm run bench).
      console.log(`25,000-account report written in ${Math.round(elapsedMs)} ms (${Math.round((cpu.user + cpu.system) / 1000)} ms of CPU); report.html ${(await stat(result.html)).size} bytes, report.json ${(await stat(result.json)).size} bytes`);
      expect(result.verdict).toBe('24970 of 25000 accounts complete; 25 complete with exceptions; 5 failed');
      const report = JSON.parse(await readFile(result.json, 'utf8')) as ReportJson;
      expect(report.accounts).toHaveLength(25_000);
      expect(report.accounts.at(-1)!.id).toBe('user24999');
      expect((await readFile(result.accountsCsv, 'utf8')).trimEnd().split('\n')).toHaveLength(25_001);
      expect(parsePlan(await readFile(result.failuresCsv, 'utf8')).rows).toHaveLength(5);
      const html = await readFile(result.html, 'utf8');
      expect(html.match(/<details class="account"/g)).toHaveLength(25_000);
      expect(html.trimEnd().endsWith('</html>')).toBe(true);
    } finally {
      await big.cleanup();
    }
  }, 120_000);
});

describe('temporary files', () => {
  it('are cleared when a process that died left them, and kept when their process lives', async () => {
    const directory = path.join(temp.path, 'crashed.campaign');
    const reportDir = path.join(directory, 'report');
    await mkdir(reportDir, { recursive: true });
    // A pid no process has (above the kernel's pid_max), and one that is alive: this test's parent.
    await writeFile(path.join(reportDir, '.report.html.failed.99999999.tmp'), 'half a page');
    await writeFile(path.join(reportDir, `.report.json.${process.ppid}.tmp`), 'someone else is writing this');
    await writeCampaignReport(input({ directory }));
    expect((await readdir(reportDir)).sort()).toEqual([`.report.json.${process.ppid}.tmp`, 'accounts.csv', 'failures.csv', 'report.html', 'report.json']);
  });
});
