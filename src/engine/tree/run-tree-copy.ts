import { ExitCode, type ExitCodeValue } from '../../core/exit-codes.js';
import { silentLogger } from '../../core/logger.js';
import { resolveOwnerIds, runAccountChown, type IdOverrides } from '../../cpanel/chown.js';
import type { CpanelTarget } from '../../cpanel/resolve.js';
import type { OwnerIds, OwnershipResult } from '../../fsops/ownership.js';
import { openFileSide } from '../../hosts/open.js';
import type { StoreSpec } from '../../stores/spec.js';
import type { CopyOptions, CopyReport } from './copy-report.js';
import { runCopy } from './run-copy.js';

/**
 * `mailshift copy` at file level as one engine call: the copy (run-copy.ts), then, into a cPanel root, chown as its
 * last step. The owner ids are resolved once, when the target is known and before anything is copied: rsync
 * creates the mail files with them (--chown, cPanel's modes), and the chown pass afterwards uses the same ids to fix
 * what is left (account files, directories that already existed).
 */

export interface TreeCopyOptions extends Omit<CopyOptions, 'resolveMailOwner'> {
  /** Fix owners and modes after copying into a cPanel root (the CLI's default; --no-chown turns it off). */
  readonly chown?: boolean;
  /** --uid, --gid, --mail-gid: ids that win over the target's passwd and group. */
  readonly idOverrides?: IdOverrides;
}

export interface TreeCopyChown extends OwnershipResult {
  readonly user: string;
  /** "UID:GID mail=MAILGID", as reports print it. */
  readonly ids: string;
}

export interface TreeCopyResult {
  readonly report: CopyReport;
  /** Present when chown ran (a cPanel target, chown on, not a dry run, the copy not stopped by a configuration error). */
  readonly chown?: TreeCopyChown;
  /** The copy's exit code, made partial (3) when chown failed on some entries of an otherwise complete copy. */
  readonly exitCode: ExitCodeValue;
}

export async function runTreeCopy(source: StoreSpec, target: StoreSpec, options: TreeCopyOptions = {}): Promise<TreeCopyResult> {
  const logger = options.logger ?? silentLogger;
  const { chown: wantChown, idOverrides, ...copyOptions } = options;
  let ownerIds: (OwnerIds & { source: string }) | undefined;
  const idsOf = async (t: CpanelTarget) => (ownerIds ??= await resolveOwnerIds(openFileSide(t.location, options.ssh), t.root, t.user, idOverrides ?? {}));
  const report = await runCopy(source, target, {
    ...copyOptions,
    ...(wantChown
      ? {
          resolveMailOwner: async (t: CpanelTarget) => {
            const ids = await idsOf(t);
            return { uid: ids.uid, gid: ids.gid };
          },
        }
      : {}),
  });
  let chown: TreeCopyChown | undefined;
  if (report.cpanelTarget && wantChown && !options.dryRun && report.exitCode !== ExitCode.config) {
    const t = report.cpanelTarget;
    const ids = await idsOf(t);
    logger.info(`chown: ${t.user} is ${ids.uid}:${ids.gid}, group mail is ${ids.mailGid} (from ${ids.source})`);
    const result = await runAccountChown(openFileSide(t.location, options.ssh), t, ids, options.signal ? { signal: options.signal } : {});
    chown = { ...result, user: t.user, ids: `${ids.uid}:${ids.gid} mail=${ids.mailGid}` };
  }
  const chownFailed = Boolean(chown && chown.failed.length > 0);
  const exitCode = chownFailed && report.exitCode === ExitCode.ok ? ExitCode.partial : report.exitCode;
  return { report, ...(chown ? { chown } : {}), exitCode };
}
