#!/usr/bin/env node
// A measuring probe, not a product: the copies a campaign's prestage makes, run directly, so that the campaign
// benchmark can subtract them from the campaign's wall time and keep what the campaign itself costs.
//
// For every row of the plan it calls the engine's runCopyOperation (dist/src/engine/operations/copy.js, as tsc
// compiled it) with the options src/campaign/account-stage.ts (runStage) gives a prestage of a row with no options
// column, CONCURRENCY rows at once, in one Node process. Nothing of the campaign: no state database, no lock, no
// scheduler (a plain pool of CONCURRENCY workers taking rows in plan order), no per-account log file (a silent
// logger), no events or progress, no preflight. When account-stage.ts changes the options it passes, change them
// here too, or the difference is no longer the campaign's own cost.
//
// usage: node campaign-direct.mjs PLAN CONCURRENCY SYNC_STATE_DIR
// Prints one JSON line: { accounts, ok, failed: [{ id, exitCode, error }], items, bytes }; exit 0 when every
// account's copy exited 0, else 1.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DIST_SRC = join(dirname(dirname(dirname(fileURLToPath(import.meta.url)))), 'dist', 'src');
const load = (relative) => import(pathToFileURL(join(DIST_SRC, relative)).href);

const [planFile, concurrencyText, syncStateDir] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
if (!planFile || !syncStateDir || !(concurrency >= 1)) {
  process.stderr.write('usage: node campaign-direct.mjs PLAN CONCURRENCY SYNC_STATE_DIR\n');
  process.exit(2);
}

const { parsePlan } = await load('campaign/plan-file.js');
const { parseStoreSpec } = await load('stores/spec.js');
const { runCopyOperation } = await load('engine/operations/copy.js');
const { silentLogger } = await load('core/logger.js');

const plan = parsePlan(readFileSync(planFile, 'utf8'));
if (plan.errors.length > 0) {
  process.stderr.write(`campaign-direct: ${planFile}: ${JSON.stringify(plan.errors)}\n`);
  process.exit(2);
}

// What the campaign passes by default (src/cli/commands/campaign.ts): no ssh options, 2 IMAP connections, file-copy
// retries 3 from 2 s, rsync --timeout=120.
const imap = { maxConnections: 2 };
const credentials = {
  password() {
    throw new Error('campaign-direct copies local cPanel roots only: no password is ever asked for');
  },
};
const signal = new AbortController().signal;

/** account-stage.ts runStage, prestage, a row with an empty options column. */
async function copyRow(row) {
  const source = parseStoreSpec(row.source);
  const target = parseStoreSpec(row.target);
  return runCopyOperation({
    source,
    target,
    ssh: {},
    credentials,
    imap,
    signal,
    logger: silentLogger,
    env: process.env,
    operation: 'copy',
    dryRun: false,
    files: {
      retries: 3,
      retryBaseDelayMs: 2000,
      ioTimeoutS: 120,
      ...(row.rename ? { renameUser: row.rename } : {}),
      ...(target.kind === 'cpanel' ? { chown: {} } : {}),
      dedupe: true,
    },
    messages: { maps: [], excludes: [], skipVirtual: true, skipExisting: true, stateDir: syncStateDir, concurrency: 1 },
  });
}

const result = { accounts: plan.rows.length, ok: 0, failed: [], items: 0, bytes: 0 };
let next = 0;
async function worker() {
  while (next < plan.rows.length) {
    const row = plan.rows[next++];
    try {
      const outcome = await copyRow(row);
      result.items += outcome.summary.items;
      result.bytes += outcome.summary.bytes;
      if (outcome.exitCode === 0) result.ok++;
      else result.failed.push({ id: row.id, exitCode: outcome.exitCode });
    } catch (error) {
      result.failed.push({ id: row.id, exitCode: null, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, plan.rows.length) }, worker));
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exitCode = result.failed.length === 0 ? 0 : 1;
