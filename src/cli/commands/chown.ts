import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { findAccountDomains, planPlainChownTrees, resolveOwnerIds, runAccountChown, type ChownTarget } from '../../engine/chown.js';
import { findDomainOwner, readSystemFile, resolveCpanelHome } from '../../engine/run-copy.js';
import { formatOwnershipAction, runOwnership, type OwnershipResult } from '../../fsops/ownership.js';
import { parseStoreSpec, type Location } from '../../stores/spec.js';
import { requireLocalDirectory } from '../../engine/ends.js';
import type { ExecTarget } from '../../transport/exec.js';
import type { SshOptions } from '../../transport/ssh.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatJson } from '../render.js';
import { addSshOptions, buildSshOptionsFromCli, parseWholeNumber, type SshCliOptions } from './ssh-options.js';
import { withSharedSsh } from '../../engine/operations/ssh.js';

interface ChownCliOptions extends SshCliOptions {
  user?: string;
  dryRun?: boolean;
  uid?: number;
  gid?: number;
  mailGid?: number;
}

export function registerChown(program: Command, ctx: CliContext): void {
  const command = program
    .command('chown')
    .description("give a copied cPanel account (or a maildir) to its user with cPanel's owners and modes; symlinks are never followed")
    .argument('<target>', 'cpanel:ROOT#USER, cpanel:ROOT#local@domain, or a maildir path (then --user is required)')
    .option('--user <user>', 'owner (default: the cPanel user of the spec)')
    .option('-n, --dry-run', 'print the plan (every change), apply nothing')
    .option('--uid <n>', 'uid instead of looking USER up', parseWholeNumber)
    .option('--gid <n>', 'gid instead of looking USER up', parseWholeNumber)
    .option('--mail-gid <n>', 'gid of the "mail" group instead of looking it up', parseWholeNumber);
  addSshOptions(command).action(async (targetText: string, options: ChownCliOptions, cmd: Command) => {
    const globals = cmd.optsWithGlobals<GlobalOptions & ChownCliOptions>();
    const logger = ctx.logger();
    const spec = parseStoreSpec(targetText);
    if (spec.kind === 'imap') throw new UsageError('chown works on file trees, not IMAP');
    await requireLocalDirectory(spec, 'target');
    await withSharedSsh(buildSshOptionsFromCli(options), [spec], async (ssh) => {
      const exec = execOf(spec.location, ssh);
      const overrides = {
        ...(options.uid !== undefined ? { uid: options.uid } : {}),
        ...(options.gid !== undefined ? { gid: options.gid } : {}),
        ...(options.mailGid !== undefined ? { mailGid: options.mailGid } : {}),
      };
      const onAction = options.dryRun && !globals.json ? (a: Parameters<typeof formatOwnershipAction>[0]) => ctx.out(`would change ${formatOwnershipAction(a)}\n`) : undefined;
      let result: OwnershipResult;
      let user: string;
      let idsText: string;
      if (spec.kind === 'cpanel') {
        let target: ChownTarget;
        if (spec.mailbox) {
          const userdomains = (await readSystemFile(exec, `${spec.root.replace(/\/$/, '')}/etc/userdomains`)) ?? '';
          const owner = findDomainOwner(userdomains, spec.mailbox.domain);
          if (!owner) throw new UsageError(`no cPanel account owns ${spec.mailbox.domain} under ${spec.root}`);
          const home = await resolveCpanelHome(exec, spec.root, owner);
          target = { location: spec.location, root: spec.root, home: home.home, user: owner, domains: [spec.mailbox.domain], mailboxDir: `${spec.mailbox.domain}/${spec.mailbox.localPart}` };
        } else {
          const home = await resolveCpanelHome(exec, spec.root, spec.user);
          target = { location: spec.location, root: spec.root, home: home.home, user: spec.user, domains: await findAccountDomains(exec, spec.root, spec.user, home.home) };
        }
        user = options.user ?? target.user;
        const ids = await resolveOwnerIds(exec, spec.root, user, overrides);
        idsText = `${ids.uid}:${ids.gid} mail=${ids.mailGid} (from ${ids.source})`;
        result = await runAccountChown(exec, target, ids, { dryRun: Boolean(options.dryRun), signal: ctx.signal, ...(onAction ? { onAction } : {}) });
      } else {
        if (!options.user && (options.uid === undefined || options.gid === undefined)) throw new UsageError('a plain path needs --user USER (or --uid and --gid)');
        user = options.user ?? String(options.uid);
        const ids = await resolveOwnerIds(exec, '/', user, overrides, { requireMailGroup: false });
        idsText = `${ids.uid}:${ids.gid} (from ${ids.source})`;
        result = await runOwnership(exec, await planPlainChownTrees(exec, spec.path), ids, { dryRun: Boolean(options.dryRun), signal: ctx.signal, ...(onAction ? { onAction } : {}) });
      }
      logger.info(`chown ${user}: ${idsText}`);
      const exitCode = result.failed.length > 0 ? ExitCode.partial : ExitCode.ok;
      if (globals.json) {
        ctx.out(formatJson({ ok: exitCode === ExitCode.ok, command: 'chown', target: targetText, user, ids: idsText, dryRun: Boolean(options.dryRun), ...result }));
      } else {
        let text = `${options.dryRun ? 'Would change' : 'Changed'} ${options.dryRun ? result.planned : result.applied} of ${result.checked} entries for ${user} (${idsText})\n`;
        for (const s of result.skipped) text += `  left alone: ${JSON.stringify(s.path)}: ${s.reason}\n`;
        for (const f of result.failed) text += `  FAILED: ${JSON.stringify(f.path)}: ${f.reason}\n`;
        ctx.out(text);
      }
      ctx.setExitCode(exitCode);
    });
  });
}

function execOf(location: Location, sshOptions: SshOptions): ExecTarget {
  return location.type === 'ssh'
    ? { ssh: { host: location.host, ...(location.user ? { user: location.user } : {}), ...(location.port ? { port: location.port } : {}) }, sshOptions }
    : {};
}
