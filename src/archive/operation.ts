import path from 'node:path';
import { MailshiftError, UsageError } from '../core/errors.js';
import { ExitCode, type ExitCodeValue } from '../core/exit-codes.js';
import type { Logger } from '../core/logger.js';
import { resolveOwnerIds, runAccountChown } from '../cpanel/chown.js';
import { resolveCpanelHome, resolveCpanelMailbox, resolveCpanelTarget } from '../cpanel/resolve.js';
import { openFileSide } from '../hosts/open.js';
import { formatSpec, type StoreSpec } from '../stores/spec.js';
import type { SshOptions } from '../transport/ssh.js';
import { applyAccountFiles, type AccountFileOutcome } from './account-files.js';
import { openRemoteWriters } from './remote-target.js';
import { runArchiveRestore, type RestoreReport, type RestoreTarget, type SkippedEntry } from './restore.js';
import { readBackupSource } from './source.js';

/**
 * `mailshift copy BACKUP TARGET` when the route chose the archive engine: which tree the backup goes into, the
 * restore itself (restore.ts), then, into a cPanel root, the account files (account-files.ts) and owners and modes
 * (cpanel/chown.ts, with the ids resolved the way copy resolves them).
 *
 *   cpmove:BACKUP[#USER]          -> cpanel:ROOT#USER         the whole account into ~USER/mail, merged account files
 *   cpmove:BACKUP#local@domain    -> cpanel:ROOT#USER         that mailbox into the account (and its passwd lines)
 *   cpmove:BACKUP#local@domain    -> MAILDIR                  that mailbox as one maildir
 *   cpmove:BACKUP[#...]           -> cpanel:ROOT#local@domain that (or the same-named) mailbox into the target mailbox
 *
 * Into an IMAP account (cpmove:BACKUP#local@domain -> imaps://...) the messages engine's operation calls
 * imap-restore.ts instead, which streams the mailbox into the account through the same one pass.
 *
 * Each target may be here or over ssh (`cpanel:ssh://HOST/ROOT#USER`, `ssh://HOST/MAILDIR`): over ssh the files go
 * through remote-target.ts (one remote tar per batch, then rename without clobbering), and the account files and
 * chown through the same FileSide calls as here.
 */

export interface ArchiveCopyRequest {
  readonly source: StoreSpec;
  readonly target: StoreSpec;
  readonly dryRun: boolean;
  readonly chown?: { readonly uid?: number; readonly gid?: number; readonly mailGid?: number };
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly onProgress?: (done: { readonly items: number; readonly bytes: number }) => void;
  /** The run's ssh options (one shared connection per host), for a target over ssh. */
  readonly ssh?: SshOptions;
}

export interface ArchiveChownOutcome {
  readonly user: string;
  readonly ids: string;
  readonly applied: number;
  readonly failed: readonly { readonly path: string; readonly reason: string }[];
}

export interface ArchiveCopyResult {
  readonly report: RestoreReport;
  readonly accountFiles: AccountFileOutcome[];
  readonly chown?: ArchiveChownOutcome;
  readonly skipped: SkippedEntry[];
  readonly exitCode: ExitCodeValue;
}

export async function runArchiveCopy(request: ArchiveCopyRequest): Promise<ArchiveCopyResult> {
  const { source, target } = request;
  if (source.kind !== 'archive' && source.kind !== 'path') throw new UsageError(`${formatSpec(source)} is not a cPanel backup`);
  const backup = await readBackupSource(source.path);
  if (!backup) throw new MailshiftError('MAILSHIFT_MISSING_SOURCE', `${source.path} is not a cPanel backup (a tar, a tar.gz or a backup directory)`, { exitCode: ExitCode.config });
  const selected = source.kind === 'archive' && source.mailbox ? `${source.mailbox.domain}/${source.mailbox.localPart}` : undefined;
  if (target.kind !== 'cpanel' && target.kind !== 'path' && target.kind !== 'maildir') {
    throw new MailshiftError('MAILSHIFT_ARCHIVE_TARGET', `${formatSpec(target)}: a cPanel backup is restored into a cPanel root or a maildir, here or over ssh`, {
      hint: 'restore into a cPanel root (cpanel:ROOT#USER) or a maildir, then copy from there',
      exitCode: ExitCode.usage,
    });
  }
  const side = openFileSide(target.location, request.ssh);
  const isRemote = target.location.type === 'ssh';

  let restoreTarget: RestoreTarget;
  let mailbox = selected;
  let account: { root: string; home: string; user: string; uid?: number; gid?: number } | undefined;
  if (target.kind === 'cpanel' && !target.mailbox) {
    const home = await resolveCpanelHome(side, target.root, target.user);
    account = { root: target.root, home: home.home, user: target.user, ...(home.uid !== undefined ? { uid: home.uid } : {}), ...(home.gid !== undefined ? { gid: home.gid } : {}) };
    restoreTarget = { kind: 'cpanel-home', home: home.home, label: formatSpec(target) };
  } else if (target.kind === 'cpanel' && target.mailbox) {
    const resolved = await resolveCpanelMailbox(side, target.root, target.mailbox, 'target');
    mailbox ??= resolved.mailboxDir;
    restoreTarget = { kind: 'maildir', path: resolved.path, label: formatSpec(target) };
  } else if (target.kind !== 'cpanel') {
    if (!mailbox) {
      throw new MailshiftError('MAILSHIFT_ARCHIVE_NO_MAILBOX', `${formatSpec(source)} holds a whole cPanel account and ${formatSpec(target)} is one maildir: name the mailbox to restore`, {
        hint: 'name one mailbox: cpmove:ARCHIVE#local@domain (mailshift discover ARCHIVE lists them)',
        exitCode: ExitCode.usage,
      });
    }
    restoreTarget = { kind: 'maildir', path: target.path, label: formatSpec(target) };
  } else throw new UsageError(`${formatSpec(target)} names no cPanel account`);

  const remote = isRemote ? await openRemoteWriters(side, restoreTarget, { dryRun: request.dryRun, wholeAccount: mailbox === undefined, signal: request.signal, logger: request.logger }) : undefined;
  let restored: Awaited<ReturnType<typeof runArchiveRestore>>;
  try {
    restored = await runArchiveRestore(backup, {
      target: restoreTarget,
      ...(mailbox ? { mailbox } : {}),
      dryRun: request.dryRun,
      signal: request.signal,
      logger: request.logger,
      ...(remote ? { writers: remote.writers } : {}),
      ...(request.onProgress ? { onProgress: request.onProgress } : {}),
    });
  } catch (err) {
    await remote?.close({ failed: true }).catch(() => undefined);
    throw err;
  }
  await remote?.close({ failed: false });
  const { report, held } = restored;
  const skipped = [...report.skipped];
  let accountFiles: AccountFileOutcome[] = [];
  let chown: ArchiveChownOutcome | undefined;
  if (account && target.kind === 'cpanel') {
    const sourceUser = report.user ?? account.user;
    if (sourceUser !== account.user) request.logger.info(`the backup is ${sourceUser}'s; home paths and names are rewritten for ${account.user}`);
    const applied = await applyAccountFiles(held, account, { sourceUser, ...(mailbox ? { mailbox } : {}), dryRun: request.dryRun }, side);
    accountFiles = applied.merges;
    skipped.push(...applied.refused);
    for (const m of accountFiles) if (m.keptTarget.length > 0) request.logger.warn(`${m.path}: kept the target's lines for ${m.keptTarget.join(', ')}`);
    if (request.chown && !request.dryRun) {
      const ids = await resolveOwnerIds(side, account.root, account.user, request.chown);
      const cpanelTarget = await resolveCpanelTarget(side, target);
      const scoped = mailbox ? { ...cpanelTarget, mailboxDir: mailbox } : cpanelTarget;
      request.logger.info(`chown: ${account.user} is ${ids.uid}:${ids.gid}, group mail is ${ids.mailGid} (from ${ids.source})`);
      const result = await runAccountChown(side, scoped, ids, { signal: request.signal });
      chown = { user: account.user, ids: `${ids.uid}:${ids.gid} mail=${ids.mailGid}`, applied: result.applied, failed: result.failed };
      skipped.push(...result.failed.map((f) => ({ item: path.relative(account!.root, f.path) || f.path, reason: `owner or mode not set: ${f.reason}` })));
    }
  }
  const exitCode = skipped.length > 0 ? ExitCode.partial : report.exitCode;
  return { report, accountFiles, ...(chown ? { chown } : {}), skipped, exitCode };
}
