import type { CpanelHome, CpanelTarget } from '../cpanel/resolve.js';
import { resolveCpanelHome as resolveHomeOnSide } from '../cpanel/resolve.js';
import type { ExecTarget } from '../hosts/exec.js';
import { fileSideOf } from '../hosts/open.js';
import type { StoreSpec } from '../stores/spec.js';
import type { CopyOptions } from './tree/copy-report.js';
import { resolveMailboxEnd } from './tree/resolve-copy.js';

/**
 * Moved to engine/tree/ (run-copy.ts, copy-jobs.ts, copy-settle.ts) and cpanel/ (resolve.ts, files.ts). Kept, with
 * the old ExecTarget signatures, for importers not yet switched (cli/commands/{copy,chown}.ts, verify/run.ts,
 * engine/resync.ts, engine/imap-fallback.ts); new code calls cpanel/resolve.ts on a FileSide.
 */
export { runCopy, decideExitCode } from './tree/run-copy.js';
export type { CopyOptions, CopyReport, JobReport, ControlFileReport, MergeReport } from './tree/copy-report.js';
export { isRsyncPartialName } from './tree/copy-jobs.js';
export { findDomainOwner, parseGroupGid } from '../cpanel/files.js';
/** The old name of cpanel/resolve.ts CpanelTarget. */
export type CpanelTargetInfo = CpanelTarget;

/** A system file read on the side an ExecTarget names (now FileSide.readSmall). */
export async function readSystemFile(exec: ExecTarget, absPath: string): Promise<string | undefined> {
  return fileSideOf(exec).readSmall(absPath);
}

export async function resolveCpanelHome(exec: ExecTarget, root: string, user: string): Promise<CpanelHome> {
  return resolveHomeOnSide(fileSideOf(exec), root, user);
}

export async function resolveCpanelMailboxSide(
  spec: Extract<StoreSpec, { kind: 'cpanel' }>,
  options: Pick<CopyOptions, 'ssh'>,
  side: 'source' | 'target',
): Promise<{ path: string; cpanel?: CpanelTarget }> {
  return resolveMailboxEnd(spec, options, side);
}
