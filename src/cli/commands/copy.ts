import { Command, InvalidArgumentError } from 'commander';
import { ExitCode } from '../../core/exit-codes.js';
import { runAccountChown, resolveOwnerIds } from '../../engine/chown.js';
import { runCopy, type CopyReport, type CpanelTargetInfo } from '../../engine/run-copy.js';
import type { ExecTarget } from '../../transport/exec.js';
import type { SshOptions } from '../../transport/ssh.js';
import type { OwnershipResult } from '../../fsops/ownership.js';
import { parseStoreSpec } from '../../stores/spec.js';
import { refuseLocalMboxSource, requireLocalDirectory } from './local-paths.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { createProgressBar, formatBytes, formatJson, formatTable, printable } from '../render.js';
import { addSshOptions, parseBandwidthKiBps, parseWholeNumber, withSshSession, type SshCliOptions } from './ssh-options.js';
import { addImapOptions, decideEngine, formatFallbackLine, refuseDboxSource } from './imap-options.js';
import { runImapCopyAction } from './imap-actions.js';

interface CopyCliOptions extends SshCliOptions {
  dryRun?: boolean;
  jobs: number;
  bwlimit?: number;
  retries: number;
  retryDelay: number;
  timeout: number;
  renameUser?: { from: string; to: string };
  chown: boolean;
  uid?: number;
  gid?: number;
  mailGid?: number;
}

export function registerCopy(program: Command, ctx: CliContext): void {
  const command = program
    .command('copy')
    .description('copy maildirs or whole cPanel accounts with rsync: never deletes, never overwrites mail already on the target')
    .argument('<source>', 'maildir path, ssh://[user@]host[:port]/path, cpanel:ROOT#USER, cpanel:ROOT#local@domain, imap(s)://user@host[:port], or (to IMAP) an mbox file, .gz or directory of mbox files')
    .argument('<target>', 'same forms as the source; at most one end may be remote')
    .option('-n, --dry-run', 'list what would be copied, change nothing')
    .option('-j, --jobs <n>', 'mailboxes copied in parallel', parsePositive, 2)
    .option('--bwlimit <rate>', 'bandwidth limit per rsync, KiB/s (or 500K, 10M)', parseBandwidthKiBps)
    .option('--retries <n>', 'retries of a dropped connection, with back-off', parseWholeNumber, 3)
    .option('--retry-delay <ms>', 'first back-off delay; doubles up to 30 s', parseWholeNumber, 2000)
    .option('--timeout <s>', 'give up on a connection that moves no data for this long (then retry)', parsePositive, 120)
    .option('--rename-user <old:new>', 'the target account has another user name: rewrite home paths and names', parseRename)
    .option('--no-chown', 'do not fix owners and modes after copying into a cPanel root')
    .option('--uid <n>', 'target uid for chown (default: from the target passwd)', parseWholeNumber)
    .option('--gid <n>', 'target gid for chown', parseWholeNumber)
    .option('--mail-gid <n>', 'gid of the "mail" group for chown', parseWholeNumber);
  addImapOptions(addSshOptions(command)).action(async (sourceText: string, targetText: string, options: CopyCliOptions, cmd: Command) => {
    const route = await decideEngine(sourceText, targetText, cmd, ctx);
    if (route.engine === 'imap') return runImapCopyAction(ctx, cmd, sourceText, targetText, 'copy', route.fallback);
    await refuseLocalMboxSource(sourceText, 'copy');
    const globals = cmd.optsWithGlobals<GlobalOptions & CopyCliOptions>();
    const logger = ctx.logger();
    const source = parseStoreSpec(sourceText);
    const target = parseStoreSpec(targetText);
    await requireLocalDirectory(source, 'source');
    const idOverrides = {
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
      ...(options.mailGid !== undefined ? { mailGid: options.mailGid } : {}),
    };
    await withSshSession(options, [source, target], async (ssh) => {
      // --imap-fallback looked already (and found files); otherwise make sure the files are not a dbox store.
      if (!route.fallback) await refuseDboxSource(source, ssh, ctx.signal);
      const showProgress = ctx.isInteractive && !globals.json && !options.dryRun;
      // Created once the size of the sources is known (find, on a terminal only), so the bar can show an ETA.
      let progress = createProgressBar(ctx.err, { label: 'copying', isInteractive: showProgress });
      const report = await runCopy(source, target, {
        jobs: options.jobs,
        ...(options.bwlimit !== undefined ? { bwlimitKiBps: options.bwlimit } : {}),
        retries: options.retries,
        retryBaseDelayMs: options.retryDelay,
        ioTimeoutS: options.timeout,
        dryRun: Boolean(options.dryRun),
        ssh,
        ...(options.renameUser ? { renameUser: options.renameUser } : {}),
        signal: ctx.signal,
        logger,
        wantProgress: showProgress,
        onTotal: (total) => {
          progress = createProgressBar(ctx.err, { label: `copying ${total.files} files`, totalBytes: total.bytes, isInteractive: showProgress });
        },
        onProgress: (done) => progress.update(done),
        // Owner and modes set by rsync as files arrive; the chown pass afterwards checks everything and fixes the rest.
        ...(options.chown
          ? {
              resolveMailOwner: async (t: CpanelTargetInfo) => {
                const ids = await resolveOwnerIds(execOf(t, ssh), t.root, t.user, idOverrides);
                return { uid: ids.uid, gid: ids.gid };
              },
            }
          : {}),
        ...(options.dryRun && !globals.json
          ? { onItem: (job, item) => ctx.out(`would copy ${item.type === 'dir' ? 'dir ' : item.type === 'symlink' ? 'link' : 'file'} ${printable(job.label)}: ${printable(item.path)}\n`) }
          : {}),
      });
      progress.finish();

      let chown: (OwnershipResult & { user: string; ids: string }) | undefined;
      if (report.cpanelTarget && options.chown && !options.dryRun && report.exitCode !== ExitCode.config) {
        const t = report.cpanelTarget;
        const exec = execOf(t, ssh);
        const ids = await resolveOwnerIds(exec, t.root, t.user, idOverrides);
        logger.info(`chown: ${t.user} is ${ids.uid}:${ids.gid}, group mail is ${ids.mailGid} (from ${ids.source})`);
        const result = await runAccountChown(exec, t, ids, { signal: ctx.signal });
        chown = { ...result, user: t.user, ids: `${ids.uid}:${ids.gid} mail=${ids.mailGid}` };
      }

      const chownFailed = Boolean(chown && chown.failed.length > 0);
      const exitCode = chownFailed && report.exitCode === ExitCode.ok ? ExitCode.partial : report.exitCode;
      if (globals.json) {
        ctx.out(formatJson({ ok: exitCode === ExitCode.ok, command: 'copy', engine: 'files', ...(route.fallback ? { fallback: route.fallback } : {}), ...report, exitCode, ...(chown ? { chown } : {}) }));
      } else {
        ctx.out(formatFallbackLine(route.fallback) + formatCopyReport(report, chown));
      }
      ctx.setExitCode(exitCode);
    });
  });
}

function execOf(t: CpanelTargetInfo, ssh: SshOptions): ExecTarget {
  const l = t.location;
  return l.type === 'ssh' ? { ssh: { host: l.host, ...(l.user ? { user: l.user } : {}), ...(l.port ? { port: l.port } : {}) }, sshOptions: ssh } : {};
}

function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number, 1 or more');
  return Number(value);
}

function parseRename(value: string): { from: string; to: string } {
  const match = /^([a-z0-9_][a-z0-9_-]{0,31}):([a-z0-9_][a-z0-9_-]{0,31})$/i.exec(value);
  if (!match) throw new InvalidArgumentError('expected OLD:NEW cPanel user names');
  return { from: match[1]!, to: match[2]! };
}

export function formatCopyReport(report: CopyReport, chown?: OwnershipResult & { user: string; ids: string }): string {
  const verb = report.dryRun ? 'Would copy' : 'Copied';
  const files = report.jobs.reduce((sum, j) => sum + j.files, 0);
  const bytes = report.jobs.reduce((sum, j) => sum + j.bytes, 0);
  let text = `${verb} ${files} files (${formatBytes(bytes)}) from ${report.source} to ${report.target}\n\n`;
  text += formatTable(
    ['JOB', 'FILES', 'LINKS', 'SIZE', 'RESULT', 'TRIES'],
    report.jobs.map((j) => [j.label, j.files, j.hardlinks + j.symlinks, formatBytes(j.bytes), j.outcome === 'ok' ? 'ok' : `${j.outcome}: ${j.meaning}`, j.attempts]),
  );
  const changed = report.controlFiles.filter((c) => c.action !== 'keep-target');
  const kept = report.controlFiles.filter((c) => c.action === 'keep-target');
  if (changed.length > 0) text += `\nControl files updated on the target (${changed.length}):\n${changed.map((c) => `  ${printable(c.path)}: ${c.reason}\n`).join('')}`;
  if (kept.length > 0) text += `\nControl files the target keeps (${kept.length}):\n${kept.map((c) => `  ${printable(c.path)}: ${c.reason}\n`).join('')}`;
  if (report.merges.length > 0) {
    text += '\nAccount files:\n';
    for (const m of report.merges) {
      const detail = m.action === 'written' ? `added ${m.added.length ? m.added.join(', ') : 'nothing'}${m.keptTarget.length ? `; kept target's ${m.keptTarget.join(', ')}` : ''}` : (m.reason ?? '');
      text += `  ${m.action.padEnd(9)} ${printable(m.path)}${detail ? `: ${printable(detail)}` : ''}\n`;
    }
  }
  if (report.skipped.length > 0) {
    text += `\nNot copied, unsafe (${report.skipped.length}; the items discover reports as unsafe):\n`;
    for (const item of report.skipped) text += `  ${item.job}: ${JSON.stringify(item.path)}: ${item.reason}\n`;
  }
  if (chown) {
    text += `\nchown ${chown.user} (${chown.ids}): ${chown.applied} of ${chown.planned} changes applied, ${chown.checked} entries checked\n`;
    for (const s of chown.skipped.slice(0, 20)) text += `  left alone: ${JSON.stringify(s.path)}: ${s.reason}\n`;
    for (const f of chown.failed.slice(0, 20)) text += `  FAILED: ${JSON.stringify(f.path)}: ${f.reason}\n`;
  } else if (report.cpanelTarget && report.dryRun) {
    text += `\nchown would run for ${report.cpanelTarget.user} after the copy\n`;
  }
  const warnings = report.jobs.flatMap((j) => j.warnings.map((w) => `${j.label}: ${w}`));
  if (warnings.length > 0) text += `\nrsync said:\n${warnings.slice(0, 30).map((w) => `  ${w}\n`).join('')}`;
  const hints = [...new Set(report.jobs.flatMap((j) => (j.hint ? [j.hint] : [])))];
  for (const hint of hints) text += `\nhint: ${hint}\n`;
  return text;
}
