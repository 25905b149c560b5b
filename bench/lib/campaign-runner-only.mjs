#!/usr/bin/env node
// A measuring probe, not a product: the campaign's runner and state alone. runCampaign (dist/src/campaign/run.js)
// over every row of the plan, with the campaign's SQLite state in STATE_DIR, the given limits, and a stage that does
// nothing (it answers "done" on the next turn of the event loop). What is left is what the campaign itself does per
// account (queue, limits, state transactions, events) without a copy's time hiding it, cheap enough to run at
// 25,000 accounts in seconds. Not measured here: plan parsing, preflight, per-account log files and the view.
//
// With STAGES `all`, each account goes through prestage, cutover and verify, and each stage answers what a real one
// of a small account records (its route line, counts, and for verify five folders): a finished full campaign's state,
// whose report is the largest a campaign of this plan writes, for measuring `mailshift campaign` run again (the
// report at 25,000 accounts) without copying 25,000 accounts first.
//
// usage: node campaign-runner-only.mjs PLAN STATE_DIR CONCURRENCY PER_GROUP [prestage|all]
// Prints one JSON line: { accounts, counts, exitCode }; exits with the campaign's exit code.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DIST_SRC = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), 'dist', 'src');
const load = (relative) => import(pathToFileURL(join(DIST_SRC, relative)).href);

const [planFile, stateDir, concurrencyText, perGroupText, stagesText = 'prestage'] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const perGroup = Number(perGroupText);
if (!planFile || !stateDir || !(concurrency >= 1) || !(perGroup >= 1) || !['prestage', 'all'].includes(stagesText)) {
  process.stderr.write('usage: node campaign-runner-only.mjs PLAN STATE_DIR CONCURRENCY PER_GROUP [prestage|all]\n');
  process.exit(2);
}

const { parsePlan } = await load('campaign/plan-file.js');
const { runCampaign } = await load('campaign/run.js');
const { openSqliteState } = await load('campaign/state/sqlite.js');

const plan = parsePlan(readFileSync(planFile, 'utf8'));
mkdirSync(stateDir, { recursive: true });
const state = openSqliteState(join(stateDir, 'campaign.sqlite'));
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const route = 'files: both ends are file trees (local cPanel -> local cPanel): rsync moves the files as they are (flags in file names, hard links, UIDs, owners)';
const verifyFolders = ['INBOX', 'Sent', 'Trash', 'Drafts', 'Junk'].map((folder) => ({ folder, sourceMessages: 3, targetMessages: 3, missing: 0 }));
const result = await runCampaign(plan.rows, state, {
  stages: stagesText === 'all' ? ['prestage', 'cutover', 'verify'] : ['prestage'],
  limits: { global: concurrency, perGroup },
  largestFirst: false,
  accountTimeoutMs: 86_400_000,
  retries: 2,
  retryBaseMs: 10_000,
  force: false,
  executeStage: async (row, stage) => {
    await nextTurn();
    if (stagesText === 'prestage') return { status: 'done', items: 11, bytes: row.sizeBytes ?? 0, exitCode: 0, durationMs: 1, skipped: [], warnings: [] };
    const items = stage === 'cutover' ? 0 : 11;
    return { status: 'done', items, bytes: stage === 'prestage' ? (row.sizeBytes ?? 0) : 0, exitCode: 0, durationMs: 1, skipped: [], warnings: [], route, ...(stage === 'verify' ? { folders: verifyFolders } : {}) };
  },
  onEvent: () => {},
  signal: new AbortController().signal,
});
state.close();
process.stdout.write(`${JSON.stringify({ accounts: plan.rows.length, counts: result.counts, exitCode: result.exitCode })}\n`);
process.exitCode = result.exitCode;
