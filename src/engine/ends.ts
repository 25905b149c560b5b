import { stat } from 'node:fs/promises';
import { MailshiftError, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Logger } from '../core/logger.js';
import { formatSpec, parseStoreSpec, type StoreSpec } from '../stores/spec.js';
import type { SshOptions } from '../transport/ssh.js';
import { decideRoute, isRefusal, type EndFacts, type FallbackDecision, type FileLayout, type Operation, type Route } from './route.js';

/**
 * Looks at both ends of an operation, once, and decides its route (engine/route.ts): what each end is (IMAP, a
 * maildir or cPanel tree here or over ssh, an mbox, a Dovecot dbox store), whether `--imap-fallback` is needed, and
 * the refusals that come before any work (a missing source directory, an mbox where maildir files are moved, a dbox
 * store that a file-level copy would carry into a "maildir" no server can read).
 *
 * The order of the looks is the order users saw errors in: IMAP ends need no look; then the fallback decision; then
 * mbox; then a missing source directory; then dbox (over the same ssh connection the run will use).
 *
 * What looks at files (archive sniffing, mbox probing, file access over ssh) is loaded only when an end has files: an
 * IMAP to IMAP run does not load it (start-up is most of a second run with nothing new).
 */
export interface ProbeOptions {
  readonly ssh: SshOptions;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** `--imap-fallback URL`, for copy and resync. */
  readonly imapFallback?: string;
}

export interface ProbedEnds {
  readonly route: Route;
  readonly source: EndFacts;
  readonly target: EndFacts;
}

export async function probeEnds(operation: Operation, source: StoreSpec, target: StoreSpec, options: ProbeOptions): Promise<ProbedEnds> {
  const targetFacts = await lookForArchive(target, describeWithoutLooking(target));
  let sourceFacts = await lookForArchive(source, describeWithoutLooking(source));
  let fallback: FallbackDecision | undefined;
  if (!sourceFacts.files || !targetFacts.files) {
    if (options.imapFallback) options.logger.warn(`--imap-fallback ${options.imapFallback} ignored: ${!sourceFacts.files ? 'the source' : 'the target'} is IMAP already`);
  } else if (options.imapFallback) {
    fallback = await decideFallback(source, options.imapFallback, options);
  }
  if (!fallback?.used && sourceFacts.files && sourceFacts.files.layout !== 'archive') sourceFacts = await lookAtSource(operation, source, sourceFacts, options, fallback);
  const route = decideRoute(operation, sourceFacts, targetFacts, fallback);
  if (isRefusal(route)) {
    if (route.code === 'MAILSHIFT_USAGE') throw new UsageError(route.message, route.hint);
    throw new MailshiftError(route.code, route.message, { hint: route.hint, exitCode: ExitCode.config });
  }
  return { route, source: sourceFacts, target: targetFacts };
}

/** What the spec alone says: IMAP has no files; a cPanel spec is a cPanel tree; a path is taken for a maildir until looked at. */
function describeWithoutLooking(spec: StoreSpec): EndFacts {
  const label = formatSpec(spec);
  if (spec.kind === 'imap') return { label };
  const layout: FileLayout = spec.kind === 'cpanel' ? 'cpanel' : spec.kind === 'mbox' ? 'mbox' : spec.kind === 'archive' ? 'archive' : 'maildir';
  return { label, files: { location: spec.location.type, layout } };
}

/**
 * A cPanel backup is a file told by its first bytes (archive/sniff.ts), or a directory laid out like one (an
 * incremental backup): a plain local path to one is an archive end, and a cpmove: spec must name one.
 */
async function lookForArchive(spec: StoreSpec, facts: EndFacts): Promise<EndFacts> {
  if (spec.kind !== 'archive' && !(spec.kind === 'path' && spec.location.type === 'local')) return facts;
  const { describeBackupSource, readBackupSource } = await import('../archive/source.js');
  const backup = await readBackupSource(spec.path);
  if (backup) return { ...facts, files: { location: 'local', layout: 'archive', detail: describeBackupSource(backup) } };
  if (spec.kind === 'archive') {
    throw new MailshiftError('MAILSHIFT_MISSING_SOURCE', `${formatSpec(spec)}: ${spec.path} is not a cPanel backup (a tar, a tar.gz, or a directory with homedir/ and cp/)`, {
      hint: 'give the path of the cpmove backup (cpmove-USER.tar.gz, USER.tar, backup-DATE_USER.tar.gz, or an incremental backup directory)',
      exitCode: ExitCode.config,
    });
  }
  return facts;
}

async function lookAtSource(operation: Operation, spec: StoreSpec, facts: EndFacts, options: ProbeOptions, fallback: FallbackDecision | undefined): Promise<EndFacts> {
  const files = facts.files!;
  if (spec.kind === 'imap') return facts;
  const { classifyLocalMailPath, describeNonMboxFile } = await import('../stores/probe.js');
  if (spec.location.type === 'local' && (spec.kind === 'mbox' || (spec.kind === 'path' && (await classifyLocalMailPath(spec.path)).kind === 'mbox'))) {
    const detail = operation === 'verify' ? undefined : await describeNonMboxFile(spec.kind === 'path' ? spec.path : undefined);
    return { ...facts, files: { ...files, layout: 'mbox', ...(detail ? { detail } : {}) } };
  }
  // resync has always let a missing source fail where it is listed; the others refuse it before any work.
  if (operation !== 'resync') await requireLocalDirectory(spec, 'source');
  // --imap-fallback looked already (and found files); otherwise make sure the files are not a dbox store.
  if (!fallback && (spec.kind === 'path' || spec.kind === 'maildir')) {
    const { readFileAccess } = await import('./file-access.js');
    const access = await readFileAccess(spec, { ssh: options.ssh, signal: options.signal });
    if (!access.isReachable && access.cause === 'dbox') return { ...facts, files: { ...files, layout: 'dbox', detail: access.reason } };
  }
  return facts;
}

/**
 * The fallback is decided on what the source is where it lives (readFileAccess looks once, over the run's ssh
 * connection). Everything else stays at file level, where an unreachable source fails exactly as it does without
 * --imap-fallback.
 */
async function decideFallback(source: StoreSpec, imap: string, options: ProbeOptions): Promise<FallbackDecision> {
  // Checked before anything is looked at, so a mistyped URL fails now and not after the source turned out unreachable.
  if (parseStoreSpec(imap).kind !== 'imap') {
    throw new UsageError(`--imap-fallback ${imap} is not an imap:// or imaps:// URL`, 'write --imap-fallback imaps://user@host[:port]');
  }
  const { readFileAccess } = await import('./file-access.js');
  const access = await readFileAccess(source, { ssh: options.ssh, signal: options.signal });
  if (access.isReachable) {
    options.logger.info(`--imap-fallback not needed: ${access.reason}`);
    return { used: false, imap, reason: access.reason };
  }
  if (source.kind === 'cpanel' && !source.mailbox) {
    throw new UsageError(
      `${formatSpec(source)} cannot be read at file level (${access.reason}), and --imap-fallback replaces one mailbox, not a whole cPanel account`,
      'copy each mailbox on its own: cpanel:ROOT#local@domain with --imap-fallback imaps://local@domain@host',
    );
  }
  options.logger.warn(`using IMAP (${imap}) for ${formatSpec(source)}: ${access.reason}`);
  return { used: true, imap, reason: access.reason };
}

/**
 * Refuses a local source that is not there, before any work starts: copying from a missing directory reported
 * rsync's "partial transfer", verify of a missing source said "OK: 0 of 0", and watch retried forever. Remote ends
 * are checked when they are reached.
 */
export async function requireLocalDirectory(spec: StoreSpec, role: 'source' | 'target'): Promise<void> {
  if (spec.kind === 'imap' || spec.location.type !== 'local') return;
  const dir = spec.kind === 'cpanel' ? spec.root : spec.path;
  let isDirectory = false;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) {
    throw new MailshiftError(role === 'source' ? 'MAILSHIFT_MISSING_SOURCE' : 'MAILSHIFT_MISSING_TARGET', `${role} ${formatSpec(spec)}: ${dir} is not an existing directory`, {
      hint: `check the ${role} path`,
      exitCode: ExitCode.config,
    });
  }
}
