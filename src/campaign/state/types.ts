/**
 * What a campaign remembers of each account, stage by stage: the one model the runner writes, `mailshift report`
 * reads and every rendering (report.json, accounts.csv, failures.csv, report.html) derives from. The store behind it
 * (state/sqlite.ts) is an implementation detail of CampaignState.
 */

/** The stages of a migration, in the order `--stage all` runs them. */
export const stages = ['prestage', 'cutover', 'verify'] as const;
export type Stage = (typeof stages)[number];

/**
 * planned: not run yet, or stopped by Ctrl-C or a crash (resumable);
 * running: a process is working on it (or was, until it died: the next run takes it back);
 * done / done-with-skips: finished; the skips are listed with their reasons;
 * failed: an error that another try at once would not cure (a refused login, a missing source, differences found);
 * timed-out: stopped by its time limit; resumable, not failed data.
 */
export const accountStatuses = ['planned', 'running', 'done', 'done-with-skips', 'failed', 'timed-out'] as const;
export type AccountStatus = (typeof accountStatuses)[number];

export function isFinished(status: AccountStatus): boolean {
  return status === 'done' || status === 'done-with-skips';
}

/** temporary: network, throttling, a busy server (retried with back-off); permanent: retrying cannot help. */
export type FailureKind = 'temporary' | 'permanent';

export interface SkippedEntry {
  readonly item: string;
  readonly reason: string;
}

/** One folder as verify compared it (report.html's per-account folder table). */
export interface FolderComparison {
  readonly folder: string;
  readonly sourceMessages: number;
  readonly targetMessages: number;
  /** Source messages not found on the target. */
  readonly missing: number;
}

/** One account's folders of a stage, summed. */
export interface FolderTotals {
  readonly folders: number;
  readonly sourceMessages: number;
  readonly targetMessages: number;
  readonly missing: number;
  /** Folders with anything missing. */
  readonly missingFolders: number;
}

/** An account as the plan names it, with what the campaign measured. */
export interface AccountRecord {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly group: string;
  readonly priority: number;
  /** Bytes of mail, from the plan (size column); undefined when unknown. */
  readonly sizeBytes?: number;
  /** The row's line in the plan, for messages. */
  readonly line: number;
}

/** One account's stage, as the last attempt left it. */
export interface StageRecord {
  readonly accountId: string;
  readonly stage: Stage;
  readonly status: AccountStatus;
  readonly attempts: number;
  /** Messages (or files) moved or compared, and their bytes. */
  readonly items: number;
  readonly bytes: number;
  readonly skipped: number;
  readonly startedAt?: string;
  readonly endedAt?: string;
  /** Time spent over every attempt. */
  readonly durationMs: number;
  readonly exitCode?: number;
  readonly lastError?: string;
  readonly failureKind?: FailureKind;
  /** Which engine ran ("files" or "messages") and why: the route line. */
  readonly route?: string;
}

/** What an attempt ended with, as the runner records it. */
export interface StageOutcome {
  readonly status: Exclude<AccountStatus, 'running'>;
  readonly items: number;
  readonly bytes: number;
  readonly exitCode: number;
  readonly durationMs: number;
  readonly skipped: readonly SkippedEntry[];
  readonly warnings: readonly string[];
  readonly folders?: readonly FolderComparison[];
  /** verify: each source message the target lacks, by folder and key (a maildir base name). Not stored: `skipped` lists them. */
  readonly missing?: readonly MissingMessage[];
  readonly error?: string;
  readonly failureKind?: FailureKind;
  readonly route?: string;
}

/** One run of `mailshift campaign` (or the reading of `mailshift report`), for the report's header. */
export interface RunRecord {
  readonly id: number;
  readonly stage: string;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly exitCode?: number;
  readonly toolVersion: string;
  /** sha256 of the plan file's bytes, so a report says which plan it is about. */
  readonly planHash: string;
}

/**
 * The campaign's memory. One implementation (SQLite, state/sqlite.ts); the interface is what the runner and the
 * report need, so neither knows how it is kept.
 */
export interface CampaignState {
  /** The plan's rows become the account list (rows added since are added; edited rows updated; removed rows kept, no longer planned). */
  syncAccounts(accounts: readonly AccountRecord[]): void;
  /** The accounts of the current plan, in plan order. */
  listAccounts(): AccountRecord[];
  /** Every stage record of the current plan's accounts. */
  listStages(): StageRecord[];
  /** Each current account's stage statuses alone, in one read: what a run's start and end count, without the texts. */
  listStageStatuses(): ReadonlyMap<string, ReadonlyMap<Stage, AccountStatus>>;
  getStage(accountId: string, stage: Stage): StageRecord | undefined;
  /** Accounts left 'running' by a process that died: back to 'planned' with a note. Returns their ids. */
  recoverInterrupted(note: string): string[];
  /** An attempt starts: 'running', attempts + 1. */
  markRunning(accountId: string, stage: Stage, startedAt: string): void;
  /**
   * An attempt ended (or was stopped, back to 'planned'), or a stage was refused before any attempt (attempts stays 0);
   * its skipped items and folders replace the stage's previous ones.
   */
  recordOutcome(accountId: string, stage: Stage, outcome: StageOutcome, endedAt: string): void;
  /** --force: the stage of these accounts is planned again (attempts and history kept). */
  resetStage(accountIds: readonly string[], stage: Stage): void;
  listSkipped(accountId: string, stage: Stage): SkippedEntry[];
  listWarnings(accountId: string, stage: Stage): string[];
  listFolders(accountId: string, stage: Stage): FolderComparison[];
  /** A stage's folder counts summed per account, in one read: what a report's summaries need without every folder. */
  listFolderTotals(stage: Stage): ReadonlyMap<string, FolderTotals>;
  /** The accounts with any warning recorded, in one read: a report asks only those for their warnings. */
  listAccountsWithWarnings(): ReadonlySet<string>;
  beginRun(stage: string, toolVersion: string, planHash: string, startedAt: string): number;
  endRun(runId: number, exitCode: number, endedAt: string): void;
  listRuns(): RunRecord[];
  close(): void;
}

/** A source message verify did not find on the target: its folder as the report shows it, its identity key, and, when known, the source folder's own name and the message's UID there. */
export interface MissingMessage {
  readonly folder: string;
  readonly key: string;
  readonly sourceFolder?: string;
  readonly sourceUid?: number;
}
