import Database from 'better-sqlite3';
import { MailshiftError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { AccountRecord, AccountStatus, CampaignState, FailureKind, FolderComparison, FolderTotals, RunRecord, SkippedEntry, Stage, StageOutcome, StageRecord } from './types.js';

/**
 * The campaign's state in one SQLite file (better-sqlite3), in WAL mode.
 *
 * Why this is safe against kill -9 at any moment: every state change is one transaction, and SQLite's WAL makes a
 * committed transaction survive the death of the process (the log is in the file system, replayed on the next open);
 * an uncommitted one is rolled back. `synchronous = NORMAL` gives up only the last transactions on a power cut, not on a
 * process crash; a lost "done" then makes the next run redo that account's stage, which the engines make harmless (a
 * re-run copies nothing twice). What a stage wrote to the mail is never decided by this file: it is the engines'
 * exactly-once that guarantees the mail, this file only what to do next.
 *
 * Synchronous calls on purpose: a state change is a few microseconds, and the runner records it between engine calls.
 */
const schemaVersion = 1;

const schema = `
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, grp TEXT NOT NULL, priority INTEGER NOT NULL,
  size_bytes INTEGER, line INTEGER NOT NULL, position INTEGER NOT NULL, in_plan INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stages (
  account_id TEXT NOT NULL, stage TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  items INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,
  started_at TEXT, ended_at TEXT, duration_ms INTEGER NOT NULL DEFAULT 0, exit_code INTEGER, last_error TEXT,
  failure_kind TEXT, route TEXT, PRIMARY KEY (account_id, stage)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS skipped (account_id TEXT NOT NULL, stage TEXT NOT NULL, seq INTEGER NOT NULL, item TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (account_id, stage, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS warnings (account_id TEXT NOT NULL, stage TEXT NOT NULL, seq INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (account_id, stage, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS folders (
  account_id TEXT NOT NULL, stage TEXT NOT NULL, folder TEXT NOT NULL, source_messages INTEGER NOT NULL,
  target_messages INTEGER NOT NULL, missing INTEGER NOT NULL, PRIMARY KEY (account_id, stage, folder)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY, stage TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, exit_code INTEGER,
  tool_version TEXT NOT NULL, plan_hash TEXT NOT NULL
);
`;

interface StageRow {
  account_id: string;
  stage: Stage;
  status: AccountStatus;
  attempts: number;
  items: number;
  bytes: number;
  skipped: number;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number;
  exit_code: number | null;
  last_error: string | null;
  failure_kind: FailureKind | null;
  route: string | null;
}

export function openSqliteState(file: string, options: { readonly readOnly?: boolean } = {}): CampaignState {
  let db: Database.Database;
  try {
    db = new Database(file, options.readOnly ? { readonly: true, fileMustExist: true } : {});
    if (!options.readOnly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('busy_timeout = 5000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > schemaVersion) throw new Error(`schema ${version} is newer than this mailshift knows (${schemaVersion})`);
    if (!options.readOnly && version < schemaVersion) {
      db.exec(schema);
      db.pragma(`user_version = ${schemaVersion}`);
    }
  } catch (err) {
    throw new MailshiftError('MAILSHIFT_CAMPAIGN_STATE', `cannot open the campaign state ${file}: ${(err as Error).message}`, { cause: err, exitCode: ExitCode.config, hint: 'give the campaign directory this plan was run in (--dir), or a new one to start afresh' });
  }
  return new SqliteCampaignState(db);
}

class SqliteCampaignState implements CampaignState {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      hideAll: db.prepare('UPDATE accounts SET in_plan = 0'),
      upsertAccount: db.prepare(
        `INSERT INTO accounts (id, source, target, grp, priority, size_bytes, line, position, in_plan) VALUES (@id, @source, @target, @grp, @priority, @size, @line, @position, 1)
         ON CONFLICT (id) DO UPDATE SET source = excluded.source, target = excluded.target, grp = excluded.grp, priority = excluded.priority,
           size_bytes = excluded.size_bytes, line = excluded.line, position = excluded.position, in_plan = 1`,
      ),
      listAccounts: db.prepare('SELECT id, source, target, grp, priority, size_bytes, line FROM accounts WHERE in_plan = 1 ORDER BY position'),
      listStages: db.prepare('SELECT s.* FROM stages s JOIN accounts a ON a.id = s.account_id WHERE a.in_plan = 1'),
      listStageStatuses: db.prepare('SELECT s.account_id, s.stage, s.status FROM stages s JOIN accounts a ON a.id = s.account_id WHERE a.in_plan = 1'),
      getStage: db.prepare('SELECT * FROM stages WHERE account_id = ? AND stage = ?'),
      recover: db.prepare("UPDATE stages SET status = 'planned', last_error = ? WHERE status = 'running' RETURNING account_id"),
      markRunning: db.prepare(
        `INSERT INTO stages (account_id, stage, status, attempts, started_at) VALUES (?, ?, 'running', 1, ?)
         ON CONFLICT (account_id, stage) DO UPDATE SET status = 'running', attempts = attempts + 1, started_at = excluded.started_at`,
      ),
      // An upsert: a row refused before it starts has an outcome without an attempt (attempts stays 0).
      recordOutcome: db.prepare(
        `INSERT INTO stages (account_id, stage, status, attempts, items, bytes, skipped, ended_at, duration_ms, exit_code, last_error, failure_kind, route)
           VALUES (@accountId, @stage, @status, 0, @items, @bytes, @skipped, @endedAt, @durationMs, @exitCode, @error, @failureKind, @route)
         ON CONFLICT (account_id, stage) DO UPDATE SET status = excluded.status, items = excluded.items, bytes = excluded.bytes, skipped = excluded.skipped,
           ended_at = excluded.ended_at, duration_ms = duration_ms + excluded.duration_ms, exit_code = excluded.exit_code, last_error = excluded.last_error,
           failure_kind = excluded.failure_kind, route = COALESCE(excluded.route, route)`,
      ),
      clearSkipped: db.prepare('DELETE FROM skipped WHERE account_id = ? AND stage = ?'),
      clearWarnings: db.prepare('DELETE FROM warnings WHERE account_id = ? AND stage = ?'),
      clearFolders: db.prepare('DELETE FROM folders WHERE account_id = ? AND stage = ?'),
      addSkipped: db.prepare('INSERT INTO skipped (account_id, stage, seq, item, reason) VALUES (?, ?, ?, ?, ?)'),
      addWarning: db.prepare('INSERT INTO warnings (account_id, stage, seq, text) VALUES (?, ?, ?, ?)'),
      addFolder: db.prepare('INSERT OR REPLACE INTO folders (account_id, stage, folder, source_messages, target_messages, missing) VALUES (?, ?, ?, ?, ?, ?)'),
      resetStage: db.prepare("UPDATE stages SET status = 'planned' WHERE account_id = ? AND stage = ?"),
      listSkipped: db.prepare('SELECT item, reason FROM skipped WHERE account_id = ? AND stage = ? ORDER BY seq'),
      listWarnings: db.prepare('SELECT text FROM warnings WHERE account_id = ? AND stage = ? ORDER BY seq'),
      listFolders: db.prepare('SELECT folder, source_messages, target_messages, missing FROM folders WHERE account_id = ? AND stage = ? ORDER BY folder'),
      listFolderTotals: db.prepare(
        `SELECT account_id, COUNT(*) AS folders, SUM(source_messages) AS source_messages, SUM(target_messages) AS target_messages, SUM(missing) AS missing,
           SUM(missing > 0) AS missing_folders FROM folders WHERE stage = ? GROUP BY account_id`,
      ),
      listAccountsWithWarnings: db.prepare('SELECT DISTINCT account_id FROM warnings'),
      beginRun: db.prepare('INSERT INTO runs (stage, started_at, tool_version, plan_hash) VALUES (?, ?, ?, ?)'),
      endRun: db.prepare('UPDATE runs SET ended_at = ?, exit_code = ? WHERE id = ?'),
      listRuns: db.prepare('SELECT * FROM runs ORDER BY id'),
    };
  }

  syncAccounts(accounts: readonly AccountRecord[]): void {
    const { hideAll, upsertAccount } = this.statements;
    this.db.transaction(() => {
      hideAll.run();
      accounts.forEach((account, position) => {
        upsertAccount.run({ id: account.id, source: account.source, target: account.target, grp: account.group, priority: account.priority, size: account.sizeBytes ?? null, line: account.line, position });
      });
    })();
  }

  listAccounts(): AccountRecord[] {
    const rows = this.statements.listAccounts.all() as { id: string; source: string; target: string; grp: string; priority: number; size_bytes: number | null; line: number }[];
    return rows.map((row) => ({ id: row.id, source: row.source, target: row.target, group: row.grp, priority: row.priority, ...(row.size_bytes !== null ? { sizeBytes: row.size_bytes } : {}), line: row.line }));
  }

  listStages(): StageRecord[] {
    return (this.statements.listStages.all() as StageRow[]).map(toStageRecord);
  }

  listStageStatuses(): ReadonlyMap<string, ReadonlyMap<Stage, AccountStatus>> {
    const out = new Map<string, Map<Stage, AccountStatus>>();
    // Rows as arrays (raw): at 75,000 stage rows, building an object per row was most of this read.
    for (const [accountId, stage, status] of this.statements.listStageStatuses.raw(true).all() as [string, Stage, AccountStatus][]) {
      let byStage = out.get(accountId);
      if (!byStage) out.set(accountId, (byStage = new Map()));
      byStage.set(stage, status);
    }
    return out;
  }

  listFolderTotals(stage: Stage): ReadonlyMap<string, FolderTotals> {
    const out = new Map<string, FolderTotals>();
    type Row = { account_id: string; folders: number; source_messages: number; target_messages: number; missing: number; missing_folders: number };
    for (const row of this.statements.listFolderTotals.iterate(stage) as IterableIterator<Row>) {
      out.set(row.account_id, { folders: row.folders, sourceMessages: row.source_messages, targetMessages: row.target_messages, missing: row.missing, missingFolders: row.missing_folders });
    }
    return out;
  }

  listAccountsWithWarnings(): ReadonlySet<string> {
    return new Set((this.statements.listAccountsWithWarnings.all() as { account_id: string }[]).map((row) => row.account_id));
  }

  getStage(accountId: string, stage: Stage): StageRecord | undefined {
    const row = this.statements.getStage.get(accountId, stage) as StageRow | undefined;
    return row ? toStageRecord(row) : undefined;
  }

  recoverInterrupted(note: string): string[] {
    return (this.statements.recover.all(note) as { account_id: string }[]).map((row) => row.account_id);
  }

  markRunning(accountId: string, stage: Stage, startedAt: string): void {
    this.statements.markRunning.run(accountId, stage, startedAt);
  }

  recordOutcome(accountId: string, stage: Stage, outcome: StageOutcome, endedAt: string): void {
    const s = this.statements;
    this.db.transaction(() => {
      s.recordOutcome.run({
        accountId,
        stage,
        status: outcome.status,
        items: outcome.items,
        bytes: outcome.bytes,
        skipped: outcome.skipped.length,
        endedAt,
        durationMs: Math.round(outcome.durationMs),
        exitCode: outcome.exitCode,
        error: outcome.error ?? null,
        failureKind: outcome.failureKind ?? null,
        route: outcome.route ?? null,
      });
      s.clearSkipped.run(accountId, stage);
      s.clearWarnings.run(accountId, stage);
      outcome.skipped.forEach((entry, seq) => s.addSkipped.run(accountId, stage, seq, entry.item, entry.reason));
      outcome.warnings.forEach((text, seq) => s.addWarning.run(accountId, stage, seq, text));
      if (outcome.folders) {
        s.clearFolders.run(accountId, stage);
        for (const folder of outcome.folders) s.addFolder.run(accountId, stage, folder.folder, folder.sourceMessages, folder.targetMessages, folder.missing);
      }
    })();
  }

  resetStage(accountIds: readonly string[], stage: Stage): void {
    this.db.transaction(() => {
      for (const id of accountIds) this.statements.resetStage.run(id, stage);
    })();
  }

  listSkipped(accountId: string, stage: Stage): SkippedEntry[] {
    return this.statements.listSkipped.all(accountId, stage) as SkippedEntry[];
  }

  listWarnings(accountId: string, stage: Stage): string[] {
    return (this.statements.listWarnings.all(accountId, stage) as { text: string }[]).map((row) => row.text);
  }

  listFolders(accountId: string, stage: Stage): FolderComparison[] {
    const rows = this.statements.listFolders.all(accountId, stage) as { folder: string; source_messages: number; target_messages: number; missing: number }[];
    return rows.map((row) => ({ folder: row.folder, sourceMessages: row.source_messages, targetMessages: row.target_messages, missing: row.missing }));
  }

  beginRun(stage: string, toolVersion: string, planHash: string, startedAt: string): number {
    return Number(this.statements.beginRun.run(stage, startedAt, toolVersion, planHash).lastInsertRowid);
  }

  endRun(runId: number, exitCode: number, endedAt: string): void {
    this.statements.endRun.run(endedAt, exitCode, runId);
  }

  listRuns(): RunRecord[] {
    const rows = this.statements.listRuns.all() as { id: number; stage: string; started_at: string; ended_at: string | null; exit_code: number | null; tool_version: string; plan_hash: string }[];
    return rows.map((row) => ({
      id: row.id,
      stage: row.stage,
      startedAt: row.started_at,
      ...(row.ended_at !== null ? { endedAt: row.ended_at } : {}),
      ...(row.exit_code !== null ? { exitCode: row.exit_code } : {}),
      toolVersion: row.tool_version,
      planHash: row.plan_hash,
    }));
  }

  close(): void {
    this.db.close();
  }
}

function toStageRecord(row: StageRow): StageRecord {
  return {
    accountId: row.account_id,
    stage: row.stage,
    status: row.status,
    attempts: row.attempts,
    items: row.items,
    bytes: row.bytes,
    skipped: row.skipped,
    ...(row.started_at !== null ? { startedAt: row.started_at } : {}),
    ...(row.ended_at !== null ? { endedAt: row.ended_at } : {}),
    durationMs: row.duration_ms,
    ...(row.exit_code !== null ? { exitCode: row.exit_code } : {}),
    ...(row.last_error !== null ? { lastError: row.last_error } : {}),
    ...(row.failure_kind !== null ? { failureKind: row.failure_kind } : {}),
    ...(row.route !== null ? { route: row.route } : {}),
  };
}
