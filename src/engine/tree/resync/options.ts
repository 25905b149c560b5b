import type { Logger } from '../../../core/logger.js';
import type { SshOptions } from '../../../transport/ssh.js';
import type { ResyncSide } from './ends.js';
import type { TreeLayout } from './list.js';
import type { FlagsMode } from './plan.js';

/** What a resync run is given: the two resolved ends (run.ts resolveResyncTree) and the options of the run. */

export interface ResyncTree {
  readonly source: ResyncSide;
  readonly target: ResyncSide;
  readonly layout: TreeLayout;
  /** For the report. */
  readonly sourceLabel: string;
  readonly targetLabel: string;
}

export interface ResyncOptions {
  readonly flags?: FlagsMode;
  /** Recognise mail delivered to both servers (default true). */
  readonly dedupe?: boolean;
  readonly dryRun?: boolean;
  readonly ssh?: SshOptions;
  readonly retries?: number;
  readonly retryBaseDelayMs?: number;
  readonly ioTimeoutS?: number;
  readonly bwlimitKiBps?: number;
  /** Only these folders (relative dirs, '' = INBOX): watch mode. */
  readonly onlyFolders?: ReadonlySet<string>;
  /** List the source again after copying to tell whether it changed (default true). */
  readonly recheckSource?: boolean;
  /** Called after the target was written, before the source is listed again (progress, logs; tests use it). */
  readonly onApplied?: () => Promise<void> | void;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}
