import * as cpanelChown from '../cpanel/chown.js';
import { readCpanelAccountDomains, type CpanelTarget } from '../cpanel/resolve.js';
import type { OwnerIds, OwnershipAction, OwnershipResult, OwnershipTree } from '../fsops/ownership.js';
import type { ExecTarget } from '../hosts/exec.js';
import { fileSideOf } from '../hosts/open.js';

/**
 * Moved to cpanel/chown.ts (on a FileSide instead of an ExecTarget). Kept, with the old signatures, for importers
 * not yet switched (cli/commands/{copy,chown}.ts).
 */
export type { IdOverrides } from '../cpanel/chown.js';
/** The old name of cpanel/resolve.ts CpanelTarget. */
export type ChownTarget = CpanelTarget;

export function resolveOwnerIds(
  exec: ExecTarget,
  root: string,
  user: string,
  overrides: cpanelChown.IdOverrides = {},
  options: { requireMailGroup?: boolean } = {},
): Promise<OwnerIds & { source: string }> {
  return cpanelChown.resolveOwnerIds(fileSideOf(exec), root, user, overrides, options);
}

export function planChownTrees(exec: ExecTarget, target: ChownTarget): Promise<OwnershipTree[]> {
  return cpanelChown.planChownTrees(fileSideOf(exec), target);
}

export function planPlainChownTrees(exec: ExecTarget, dir: string): Promise<OwnershipTree[]> {
  return cpanelChown.planPlainChownTrees(fileSideOf(exec), dir);
}

export function runAccountChown(
  exec: ExecTarget,
  target: ChownTarget,
  ids: OwnerIds,
  options: { dryRun?: boolean; signal?: AbortSignal; onAction?: (action: OwnershipAction) => void } = {},
): Promise<OwnershipResult> {
  return cpanelChown.runAccountChown(fileSideOf(exec), target, ids, options);
}

export function findAccountDomains(exec: ExecTarget, root: string, user: string, home: string): Promise<string[]> {
  return readCpanelAccountDomains(fileSideOf(exec), root, user, home);
}
