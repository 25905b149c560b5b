import type { ExitCodeValue } from '../../core/exit-codes.js';
import type { Logger } from '../../core/logger.js';
import type { FolderMapRule } from '../../../converters/folders/imap-mapping.js';
import type { ImapSpec, StoreSpec } from '../../stores/spec.js';
import type { SshOptions } from '../../transport/ssh.js';
import type { Route } from '../route.js';

/**
 * What every operation (copy, resync, verify, watch) is given and what it gives back, whoever calls it: the command
 * line today, a campaign over many accounts next. The caller parses; the operation looks at the ends, decides the
 * route once (engine/route.ts), runs the engine it chose and returns a result object. Nothing here prints.
 */

/** Where passwords come from: files, standard input, the environment, a campaign's credentials file. Never argv. */
export interface Credentials {
  password(side: 'source' | 'target', spec: ImapSpec): Promise<string>;
}

/** Where a long operation stands; the caller draws it (the CLI's progress bar) or stores it (a campaign). */
export interface Progress {
  readonly bytes: number;
  readonly items: number;
  /** When the total is known only as work goes on (an IMAP copy lists folder by folder): the total so far. */
  readonly totalBytes?: number;
  readonly totalItems?: number;
  /** What `totalBytes` is measured against, when it is not `bytes` (source sizes, where the copy writes other bytes). */
  readonly measuredBytes?: number;
  /** Shown at the end of the line ("3/12 folders listed"). */
  readonly note?: string;
}

export interface ProgressSink {
  /** The size of what is about to be copied, once known (a file copy measures its sources first). */
  total?(total: { readonly bytes: number; readonly items: number }): void;
  update(done: Progress): void;
}

/** How IMAP ends are reached (both sides). */
export interface ImapConnectOptions {
  readonly caFile?: string;
  readonly isInsecure?: boolean;
  readonly maxConnections: number;
  readonly connectTimeoutMs?: number;
  readonly retries?: number;
  readonly retryBaseMs?: number;
}

/** Folder selection of the messages engine (`--map`, `--exclude`, `--virtual-folders`). */
export interface FolderRules {
  readonly maps: readonly FolderMapRule[];
  readonly excludes: readonly RegExp[];
  readonly skipVirtual: boolean;
}

export interface OperationBase {
  readonly source: StoreSpec;
  readonly target: StoreSpec;
  /** ssh options from the user (key, -o options, config); the operation shares one connection per host over them. */
  readonly ssh: SshOptions;
  readonly credentials: Credentials;
  readonly imap: ImapConnectOptions;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** For defaults that live in the environment (the state directory). */
  readonly env: NodeJS.ProcessEnv;
  /** Called once the route is decided, before any work (the CLI prints it for --dry-run). */
  readonly onRoute?: (route: Route) => void;
}

/** Something not copied or not compared, with its reason (a message, a folder, a file). */
export interface SkippedItem {
  readonly item: string;
  readonly reason: string;
}

/** The part every operation's result has, whichever engine ran: what a campaign records per account. */
export interface OperationSummary {
  /** Messages (messages engine) or files (files engine) moved or compared. */
  readonly items: number;
  readonly bytes: number;
  readonly skipped: readonly SkippedItem[];
  readonly warnings: readonly string[];
}

export interface OperationResult {
  readonly route: Route;
  readonly exitCode: ExitCodeValue;
  readonly summary: OperationSummary;
}
