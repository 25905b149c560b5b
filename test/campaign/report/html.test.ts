import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { escapeHtml, formatHtmlAccountDetail, formatHtmlAccountRow, formatHtmlBetween, formatHtmlEnd, formatHtmlStart, type HtmlPageFacts } from '../../../src/campaign/report/html.js';
import type { AccountDetail, AccountSummary } from '../../../src/campaign/report/model.js';
import { planRow } from '../../support/campaign-state.js';

const hostile = '<script>alert("x")</script>';

const page: HtmlPageFacts = {
  verdict: '1 of 2 accounts complete; 1 failed',
  exitCode: 1,
  totals: {
    accounts: 2,
    byStatus: { planned: 0, running: 0, done: 1, 'done-with-skips': 0, failed: 1, 'timed-out': 0 },
    byVerdict: { complete: 1, 'complete-with-exceptions': 0, incomplete: 1, unverified: 0 },
    copiedItems: 20,
    copiedBytes: 2048,
    skippedItems: 1,
    missing: 2,
  },
  toolVersion: '0.1.0',
  generatedAt: '2026-12-07T05:00:00.000Z',
  detail: 'customer',
  runs: [{ id: 1, stage: 'all', startedAt: '2026-12-07T04:00:00.000Z', toolVersion: '0.1.0', planHash: 'x' }],
};

function summary(overrides: Partial<AccountSummary> = {}): AccountSummary {
  return {
    index: 4,
    row: planRow('grace'),
    source: 'imaps://grace@source-host',
    target: 'imaps://grace@target-host',
    group: 'source-host',
    stages: [{ accountId: 'grace', stage: 'verify', status: 'failed', attempts: 1, items: 15, bytes: 0, skipped: 1, durationMs: 2000, lastError: `differences in ${hostile}` }],
    verdict: { verdict: 'incomplete', outcome: 'failed', reason: `Verify found 2 source messages missing on the target, in 1 folder.`, status: 'failed', hasSkips: true },
    counts: { copiedItems: 20, copiedBytes: 2048, skippedItems: 1, sourceMessages: 15, targetMessages: 13, missing: 2 },
    attempts: 1,
    durationMs: 2000,
    ...overrides,
  };
}

const detail: AccountDetail = {
  folders: [
    { folder: 'INBOX', sourceMessages: 10, targetMessages: 10, missing: 0 },
    { folder: hostile, sourceMessages: 5, targetMessages: 3, missing: 2 },
  ],
  skipped: [{ stage: 'verify', item: `${hostile}/1.eml`, reason: `unreadable: <img src=x onerror=alert(1)>` }],
  warnings: [{ stage: 'verify', text: `a warning & an "ampersand"` }],
};

function wholePage(): string {
  return formatHtmlStart(page) + formatHtmlAccountRow(summary()) + formatHtmlBetween() + formatHtmlAccountDetail(summary(), detail) + formatHtmlEnd(page);
}

describe('report.html', () => {
  it('escapes every text from the plan and the servers: a folder named like a script tag is shown, never run', () => {
    const html = wholePage();
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toContain('<img');
    expect(html).toContain('<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</td>');
    expect(html).toContain('unreadable: &lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('a warning &amp; an &quot;ampersand&quot;');
  });

  it('escapes an account id and a source in the table, and control characters are shown as \\xNN', () => {
    const row = formatHtmlAccountRow(summary({ row: planRow('a<b>&"c\''), source: 'maildir:/srv/x\u001b[31m' }));
    expect(row).toContain('a&lt;b&gt;&amp;&quot;c&#39;</a>');
    expect(row).toContain('maildir:/<wbr>srv/<wbr>x\\x1b[31m');
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;');
  });

  it('puts the verdict line on top with id="verdict", coloured by the exit code it gives', () => {
    const html = wholePage();
    expect(html).toContain('<p id="verdict" class="verdict bad">1 of 2 accounts complete; 1 failed</p>');
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('<table'));
    expect(formatHtmlStart({ ...page, exitCode: 0 })).toContain('class="verdict ok"');
    expect(formatHtmlStart({ ...page, exitCode: 3 })).toContain('class="verdict warn"');
  });

  it('shows status and verdict as words on coloured badges, with sort values for the numeric columns', () => {
    const row = formatHtmlAccountRow(summary());
    expect(row).toContain('<td data-value="5"><span class="badge s-failed">failed</span></td>');
    expect(row).toContain('<span class="badge v-incomplete">incomplete</span>');
    expect(row).toContain('<td data-value="2048">2.0 KB</td>');
    expect(row).toContain('<td>20</td>');
    expect(formatHtmlAccountRow(summary({ counts: { ...summary().counts, missing: null } }))).toContain('<td data-value="">–</td>');
    expect(row).toContain('<a href="#account-5">grace</a>');
  });

  it('highlights the folders that differ, and only those', () => {
    const part = formatHtmlAccountDetail(summary(), detail);
    expect(part).toContain('<tr><td>INBOX</td><td>10</td><td>10</td><td>0</td><td>0</td></tr>');
    expect(part).toContain('<tr class="diff"><td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</td><td>5</td><td>3</td><td class="bad">-2</td><td class="bad">2</td></tr>');
    expect(part).toContain('<details class="account" id="account-5">');
  });

  it('says so when verify has not compared an account, instead of an empty folder table', () => {
    expect(formatHtmlAccountDetail(summary(), { folders: [], skipped: [], warnings: [] })).toContain('No folder comparison: verify has not compared this account.');
  });

  it('loads nothing from outside, and its policy allows exactly its own style and script', () => {
    const html = wholePage();
    expect(html).not.toMatch(/\b(src|href)="(?!#)/);
    expect(html).not.toContain('<link');
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    const hash = (text: string) => `sha256-${createHash('sha256').update(text).digest('base64')}`;
    const policy = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)![1]!;
    expect(policy).toContain(`default-src &#39;none&#39;`);
    expect(policy).toContain(`style-src &#39;${hash(style)}&#39;`);
    expect(policy).toContain(`script-src &#39;${hash(script)}&#39;`);
  });

  it('ends with a footer naming the tool version, the generation time and what the customer mode hides', () => {
    const end = formatHtmlEnd(page);
    expect(end).toContain('<footer>mailshift 0.1.0 · generated 2026-12-07 05:00 UTC · 1 run(s), the last: all, started 2026-12-07 04:00 UTC · customer report: host names and addresses masked');
  });
});
