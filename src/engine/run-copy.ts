import { mkdtemp, mkdir, readFile, rm, writeFile, lstat, chmod } from 'node:fs/promises';
import { runPool } from '../core/async.js';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MailshiftError, UsageError, systemErrorCode } from '../core/errors.js';
import { ExitCode, type ExitCodeValue } from '../core/exit-codes.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { formatSpec, type Location, type StoreSpec } from '../stores/spec.js';
import { runExec, type ExecTarget } from '../transport/exec.js';
import { listTree, sshFailure, type TreeEntry } from '../transport/list.js';
import { buildRsyncArgv, type RsyncEndpoint } from '../transport/rsync/args.js';
import { formatFilterFile, type FilterRule } from '../transport/rsync/filters.js';
import { checkNameSegment } from '../stores/cpanel/unsafe.js';
import { createMaildirScanner, type RefusedItem } from './copy-safety.js';
import type { RsyncOutcome } from '../transport/rsync/exit.js';
import type { ItemizedChange } from '../transport/rsync/itemize.js';
import { runRsync } from '../transport/rsync/run.js';
import { listArrivedFiles } from '../transport/rsync/arrived.js';
import { fetchFiles, pushFiles } from './file-list-transfer.js';
import { checkLocalTargetDir, classifyRemoteMkdirFailure, targetWriteError } from '../fsops/target-dir.js';
import type { SshEndpoint, SshOptions } from '../transport/ssh.js';
import {
  mergeKeyedLines,
  rewriteEmbeddedHome,
  rewritePasswd,
  rewriteValiases,
  type Rewrite,
} from './account-files.js';
import { controlFileNames, decideControlFile } from './control-files.js';
import {
  isDomainDirName,
  parseGroupGid,
  parsePasswdHome,
  parseUserDomains,
  planAccountCopy,
  planMaildirCopy,
  type AccountSide,
  type CopyJob,
  type MergeItem,
  copyTempDirName,
} from './copy.js';

/**
 * Runs a copy: resolves the specs into rsync jobs (copy.ts), runs them N at a time, then settles the control files
 * the target already had and merges the account's small files. Reports everything it did and did not do.
 */

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
  readonly resolveMailOwner?: (target: CpanelTargetInfo) => Promise<{ uid: number; gid: number } | undefined>;
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

/** What chown needs to know about a cPanel target. */
export interface CpanelTargetInfo {
  readonly location: Location;
  readonly root: string;
  readonly home: string;
  readonly user: string;
  readonly domains: readonly string[];
  /** Limit to one mailbox directory (relative to ~/mail) for a single-mailbox copy. */
  readonly mailboxDir?: string;
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
  readonly cpanelTarget?: CpanelTargetInfo;
  readonly exitCode: ExitCodeValue;
}

interface Resolved {
  readonly jobs: CopyJob[];
  readonly merges: MergeItem[];
  readonly mailboxes: string[];
  readonly rewrite?: Rewrite;
  /** Roots the control-file pass compares (source and target maildir roots, matching relative paths). */
  readonly controlRoots: { source: RsyncEndpoint; target: RsyncEndpoint }[];
  readonly sourceRoot?: RsyncEndpoint;
  readonly targetRoot?: RsyncEndpoint;
  readonly cpanelTarget?: CpanelTargetInfo;
}

export async function runCopy(source: StoreSpec, target: StoreSpec, options: CopyOptions = {}): Promise<CopyReport> {
  const logger = options.logger ?? silentLogger;
  const staging = await mkdtemp(path.join(os.tmpdir(), 'mailshift-copy-'));
  // A second Ctrl-C exits at once (cli/main.ts), before the finally below can run: remove the directory then too.
  const removeStagingOnExit = () => rmSync(staging, { recursive: true, force: true });
  process.once('exit', removeStagingOnExit);
  try {
    const started = Date.now();
    const phase = (name: string) => logger.debug(`copy: ${name} done at ${Date.now() - started} ms`);
    const resolved = await resolveCopy(source, target, options);
    phase('planning');
    // A target that is a file, or on a read-only filesystem, stops the run here with what and where.
    if (!options.dryRun) for (const job of resolved.jobs) if (!job.target.ssh) await checkLocalTargetDir(job.target.isFile ? path.dirname(job.target.path) : job.target.path);
    const mailOwner = resolved.cpanelTarget && options.resolveMailOwner && !options.dryRun ? await options.resolveMailOwner(resolved.cpanelTarget) : undefined;
    const existingControl = options.dryRun ? [] : await listExistingControlFiles(resolved, options);
    phase('listing control files the target already has');
    const scan = await scanSources(resolved.jobs, options);
    phase('checking the sources for unsafe items');
    if (options.wantProgress && options.onTotal) options.onTotal(scan.totals);
    const jobsToRun = resolved.jobs.map((job, i) => (scan.rules[i]!.length > 0 ? { ...job, rules: [...scan.rules[i]!, ...job.rules] } : job));
    // The target's account files are read only once every job has finished: a job may be creating the target root
    // (a first copy into a new cPanel root), and reading it meanwhile raced that creation.
    const jobs = await runJobs(jobsToRun, staging, { ...options, ...(mailOwner ? { mailOwner } : {}) }, logger);
    phase('rsync jobs');
    // After a failed job (a full disk) the small files may fail the same way: the report of what arrived must
    // still come out, with those files listed as not written.
    const hasFailedJob = jobs.some((j) => j.outcome !== 'ok' && j.outcome !== 'vanished');
    const afterFailedJob = <T>(what: string, fallback: (err: MailshiftError) => T) => (err: unknown): T => {
      if (!hasFailedJob || !(err instanceof MailshiftError)) throw err;
      logger.error(`${what}: ${err.message}`);
      return fallback(err);
    };
    const controlFiles = options.dryRun ? [] : await settleControlFiles(resolved, existingControl, staging, options, logger).catch(afterFailedJob('control files not settled', () => []));
    const merges = options.dryRun ? planOnlyMerges(resolved.merges) : await runMerges(resolved, staging, options, logger).catch(
      afterFailedJob('account files not merged', (err) => resolved.merges.map((m): MergeReport => ({ path: m.targetPath, action: 'skipped', added: [], keptTarget: [], reason: `not written: ${err.message}` }))),
    );
    phase('control files and merges');
    const skipped = [...scan.refused, ...merges.flatMap((m) => m.refused ?? [])];
    for (const item of skipped) logger.warn(`not copied: ${item.job}: ${JSON.stringify(item.path)}: ${item.reason}`);
    const jobsExitCode = decideExitCode(jobs);
    // A refused item is a skipped one: the copy is partial (3) unless something worse happened.
    const exitCode = skipped.length > 0 && jobsExitCode === ExitCode.ok ? ExitCode.partial : jobsExitCode;
    return {
      source: formatSpec(source),
      target: formatSpec(target),
      dryRun: Boolean(options.dryRun),
      jobs,
      controlFiles,
      merges,
      skipped,
      mailboxes: resolved.mailboxes,
      ...(resolved.cpanelTarget ? { cpanelTarget: resolved.cpanelTarget } : {}),
      exitCode,
    };
  } finally {
    process.off('exit', removeStagingOnExit);
    await rm(staging, { recursive: true, force: true });
  }
}

export function decideExitCode(jobs: readonly JobReport[]): ExitCodeValue {
  if (jobs.some((j) => j.outcome === 'config')) return ExitCode.config;
  if (jobs.some((j) => j.outcome === 'fatal')) return ExitCode.failed;
  if (jobs.some((j) => j.outcome === 'network')) return ExitCode.tempFail;
  if (jobs.some((j) => j.outcome === 'partial')) return ExitCode.partial;
  return ExitCode.ok;
}

// ---------------------------------------------------------------------------------------------------------------
// Resolving specs

function endpointOf(location: Location, p: string): RsyncEndpoint {
  return location.type === 'ssh' ? { path: p, ssh: sshOf(location) } : { path: p };
}

function sshOf(location: Location): SshEndpoint | undefined {
  if (location.type !== 'ssh') return undefined;
  return { host: location.host, ...(location.user ? { user: location.user } : {}), ...(location.port ? { port: location.port } : {}) };
}

function execTargetOf(location: Location, options: CopyOptions): ExecTarget {
  return execOf(sshOf(location), options);
}

/** Where commands for one end run: locally, or over ssh with the run's ssh options. */
function execOf(ssh: SshEndpoint | undefined, options: CopyOptions): ExecTarget {
  return ssh ? { ssh, ...(options.ssh ? { sshOptions: options.ssh } : {}) } : {};
}

async function resolveCopy(source: StoreSpec, target: StoreSpec, options: CopyOptions): Promise<Resolved> {
  if (source.kind === 'imap' || target.kind === 'imap') {
    throw new UsageError('copy moves file trees with rsync; IMAP is not a file tree', 'use mailshift imap-copy (or the IMAP fallback) for IMAP servers');
  }
  if (source.kind === 'mbox' || target.kind === 'mbox') {
    throw new UsageError('copy moves maildir trees; mbox needs converting', 'use mailshift convert for mbox');
  }
  if (source.location.type === 'ssh' && target.location.type === 'ssh') {
    throw new UsageError('both ends are remote; rsync copies between this machine and one remote host', 'run mailshift on the source or the target server');
  }
  const isTree = (s: StoreSpec) => s.kind === 'path' || s.kind === 'maildir';
  if (isTree(source) && isTree(target)) {
    const job = planMaildirCopy(endpointOf(source.location, source.path), endpointOf(target.location, target.path), 'maildir');
    return { jobs: [job], merges: [], mailboxes: ['(maildir)'], controlRoots: [{ source: job.source, target: job.target }] };
  }
  if (source.kind === 'cpanel' && !source.mailbox && target.kind === 'cpanel' && !target.mailbox) {
    return resolveAccountCopy(source, target, options);
  }
  if (source.kind === 'cpanel' && !source.mailbox) {
    throw new UsageError('a whole cPanel account can only be copied into a cPanel root', 'name the target as cpanel:ROOT#USER, or copy one mailbox with cpanel:ROOT#local@domain');
  }
  // One mailbox: cpanel:ROOT#local@domain or a maildir path on either side.
  const src = source.kind === 'cpanel' ? await resolveMailboxSide(source, options, 'source') : { path: (source as { path: string }).path };
  const dst = target.kind === 'cpanel' ? await resolveMailboxSide(target, options, 'target') : { path: (target as { path: string }).path };
  const job = planMaildirCopy(endpointOf(source.location, src.path), endpointOf(target.location, dst.path), 'mailbox');
  return {
    jobs: [job],
    merges: [],
    mailboxes: [source.kind === 'cpanel' && source.mailbox ? `${source.mailbox.localPart}@${source.mailbox.domain}` : '(maildir)'],
    controlRoots: [{ source: job.source, target: job.target }],
    ...('cpanel' in dst ? { cpanelTarget: dst.cpanel } : {}),
  };
}

async function resolveMailboxSide(
  spec: Extract<StoreSpec, { kind: 'cpanel' }>,
  options: CopyOptions,
  side: 'source' | 'target',
): Promise<{ path: string; cpanel?: CpanelTargetInfo }> {
  if (!spec.mailbox) throw new Error('not a mailbox spec');
  const exec = execTargetOf(spec.location, options);
  const userdomains = (await readSystemFile(exec, path.posix.join(spec.root, 'etc/userdomains'))) ?? '';
  const owner = findDomainOwner(userdomains, spec.mailbox.domain);
  if (!owner) {
    throw new MailshiftError('MAILSHIFT_CPANEL_DOMAIN_UNKNOWN', `${side}: no cPanel account owns ${spec.mailbox.domain} in ${path.posix.join(spec.root, 'etc/userdomains')}`, {
      hint: side === 'target' ? 'create the domain on the target server first (cPanel: add it to the account), then copy' : 'check the domain name and the cPanel root',
      exitCode: ExitCode.config,
    });
  }
  const home = await resolveHome(exec, spec.root, owner);
  const mailboxDir = `${spec.mailbox.domain}/${spec.mailbox.localPart}`;
  const mailboxPath = path.posix.join(home.home, 'mail', mailboxDir);
  return {
    path: mailboxPath,
    ...(side === 'target'
      ? { cpanel: { location: spec.location, root: spec.root, home: home.home, user: owner, domains: [spec.mailbox.domain], mailboxDir } }
      : {}),
  };
}

export function findDomainOwner(userdomainsText: string, domain: string): string | undefined {
  for (const line of userdomainsText.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    if (line.slice(0, colon).trim().toLowerCase() === domain) {
      const owner = line.slice(colon + 1).trim();
      return /^[a-z0-9_][a-z0-9_-]{0,31}$/i.test(owner) && owner !== 'nobody' ? owner : undefined;
    }
  }
  return undefined;
}

/**
 * Home directory of a cPanel user: field 6 of ROOT/etc/passwd, taken relative to ROOT (like a chroot), else
 * ROOT/home/USER. Refused if it would leave ROOT.
 */
async function resolveHome(exec: ExecTarget, root: string, user: string): Promise<{ home: string; uid?: number; gid?: number }> {
  const passwd = await readSystemFile(exec, path.posix.join(root, 'etc/passwd'));
  const entry = passwd ? parsePasswdHome(passwd, user) : undefined;
  const homeInRoot = entry && entry.home.startsWith('/') ? path.posix.join(root, entry.home) : path.posix.join(root, 'home', user);
  const relative = path.posix.relative(root, homeInRoot);
  if (relative === '' || relative.startsWith('..')) {
    throw new MailshiftError('MAILSHIFT_CPANEL_HOME_OUTSIDE', `home directory of ${user} (${homeInRoot}) is not inside ${root}`, { exitCode: ExitCode.config });
  }
  return { home: homeInRoot, ...(entry ? { uid: entry.uid, gid: entry.gid } : {}) };
}

async function resolveAccountCopy(
  source: Extract<StoreSpec, { kind: 'cpanel' }>,
  target: Extract<StoreSpec, { kind: 'cpanel' }>,
  options: CopyOptions,
): Promise<Resolved> {
  const rename = options.renameUser;
  if (rename) {
    if (rename.from !== source.user) throw new UsageError(`--rename-user ${rename.from}:${rename.to} does not start from the source user ${source.user}`);
    if (rename.to !== target.user) throw new UsageError(`--rename-user ${rename.from}:${rename.to} does not end at the target user ${target.user}`);
  } else if (source.user !== target.user) {
    throw new UsageError(`source user ${source.user} and target user ${target.user} differ`, `add --rename-user ${source.user}:${target.user} to rewrite the home paths and names`);
  }
  const srcExec = execTargetOf(source.location, options);
  const dstExec = execTargetOf(target.location, options);
  const srcHome = await resolveHome(srcExec, source.root, source.user);
  const dstHome = await resolveHome(dstExec, target.root, target.user);

  const mail: TreeEntry[] = [];
  const mailRoot = path.posix.join(srcHome.home, 'mail');
  const mailListing = await listTree(srcExec, mailRoot, (e) => mail.push(e), { maxDepth: 3, dirsAndLinksOnly: true, ...(options.signal ? { signal: options.signal } : {}) });
  if (!mailListing.exists) {
    throw new MailshiftError('MAILSHIFT_CPANEL_NO_MAIL', `${formatSpec(source)}: ${mailRoot} does not exist`, { hint: 'check the cPanel root and the user name', exitCode: ExitCode.config });
  }
  const home: TreeEntry[] = [];
  await listTree(srcExec, srcHome.home, (e) => home.push(e), { maxDepth: 2, ...(options.signal ? { signal: options.signal } : {}) });
  await listTree(srcExec, path.posix.join(srcHome.home, 'etc'), (e) => home.push({ ...e, path: `etc/${e.path}` }), { maxDepth: 2 });

  const userdomains = (await readSystemFile(srcExec, path.posix.join(source.root, 'etc/userdomains'))) ?? '';
  const domains = new Set(parseUserDomains(userdomains, source.user));
  for (const entry of home) {
    const m = /^etc\/([^/]+)$/.exec(entry.path);
    if (m && entry.type === 'dir' && isDomainDirName(m[1]!) && /^[a-z0-9.-]+$/.test(m[1]!)) domains.add(m[1]!);
  }
  const rewrite: Rewrite = {
    sourceHome: path.posix.join('/', path.posix.relative(source.root, srcHome.home)),
    targetHome: path.posix.join('/', path.posix.relative(target.root, dstHome.home)),
    sourceUser: source.user,
    targetUser: target.user,
    ...(dstHome.uid !== undefined ? { targetUid: dstHome.uid } : {}),
    ...(dstHome.gid !== undefined ? { targetGid: dstHome.gid } : {}),
  };
  const sourceSide: AccountSide = { root: source.root, home: srcHome.home, user: source.user, ...(sshOf(source.location) ? { ssh: sshOf(source.location)! } : {}) };
  const targetSide: AccountSide = { root: target.root, home: dstHome.home, user: target.user, ...(sshOf(target.location) ? { ssh: sshOf(target.location)! } : {}) };
  const plan = planAccountCopy({ source: sourceSide, target: targetSide, listing: { mail, home }, domains: [...domains].sort(), rewrite });
  return {
    jobs: plan.jobs,
    merges: plan.merges,
    mailboxes: ['(default)', ...plan.mailboxes],
    rewrite,
    controlRoots: [{ source: endpointOf(source.location, mailRoot), target: endpointOf(target.location, path.posix.join(dstHome.home, 'mail')) }],
    sourceRoot: endpointOf(source.location, source.root),
    targetRoot: endpointOf(target.location, target.root),
    cpanelTarget: { location: target.location, root: target.root, home: dstHome.home, user: target.user, domains: plan.domains },
  };
}

/** A root-owned system file (etc/passwd, etc/userdomains): read directly, here or over ssh. Undefined if missing. */
export async function readSystemFile(exec: ExecTarget, absPath: string): Promise<string | undefined> {
  if (!exec.ssh) {
    try {
      return await readFile(absPath, 'utf8');
    } catch (err) {
      if (systemErrorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }
  const result = await runExec(exec, ['cat', '--', absPath]);
  if (result.exitCode === 0) return result.stdout.toString('utf8');
  if (result.exitCode === 255) throw sshFailure(exec.ssh.host, result.stderr);
  if (/No such file/.test(result.stderr)) return undefined;
  throw new MailshiftError('MAILSHIFT_REMOTE_READ', `cannot read ${absPath} on ${exec.ssh.host}: ${lastLine(result.stderr)}`);
}

export { resolveHome as resolveCpanelHome, resolveMailboxSide as resolveCpanelMailboxSide, parseGroupGid };

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

// ---------------------------------------------------------------------------------------------------------------
// Running rsync jobs

type JobOptions = CopyOptions & { readonly mailOwner?: { uid: number; gid: number } };

async function runJobs(jobs: readonly CopyJob[], staging: string, options: JobOptions, logger: Logger): Promise<JobReport[]> {
  const concurrency = Math.max(1, options.jobs ?? 2);
  const reports: JobReport[] = new Array(jobs.length);
  const bytesByJob = new Array<number>(jobs.length).fill(0);
  const filesByJob = new Array<number>(jobs.length).fill(0);
  const report = () => options.onProgress?.({ bytes: bytesByJob.reduce((a, b) => a + b, 0), items: filesByJob.reduce((a, b) => a + b, 0) });
  // A failing job (Ctrl-C, a refused target) stops the start of further jobs, and the others are waited for before
  // the error goes up: runCopy removes the staging directory next, which running jobs still write into.
  await runPool(jobs, concurrency, async (job, index) => {
    reports[index] = await runJob(job, index, staging, options, logger, {
      onProgress: (bytes, files) => {
        bytesByJob[index] = bytes;
        if (files !== undefined) filesByJob[index] = files;
        report();
      },
      onItem: (item) => options.onItem?.(job, item),
    });
  });
  return reports;
}

async function runJob(
  job: CopyJob,
  index: number,
  staging: string,
  options: JobOptions,
  logger: Logger,
  hooks: { onProgress: (bytes: number, files?: number) => void; onItem: (item: ItemizedChange) => void },
): Promise<JobReport> {
  let filterFile: string | undefined;
  if (job.rules.length > 0) {
    filterFile = path.join(staging, `rules-${index}`);
    await writeFile(filterFile, formatFilterFile(job.rules));
  }
  // The target directory is created before rsync runs: a remote one must exist (see escapeRemotePath), and parallel
  // local jobs must not race each other's --mkpath over a shared parent (rsync 3.5 then failed with code 11,
  // "error in file IO", now and then in CI); Node's recursive mkdir takes an existing directory as success.
  if (!options.dryRun) {
    // A remote maildir job's temp dir is made by the same ssh command (one round trip less before rsync starts).
    if (job.target.ssh) await ensureRemoteDir(job.target, options, job.kind === 'maildir' ? [path.posix.join(job.target.path, copyTempDirName)] : []);
    else {
      const dir = job.target.isFile ? path.dirname(job.target.path) : job.target.path;
      await mkdir(dir, { recursive: true }).catch((err: unknown) => {
        throw targetWriteError(dir, err);
      });
    }
  }
  const tempDir = job.kind === 'maildir' && !options.dryRun ? await prepareTempDir(job.target) : undefined;
  try {
    return await runJobInTarget(job, filterFile, tempDir, options, logger, hooks);
  } finally {
    // Empty unless this run was interrupted; what a kill -9 leaves there is removed by the next run.
    if (tempDir) await removeTempDir(job.target, options, logger);
  }
}

async function runJobInTarget(
  job: CopyJob,
  filterFile: string | undefined,
  tempDir: string | undefined,
  options: JobOptions,
  logger: Logger,
  hooks: { onProgress: (bytes: number, files?: number) => void; onItem: (item: ItemizedChange) => void },
): Promise<JobReport> {
  const argv = buildRsyncArgv({
    source: job.source,
    target: job.target,
    ...(options.ssh ? { ssh: options.ssh } : {}),
    ...(filterFile ? { filterFile } : {}),
    // Always itemized: when rsync dies half-way (a full disk) --stats never comes, and the items are what is counted.
    itemize: true,
    // cPanel's owner and modes for mail, set as each file is created (cpanel-layout.md §5); see resolveMailOwner.
    ...(options.mailOwner && job.kind === 'maildir' ? { chownTo: options.mailOwner, chmod: 'D0751,F0640' } : {}),
    ...(job.filesFrom ? { filesFromStdin: true, ignoreMissingArgs: true } : {}),
    ...(tempDir ? { tempDir } : {}),
    ignoreExisting: true,
    dryRun: Boolean(options.dryRun),
    ...(options.bwlimitKiBps !== undefined ? { bwlimitKiBps: options.bwlimitKiBps } : {}),
    progress: Boolean(options.wantProgress),
    numericIds: true,
    ioTimeoutS: options.ioTimeoutS ?? 120,
  });
  logger.debug(`rsync ${job.label}: ${JSON.stringify(argv)}`);
  const started = Date.now();
  let bytes = 0;
  const itemized = new Set<string>();
  const result = await runRsync({
    argv,
    ...(job.filesFrom ? { stdin: Buffer.from(job.filesFrom.map((p) => `${p}\u0000`).join(''), 'utf8') } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    retries: options.retries ?? 3,
    retryBaseDelayMs: options.retryBaseDelayMs ?? 2000,
    onProgress: (p) => hooks.onProgress(p.bytes, p.filesTransferred),
    onItem: (item) => {
      if (item.type === 'file' && !options.dryRun) itemized.add(item.path);
      hooks.onItem(item);
    },
    onRetry: ({ attempt, delayMs, exit, stderrTail }) => {
      logger.warn(`${job.label}: ${exit.meaning} (${lastLine(stderrTail)}); retry ${attempt} in ${Math.round(delayMs / 1000)} s`);
    },
  });
  if (result.attempts > 1 && !options.dryRun) await removeOwnPartials(job.target, started, options, logger);
  bytes = result.stats.transferredFileSizeBytes ?? 0;
  // Counts from --stats. Hard links are created files that were not transferred.
  let files = result.stats.regularFilesTransferred ?? result.items.files;
  let hardlinks = Math.max(0, (result.stats.createdRegular ?? 0) - files);
  const hasFailed = result.exit.outcome !== 'ok' && result.exit.outcome !== 'vanished';
  if (hasFailed && !options.dryRun) {
    // No --stats from a dead rsync, and its items run ahead of the disk: count what is on the target now.
    const arrived = await countArrived(job, itemized, options);
    files = arrived.files;
    bytes = arrived.bytes;
    hardlinks = 0;
  }
  hooks.onProgress(bytes, files);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const summary = `${job.label}: ${files} file(s), ${hardlinks} hard link(s), ${bytes} bytes in ${seconds} s`;
  // With a progress bar on the terminal, per-job lines would break into it: they go to --debug then.
  if (result.exit.outcome === 'ok') (options.wantProgress ? logger.debug : logger.info)(summary);
  else if (result.exit.outcome === 'vanished') logger.warn(`${summary}; some source files vanished while copying (normal on a live mailbox; run resync afterwards)`);
  else logger.error(`${job.label}: ${result.exit.meaning}${result.stderrTail && !result.exit.hint ? `: ${lastLine(result.stderrTail)}` : ''}; ${files} file(s) arrived`);
  return {
    label: job.label,
    source: describeEndpoint(job.source),
    target: describeEndpoint(job.target),
    outcome: result.exit.outcome,
    meaning: result.exit.meaning,
    attempts: result.attempts,
    files,
    hardlinks,
    symlinks: result.stats.createdLinks ?? result.items.symlinks,
    dirs: result.stats.createdDirs ?? result.items.dirs,
    bytes,
    warnings: result.warnings,
    ...(result.exit.hint ? { hint: result.exit.hint } : {}),
  };
}

/** Files of this job's item list that are complete on the target (a listing; see listArrivedFiles). */
async function countArrived(job: CopyJob, itemized: ReadonlySet<string>, options: CopyOptions): Promise<{ files: number; bytes: number }> {
  const exec: ExecTarget = execOf(job.target.ssh, options);
  const root = job.target.isFile ? path.posix.dirname(job.target.path) : job.target.path;
  const candidates = job.target.isFile ? new Set(itemized.size > 0 ? [path.posix.basename(job.target.path)] : []) : itemized;
  try {
    const arrived = await listArrivedFiles(exec, root, candidates, options.signal ? { signal: options.signal } : {});
    return { files: arrived.paths.length, bytes: arrived.bytes };
  } catch {
    // The target cannot even be listed (the connection is gone): rsync's items run ahead of the disk and prove
    // nothing, so nothing is counted as copied (the next run copies whatever is missing).
    return { files: 0, bytes: 0 };
  }
}

/**
 * Lists every maildir job's source once, before anything is copied: refuses what discover reports as unsafe
 * (engine/copy-safety.ts; each refusal becomes an exclude rule placed before the job's own rules) and sums what
 * will be copied, for the progress bar's ETA.
 */
async function scanSources(jobs: readonly CopyJob[], options: CopyOptions): Promise<{ refused: RefusedItem[]; rules: FilterRule[][]; totals: { bytes: number; files: number } }> {
  const refused: RefusedItem[] = [];
  const rules: FilterRule[][] = [];
  const totals = { bytes: 0, files: 0 };
  for (const job of jobs) {
    if (job.kind !== 'maildir') {
      rules.push([]);
      continue;
    }
    const exec: ExecTarget = execOf(job.source.ssh, options);
    const scanner = createMaildirScanner({ label: job.label, sourceRoot: job.source.path, skipDirs: job.skipDirs ?? [] });
    await listTree(exec, job.source.path, (entry) => scanner.add(entry), options.signal ? { signal: options.signal } : {});
    refused.push(...scanner.refused);
    rules.push(scanner.rules);
    totals.bytes += scanner.totals.bytes;
    totals.files += scanner.totals.files;
  }
  return { refused, rules, totals };
}

/**
 * Without a --temp-dir (the account-files job; maildir jobs have prepareTempDir), rsync writes each file as
 * `.NAME.XXXXXX` next to its final name and renames it when complete (never --partial or --inplace). When a
 * connection dies, a remote receiver is killed before it can remove its half-written file, so after a retried job
 * we remove the files that have rsync's temporary-name shape AND were last written during this job. Nothing else on
 * the target is ever deleted.
 */
async function removeOwnPartials(target: RsyncEndpoint, jobStartedMs: number, options: CopyOptions, logger: Logger): Promise<void> {
  const exec: ExecTarget = execOf(target.ssh, options);
  const partials: string[] = [];
  await listTree(exec, target.path, (entry) => {
    if (entry.type === 'file' && entry.mtimeMs >= jobStartedMs - 1000 && isRsyncPartialName(path.posix.basename(entry.path))) {
      partials.push(path.posix.join(target.path, entry.path));
    }
  }, options.signal ? { signal: options.signal } : {});
  if (partials.length === 0) return;
  if (target.ssh) {
    const result = await runExec(exec, ['xargs', '-0', '-r', 'rm', '-f', '--'], { input: Buffer.from(partials.map((p) => `${p}\u0000`).join(''), 'utf8') });
    if (result.exitCode !== 0) logger.warn(`could not remove ${partials.length} half-written file(s) left by a dropped connection: ${lastLine(result.stderr)}`);
  } else {
    for (const file of partials) await rm(file, { force: true });
  }
  logger.info(`removed ${partials.length} half-written file(s) a dropped connection left behind (rsync temporary names)`);
}

/**
 * Where rsync writes a message before renaming it into cur/ or new/ (--temp-dir, relative to the job's target): a
 * directory of the target maildir root that no mail reader looks into (Maildir++ folders start with '.', and it is
 * neither cur/, new/ nor tmp/). A run killed with -9 leaves its half-written file there, never in cur/ or new/; the
 * next run empties it (locally before it starts, over ssh when the job ends: one round trip less), and each job
 * removes it when done. copy.ts keeps it out of the sources.
 */
async function prepareTempDir(target: RsyncEndpoint): Promise<string> {
  // Over ssh ensureRemoteDir created it, and leftovers of a killed run in it go when this job ends (removeTempDir).
  if (target.ssh) return copyTempDirName;
  const dir = path.join(target.path, copyTempDirName);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return copyTempDirName;
}

async function removeTempDir(target: RsyncEndpoint, options: CopyOptions, logger: Logger): Promise<void> {
  const dir = path.posix.join(target.path, copyTempDirName);
  try {
    if (!target.ssh) await rm(dir, { recursive: true, force: true });
    else {
      const result = await runExec(execOf(target.ssh, options), ['rm', '-rf', '--', dir]);
      if (result.exitCode !== 0) logger.warn(`could not remove ${describeEndpoint({ ...target, path: dir })}: ${lastLine(result.stderr)} (the next copy empties it)`);
    }
  } catch (err) {
    logger.warn(`could not remove ${dir}: ${err instanceof Error ? err.message : String(err)} (the next copy empties it)`);
  }
}

/** rsync's temporary name for NAME: "." + NAME + "." + six characters from [A-Za-z0-9]. */
export function isRsyncPartialName(name: string): boolean {
  return /^\..+\.[A-Za-z0-9]{6}$/.test(name);
}

async function ensureRemoteDir(target: RsyncEndpoint, options: CopyOptions, alsoDirs: readonly string[] = []): Promise<void> {
  if (!target.ssh) return;
  const dir = target.isFile ? path.posix.dirname(target.path) : target.path;
  const exec = execOf(target.ssh, options);
  const made = await runExec(exec, ['mkdir', '-p', '--', dir, ...alsoDirs]);
  if (made.exitCode === 255) throw sshFailure(target.ssh.host, made.stderr);
  if (made.exitCode !== 0) {
    const known = classifyRemoteMkdirFailure(describeEndpoint({ ...target, path: dir }), made.stderr);
    if (known) throw known;
    throw new MailshiftError('MAILSHIFT_TARGET_MKDIR', `cannot create ${describeEndpoint({ ...target, path: dir })}: ${lastLine(made.stderr)}`);
  }
}

function describeEndpoint(endpoint: RsyncEndpoint): string {
  if (!endpoint.ssh) return endpoint.path;
  const { user, host, port } = endpoint.ssh;
  return `ssh://${user ? `${user}@` : ''}${host}${port ? `:${port}` : ''}${endpoint.path}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Control files the target already had

async function listExistingControlFiles(resolved: Resolved, options: CopyOptions): Promise<string[][]> {
  const out: string[][] = [];
  for (const roots of resolved.controlRoots) {
    const found: string[] = [];
    const exec: ExecTarget = execOf(roots.target.ssh, options);
    await listTree(exec, roots.target.path, (e) => {
      if (e.type === 'file') found.push(e.path);
    }, { names: controlFileNames, ...(options.signal ? { signal: options.signal } : {}) });
    out.push(found);
  }
  return out;
}

async function settleControlFiles(
  resolved: Resolved,
  existing: string[][],
  staging: string,
  options: CopyOptions,
  logger: Logger,
): Promise<ControlFileReport[]> {
  const reports: ControlFileReport[] = [];
  for (const [i, roots] of resolved.controlRoots.entries()) {
    const paths = existing[i] ?? [];
    if (paths.length === 0) continue;
    const srcDir = path.join(staging, `control-src-${i}`);
    const dstDir = path.join(staging, `control-dst-${i}`);
    const outDir = path.join(staging, `control-out-${i}`);
    await Promise.all([fetchFiles(roots.source, paths, srcDir, options), fetchFiles(roots.target, paths, dstDir, options)]);
    const toPush: string[] = [];
    for (const rel of paths) {
      const sourceText = await readRegularFile(path.join(srcDir, rel));
      const targetText = await readRegularFile(path.join(dstDir, rel));
      if (sourceText === undefined || targetText === undefined) continue;
      const decision = decideControlFile(path.posix.basename(rel), sourceText, targetText);
      if (decision.reason === 'identical') continue;
      reports.push({ path: rel, action: decision.action, reason: decision.reason });
      if (decision.action === 'keep-target') {
        logger.warn(`${rel}: kept the target's version: ${decision.reason}`);
        continue;
      }
      const text = decision.action === 'write' ? decision.text : sourceText;
      await writeStaged(path.join(outDir, rel), text, 0o600);
      toPush.push(rel);
    }
    if (toPush.length > 0) await pushFiles(outDir, toPush, roots.target, options);
  }
  return reports;
}

// ---------------------------------------------------------------------------------------------------------------
// Account metadata merges

function planOnlyMerges(merges: readonly MergeItem[]): MergeReport[] {
  return merges.map((m) => ({ path: m.targetPath, action: 'unchanged', added: [], keptTarget: [], reason: 'dry run: would be merged' }));
}

/**
 * Fetches both sides' small files, merges them and pushes the results. Runs after the jobs: the target root may only
 * exist once they ran, and the account-files job creates ~/etc/DOMAIN, which the push needs.
 */
async function runMerges(resolved: Resolved, staging: string, options: CopyOptions, logger: Logger): Promise<MergeReport[]> {
  if (resolved.merges.length === 0 || !resolved.sourceRoot || !resolved.targetRoot || !resolved.rewrite) return [];
  const rewrite = resolved.rewrite;
  const targetRoot = resolved.targetRoot;
  const srcDir = path.join(staging, 'merge-src');
  const dstDir = path.join(staging, 'merge-dst');
  const outDir = path.join(staging, 'merge-out');
  await Promise.all([
    fetchFiles(resolved.sourceRoot, resolved.merges.map((m) => m.sourcePath), srcDir, options),
    fetchFiles(targetRoot, resolved.merges.map((m) => m.targetPath), dstDir, options),
  ]);
  const reports: MergeReport[] = [];
  const toPush: string[] = [];
  for (const item of resolved.merges) {
    const sourceText = await readRegularFile(path.join(srcDir, item.sourcePath));
    if (sourceText === undefined) {
      reports.push({ path: item.targetPath, action: 'skipped', added: [], keptTarget: [], reason: 'missing on the source, or not a regular file there (a symlink is never followed)' });
      continue;
    }
    const targetText = await readRegularFile(path.join(dstDir, item.targetPath));
    const { text: safeSourceText, refused } = refuseUnsafeKeys(item, sourceText, resolved.sourceRoot);
    const merged = mergeItem(item, safeSourceText, targetText, rewrite);
    const refusedField = refused.length > 0 ? { refused } : {};
    if (merged.text === (targetText ?? null)) {
      reports.push({ path: item.targetPath, action: 'unchanged', added: merged.added, keptTarget: merged.keptTarget, ...refusedField });
      continue;
    }
    await writeStaged(path.join(outDir, item.targetPath), merged.text, 0o640);
    toPush.push(item.targetPath);
    reports.push({ path: item.targetPath, action: 'written', added: merged.added, keptTarget: merged.keptTarget, ...refusedField });
    if (merged.keptTarget.length > 0) logger.warn(`${item.targetPath}: kept the target's lines for ${merged.keptTarget.join(', ')}`);
  }
  if (toPush.length > 0) await pushFiles(outDir, toPush, targetRoot, options);
  return reports;
}

/**
 * passwd, shadow and quota lines are keyed by a mailbox name that cPanel and Dovecot turn into a path
 * (~/mail/DOMAIN/NAME): a key discover reports as unsafe (checkNameSegment: "/", "..", control characters) is not
 * merged, and is listed.
 */
function refuseUnsafeKeys(item: MergeItem, sourceText: string, sourceRoot: RsyncEndpoint): { text: string; refused: RefusedItem[] } {
  if (item.kind !== 'passwd' && item.kind !== 'shadow' && item.kind !== 'quota') return { text: sourceText, refused: [] };
  const refused: RefusedItem[] = [];
  const kept = sourceText.split('\n').filter((line) => {
    if (line.trim() === '' || line.startsWith('#')) return true;
    const key = line.slice(0, line.includes(':') ? line.indexOf(':') : line.length).trim();
    const problem = checkNameSegment(key);
    if (!problem) return true;
    refused.push({
      job: `${item.kind} of ${item.domain}`,
      path: path.posix.join(sourceRoot.path, item.sourcePath),
      kind: 'unsafe-name',
      reason: `line for mailbox ${JSON.stringify(key)}: the name is unsafe as a path (${problem}); not merged`,
    });
    return false;
  });
  return { text: kept.join('\n'), refused };
}

function mergeItem(item: MergeItem, sourceText: string, targetText: string | undefined, rewrite: Rewrite): { text: string; added: string[]; keptTarget: string[] } {
  switch (item.kind) {
    case 'passwd':
      return mergeKeyedLines(rewritePasswd(sourceText, rewrite), targetText);
    case 'shadow':
    case 'quota':
      return mergeKeyedLines(sourceText, targetText);
    case 'valiases':
      return mergeKeyedLines(rewriteValiases(sourceText, rewrite), targetText, ':', { lastKey: '*' });
    case 'vdomainaliases':
      return mergeKeyedLines(sourceText, targetText);
    case 'vfilters': {
      // A compiled filter is one program, not lines: an existing non-empty one on the target stays.
      if (targetText !== undefined && targetText.trim() !== '') return { text: targetText, added: [], keptTarget: targetText === sourceText ? [] : ['(whole file)'] };
      return { text: rewriteEmbeddedHome(sourceText, rewrite), added: ['(whole file)'], keptTarget: [] };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Small-file transfers through rsync (symlinks stay symlinks and are never read through)

/** Reads a staged file only if it is a regular file (a fetched symlink is data, never followed). */
async function readRegularFile(file: string): Promise<string | undefined> {
  try {
    const stats = await lstat(file);
    if (!stats.isFile()) return undefined;
    return await readFile(file, 'utf8');
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT' || systemErrorCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function writeStaged(file: string, text: string, mode: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text, { mode });
  await chmod(file, mode);
}
