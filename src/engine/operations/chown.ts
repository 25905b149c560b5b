import { UsageError } from '../../core/errors.js';
import { ExitCode, type ExitCodeValue } from '../../core/exit-codes.js';
import type { Logger } from '../../core/logger.js';
import { planPlainChownTrees, resolveOwnerIds, runAccountChown, type IdOverrides } from '../../cpanel/chown.js';
import { resolveCpanelTarget } from '../../cpanel/resolve.js';
import { runOwnership, type OwnershipAction, type OwnershipResult } from '../../fsops/ownership.js';
import { openFileSide } from '../../hosts/open.js';
import type { StoreSpec } from '../../stores/spec.js';
import type { SshOptions } from '../../transport/ssh.js';
import { requireLocalDirectory } from '../ends.js';
import { withSharedSsh } from './ssh.js';

/**
 * `chown` as one engine call: a copied cPanel account (or one of its mailboxes) gets cPanel's owners and modes; a
 * plain maildir gets the user's. Symlinks are never followed. The same rules copy applies as its last step
 * (engine/tree/run-tree-copy.ts), here on their own for a tree copied by other means.
 */
export interface ChownRequest {
  readonly target: StoreSpec;
  /** Owner: the cPanel user of the spec by default; required for a plain path (or --uid and --gid). */
  readonly user?: string;
  readonly idOverrides: IdOverrides;
  readonly dryRun: boolean;
  readonly ssh: SshOptions;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Each planned change, as it is decided (the --dry-run listing). */
  readonly onAction?: (action: OwnershipAction) => void;
}

export interface ChownOperationResult extends OwnershipResult {
  readonly user: string;
  /** "UID:GID mail=MAILGID (from …)", as reports print it. */
  readonly ids: string;
  readonly exitCode: ExitCodeValue;
}

export async function runChownOperation(request: ChownRequest): Promise<ChownOperationResult> {
  const spec = request.target;
  if (spec.kind === 'imap') throw new UsageError('chown works on file trees, not IMAP');
  await requireLocalDirectory(spec, 'target');
  return withSharedSsh(request.ssh, [spec], async (ssh) => {
    const side = openFileSide(spec.location, ssh);
    const applyOptions = { dryRun: request.dryRun, signal: request.signal, ...(request.onAction ? { onAction: request.onAction } : {}) };
    let result: OwnershipResult;
    let user: string;
    let ids: string;
    if (spec.kind === 'cpanel') {
      const target = await resolveCpanelTarget(side, spec);
      user = request.user ?? target.user;
      const owner = await resolveOwnerIds(side, spec.root, user, request.idOverrides);
      ids = `${owner.uid}:${owner.gid} mail=${owner.mailGid} (from ${owner.source})`;
      result = await runAccountChown(side, target, owner, applyOptions);
    } else {
      const { uid, gid } = request.idOverrides;
      if (!request.user && (uid === undefined || gid === undefined)) throw new UsageError('a plain path needs --user USER (or --uid and --gid)');
      user = request.user ?? String(uid);
      const owner = await resolveOwnerIds(side, '/', user, request.idOverrides, { requireMailGroup: false });
      ids = `${owner.uid}:${owner.gid} (from ${owner.source})`;
      result = await runOwnership(side.exec, await planPlainChownTrees(side, spec.path), owner, applyOptions);
    }
    request.logger.info(`chown ${user}: ${ids}`);
    return { ...result, user, ids, exitCode: result.failed.length > 0 ? ExitCode.partial : ExitCode.ok };
  });
}
