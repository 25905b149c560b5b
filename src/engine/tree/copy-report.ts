import type { ExitCodeValue } from '../../core/exit-codes.js';
import type { Logger } from '../../core/logger.js';
import type { CpanelTarget } from '../../cpanel/resolve.js';
import type { RsyncOutcome } from '../../transport/rsync/exit.js';
import type { ItemizedChange } from '../../transport/rsync/itemize.js';
import type { SshOptions } from '../../transport/ssh.js';
import type { RefusedItem } from './copy-safety.js';
import type { CopyJob } from './plan-copy.js';

/** What a tree copy takes (CopyOptions) and what it reports (CopyReport), shared by its modules. */

export interface CopyOptions {
  readonly jobs?: number;
  readonly bwlimitKiBps?: number;
  readonly retries?: number;
  readonly retryBaseDelayMs?: number;
  readonly ioTimeoutS?: number;
  readonly dryRun?: boolean;
  readonly ssh?: SshOptions;
  readonly renameUser?: { readonly from: string; readonly to: string };
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Progress of all jobs together (bytes from rsync's progress2, files from its item list). */
  readonly onProgress?: (done: { bytes: number; items: number }) => void;
  /** Ask rsync for progress lines (worth it on a terminal only). */
  readonly wantProgress?: boolean;
  /** With wantProgress: the size of what is about to be copied (the sources, as find sees them), for an ETA. */
  readonly onTotal?: (total: { bytes: number; files: number }) => void;
  /** Called for every item rsync reports (the --dry-run listing). Without it rsync does not itemize at all. */
  readonly onItem?: (job: CopyJob, item: ItemizedChange) => void;
  /**
   * For a copy into a cPanel root: the owner the mail will get. Asked once the target is resolved, before anything is
   * copied; rsync then creates mail files with that owner and cPanel's modes (--chown, --chmod D0751,F0640), so the
   * chown pass afterwards only has exceptions left to fix. Undefined: files keep the source's numeric owner.
   */
  readonly resolveMailOwner?: (target: CpanelTarget) => Promise<{ uid: number; gid: number } | undefined>;
}

export interface JobReport {
  readonly label: string;
  readonly source: string;
  readonly target: string;
  readonly outcome: RsyncOutcome;
  readonly meaning: string;
  readonly attempts: number;
  readonly files: number;
  readonly hardlinks: number;
  readonly symlinks: number;
  readonly dirs: number;
  readonly bytes: number;
  readonly warnings: readonly string[];
  /** What to do about a failed job, when the cause is known (a full disk, a read-only target, a host key). */
  readonly hint?: string;
}

export interface ControlFileReport {
  readonly path: string;
  readonly action: 'keep-target' | 'take-source' | 'write';
  readonly reason: string;
}

export interface MergeReport {
  readonly path: string;
  readonly action: 'written' | 'unchanged' | 'skipped';
  readonly added: readonly string[];
  readonly keptTarget: readonly string[];
  readonly reason?: string;
  /** Source lines not merged because their key is unsafe as a path (e.g. a mailbox name with "../"). */
  readonly refused?: readonly RefusedItem[];
}

export interface CopyReport {
  readonly source: string;
  readonly target: string;
  readonly dryRun: boolean;
  readonly jobs: JobReport[];
  readonly controlFiles: ControlFileReport[];
  readonly merges: MergeReport[];
  /** Items refused as unsafe (the rules discover reports as unsafe): not copied, listed with their reason. */
  readonly skipped: RefusedItem[];
  readonly mailboxes: string[];
  readonly cpanelTarget?: CpanelTarget;
  readonly exitCode: ExitCodeValue;
}
