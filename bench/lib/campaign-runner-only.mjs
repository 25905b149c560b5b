#!/usr/bin/env node
// A measuring probe, not a product: the campaign's runner and state alone. runCampaign (dist/src/campaign/run.js)
// over every row of the plan, with the campaign's SQLite state in STATE_DIR, the given limits, and a stage that does
// nothing (it answers "done" on the next turn of the event loop). What is left is what the campaign itself does per
// account (queue, limits, state transactions, events) without a copy's time hiding it, cheap enough to run at
// 25,000 accounts in seconds. Not measured here: plan parsing, preflight, per-account log files and the view.
//
// usage: node campaign-runner-only.mjs PLAN STATE_DIR CONCURRENCY PER_GROUP
// Prints one JSON line: { accounts, counts, exitCode }; exits with the campaign's exit code.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DIST_SRC = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), 'dist', 'src');
const load = (relative) => import(pathToFileURL(join(DIST_SRC, relative)).href);

const [planFile, stateDir, concurrencyText, perGroupText] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const perGroup = Number(perGroupText);
if (!planFile || !stateDir || !(concurrency >= 1) || !(perGroup >= 1)) {
  process.stderr.write('usage: node campaign-runner-only.mjs PLAN STATE_DIR CONCURRENCY PER_GROUP\n');
  process.exit(2);
}

const { parsePlan } = await load('campaign/plan-file.js');
const { runCampaign } = await load('campaign/run.js');
const { openSqliteState } = await load('campaign/state/sqlite.js');

const plan = parsePlan(readFileSync(planFile, 'utf8'));
mkdirSync(stateDir, { recursive: true });
const state = openSqliteState(join(stateDir, 'campaign.sqlite'));
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const result = await runCampaign(plan.rows, state, {
  stages: ['prestage'],
  limits: { global: concurrency, perGroup },
  largestFirst: false,
  accountTimeoutMs: 86_400_000,
  retries: 2,
  retryBaseMs: 10_000,
  force: false,
  executeStage: async (row) => {
    await nextTurn();
    return { status: 'done', items: 11, bytes: row.sizeBytes ?? 0, exitCode: 0, durationMs: 1, skipped: [], warnings: [] };
  },
  onEvent: () => {},
  signal: new AbortController().signal,
});
state.close();
process.stdout.write(`${JSON.stringify({ accounts: plan.rows.length, counts: result.counts, exitCode: result.exitCode })}\n`);
process.exitCode = result.exitCode;
