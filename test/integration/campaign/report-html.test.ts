import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCampaignReport, type ReportResult } from '../../../src/campaign/report/write.js';
import type { CampaignState } from '../../../src/campaign/state/types.js';
import { fillSampleCampaign, hostileFolder, openTempState, outcome, planRow, planRows, recordAttempt, sampleRows, verifiedOutcome } from '../../support/campaign-state.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

/**
 * report.html as a browser shows it: the real Chromium (Debian's, installed by scripts/install-test-deps.sh), headless,
 * driven by playwright-core. The page must work from a file, offline, with its own script under its own
 * Content-Security-Policy: the sort is clicked, the verdict line read, a screenshot taken.
 */

// Three more accounts whose copied counts sort differently as numbers (9 < 10 < 100) and as text ("10" < "100" < "9").
const rows = planRows([...sampleRows, planRow('henry'), planRow('ivan'), planRow('judy')]);

let temp: TempDir;
let state: CampaignState;
let context: BrowserContext;
let page: Page;
let report: ReportResult;
const requests: string[] = [];
const problems: string[] = [];
const dialogs: string[] = [];

beforeAll(async () => {
  temp = await makeTempDir('report-html');
  state = openTempState(temp.path, rows);
  fillSampleCampaign(state);
  for (const [id, items] of [['henry', 100], ['ivan', 9], ['judy', 10]] as const) {
    recordAttempt(state, id, 'prestage', outcome({ items }));
    recordAttempt(state, id, 'verify', verifiedOutcome({ INBOX: items }));
  }
  report = await writeCampaignReport({ state, planRows: rows, directory: temp.path, detail: 'customer', toolVersion: '0.1.0', now: new Date('2026-12-07T05:00:00Z') });
  const profile = path.join(temp.path, 'chromium-profile');
  await mkdir(profile);
  // This machine's network is closed: without these flags Chromium waits on connections (updates, sync, QUIC probes).
  // A fresh profile in the test's temp dir.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  // Anything the page asks for besides its own file is recorded and refused: it must ask for nothing.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    requests.push(url);
    return route.abort();
  });
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(pathToFileURL(report.html).href);
}, 120_000);

afterAll(async () => {
  await context?.close();
  state?.close();
  await temp?.cleanup();
});

/** The text of one column of the account table, top to bottom, as shown. */
async function columnTexts(column: number): Promise<string[]> {
  return page.locator(`#accounts tbody tr td:nth-child(${column})`).allTextContents();
}

describe('report.html in headless Chromium', () => {
  it('shows the verdict line of report.json at the top', async () => {
    const json = JSON.parse(await readFile(report.json, 'utf8')) as { verdict: string };
    expect(await page.locator('#verdict').textContent()).toBe(json.verdict);
    expect(json.verdict).toBe('4 of 10 accounts complete; 1 complete with exceptions; 1 copied, not verified yet; 2 not finished (run again); 2 failed');
    const verdictBox = await page.locator('#verdict').boundingBox();
    const tableBox = await page.locator('#accounts').boundingBox();
    expect(verdictBox!.y).toBeLessThan(tableBox!.y);
  });

  it('is photographed: a PNG screenshot that is not empty', async () => {
    const file = path.join(temp.path, 'report.png');
    await page.screenshot({ path: file, fullPage: false });
    const png = await readFile(file);
    expect((await stat(file)).size).toBeGreaterThan(10_000);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });

  it('sorts a numeric column by number when its header is clicked, and the other way round on a second click', async () => {
    const header = page.locator('#accounts thead th', { hasText: 'Copied' });
    await header.locator('button').click();
    expect(await header.getAttribute('aria-sort')).toBe('ascending');
    const ascending = (await columnTexts(6)).map(Number);
    expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
    // 9 before 10 before 100: by number, not by text.
    expect(ascending.filter((n) => [9, 10, 100].includes(n))).toEqual([9, 10, 100]);
    await header.locator('button').click();
    expect(await header.getAttribute('aria-sort')).toBe('descending');
    const descending = (await columnTexts(6)).map(Number);
    expect(descending).toEqual([...ascending].reverse());
    expect(await page.locator('#accounts thead th[aria-sort="none"]').count()).toBe(10);
  });

  it('sorts the account column by name, and the status column worst last (then worst first), status shown as words', async () => {
    await page.locator('#accounts thead th', { hasText: 'Account' }).locator('button').click();
    expect(await columnTexts(1)).toEqual(['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'henry', 'ivan', 'judy']);
    const status = page.locator('#accounts thead th', { hasText: 'Status' }).locator('button');
    await status.click();
    await status.click();
    const statuses = await columnTexts(4);
    expect(statuses.slice(0, 3)).toEqual(['failed', 'failed', 'timed-out']);
    expect(statuses.at(-1)).toBe('done');
  });

  it('shows a folder named like a script tag as text, in the failed account whose name leads to it', async () => {
    await page.locator('#accounts a', { hasText: 'grace' }).click();
    const details = page.locator('details.account', { hasText: 'grace' });
    expect(await details.getAttribute('open')).not.toBeNull();
    const differing = details.locator('table.folders tr.diff td').first();
    expect(await differing.textContent()).toBe(hostileFolder);
    expect(await differing.isVisible()).toBe(true);
    expect(await page.locator('script').count()).toBe(1);
    expect(dialogs).toEqual([]);
  });

  it('asks for nothing outside its file, and its own script and style pass its policy', () => {
    expect(requests).toEqual([]);
    expect(problems).toEqual([]);
  });
});
