import { open, rm } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { parseSize } from '../../core/size.js';
import { UsageError, systemErrorCode } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import type { PlanError } from '../../campaign/plan-file.js';
import type { PlanSource } from '../../campaign/plan-sources.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatJson, printable } from '../render.js';

interface PlanCliOptions {
  fromCpanel?: string;
  to?: string;
  user: string[];
  targetQuota?: number;
  fromImapsync?: string;
  host1?: string;
  host2?: string;
  fromM365?: string;
  sourceHost?: string;
  targetHost?: string;
  credentials?: string;
  check?: boolean;
}

/**
 * `mailshift plan`: writes a campaign's plan file (CSV a person can read and edit) from a cPanel root or from an
 * account list, with the passwords moved to a credentials file of mode 0600; `--check` reads a plan and lists its
 * problems by line. Running a plan is the next step of the campaign work (issue 15), not this command's.
 */
export function registerPlan(program: Command, ctx: CliContext): void {
  program
    .command('plan')
    .description('write a migration plan (CSV, one row per account) from a cPanel root or an account list; passwords go to a 0600 credentials file, never into the plan')
    .argument('<plan>', 'the plan file to write (never over an existing file), or to read with --check')
    .option('--from-cpanel <root>', 'every account of this cPanel root (/ on the server itself), as discover finds them')
    .option('--to <root>', 'with --from-cpanel: the target cPanel root, here or ssh://host/path; or an IMAP server, imaps://host[:port] (one row per mailbox)', undefined)
    .option('--user <user>', 'with --from-cpanel: only this account, repeatable', collect, [])
    .option('--target-quota <size>', "with --from-cpanel: the new server's quota per mailbox (e.g. 2G); rows whose largest mailbox is bigger are named, and the campaign refuses them", parseSizeOption)
    .option('--from-imapsync <file>', "imapsync's file.txt: host1;user1;password1;host2;user2;password2 per line")
    .option('--host1 <host>', 'with the 4-column form user1;password1;user2;password2: the source host')
    .option('--host2 <host>', 'with the 4-column form: the target host')
    .option('--from-m365 <file>', "Microsoft 365's IMAP migration CSV: EmailAddress,UserName,Password")
    .option('--source-host <host>', 'with --from-m365: the IMAP server the UserName logins belong to')
    .option('--target-host <host>', 'with --from-m365: the Microsoft 365 IMAP host (default outlook.office365.com)')
    .option('--credentials <file>', "where the passwords go; with --check, the file the plan's credential names must be in (default: PLAN.credentials.json)")
    .option('--check', 'check the plan as a campaign does before it starts (syntax, ids, row options, credentials, local sources) and list its problems by line, and the rows over their quota; write nothing')
    .action(async (planFile: string, options: PlanCliOptions, cmd: Command) => {
      const globals = cmd.optsWithGlobals<GlobalOptions & PlanCliOptions>();
      if (options.check) return checkPlan(ctx, planFile, options.credentials, Boolean(globals.json));
      const source = decideSource(options);
      const { readPlanSource } = await import('../../campaign/plan-sources.js');
      const { formatPlan } = await import('../../campaign/plan-file.js');
      const imported = await readPlanSource(source, ctx.signal);
      for (const each of imported.warnings) ctx.logger().warn(formatAtLine(each));
      for (const each of imported.errors) ctx.logger().error(formatAtLine(each));
      if (imported.rows.length === 0) throw new UsageError('no account to plan: nothing written', imported.errors.length > 0 ? 'fix the lines listed above and run again' : undefined);
      const credentialsFile = options.credentials ?? `${planFile}.credentials.json`;
      const comment = [`mailshift plan, ${new Date().toISOString().slice(0, 10)}: one row per account; edit freely, then check with mailshift plan --check`, ...(imported.secrets.size > 0 ? [`passwords: ${credentialsFile} (mode 0600)`] : [])].join('\n');
      await writeNewFile(planFile, formatPlan(imported.rows, comment));
      if (imported.secrets.size > 0) {
        const { writeCredentialsFile } = await import('../../campaign/credentials.js');
        // A plan whose passwords were not written is no plan: it goes again, so the next try starts clean.
        await writeCredentialsFile(credentialsFile, imported.secrets).catch(async (err: unknown) => {
          await rm(planFile, { force: true });
          throw err;
        });
      }
      const exitCode = imported.errors.length > 0 ? ExitCode.partial : ExitCode.ok;
      if (globals.json) {
        ctx.out(formatJson({ ok: exitCode === ExitCode.ok, command: 'plan', plan: planFile, rows: imported.rows.length, ...(imported.secrets.size > 0 ? { credentials: credentialsFile } : {}), errors: imported.errors, warnings: imported.warnings }));
      } else {
        ctx.out(`Wrote ${printable(planFile)}: ${imported.rows.length} account(s)${imported.secrets.size > 0 ? `; ${imported.secrets.size} password(s) in ${printable(credentialsFile)} (mode 0600)` : ''}${imported.errors.length > 0 ? `; ${imported.errors.length} not planned (listed above)` : ''}\n`);
      }
      ctx.setExitCode(exitCode);
    });
}

function decideSource(options: PlanCliOptions): PlanSource {
  const given = [options.fromCpanel, options.fromImapsync, options.fromM365].filter((each) => each !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --from-cpanel ROOT, --from-imapsync FILE, --from-m365 FILE');
  if (options.fromCpanel !== undefined) {
    if (!options.to) throw new UsageError('--from-cpanel needs --to: the target cPanel root (here, or ssh://host/path)');
    return { from: 'cpanel', root: options.fromCpanel, target: options.to, ...(options.user.length > 0 ? { users: options.user } : {}), ...(options.targetQuota !== undefined ? { targetQuotaBytes: options.targetQuota } : {}) };
  }
  if (options.fromImapsync !== undefined) {
    return { from: 'imapsync', file: options.fromImapsync, ...(options.host1 ? { host1: options.host1 } : {}), ...(options.host2 ? { host2: options.host2 } : {}) };
  }
  if (!options.sourceHost) throw new UsageError('--from-m365 needs --source-host: the IMAP server the UserName logins belong to');
  return { from: 'm365', file: options.fromM365!, sourceHost: options.sourceHost, ...(options.targetHost ? { targetHost: options.targetHost } : {}) };
}

async function checkPlan(ctx: CliContext, planFile: string, credentialsFile: string | undefined, asJson: boolean): Promise<void> {
  const { checkPlanFile } = await import('../../campaign/read-plan.js');
  const { findQuotaProblem } = await import('../../campaign/plan-file.js');
  const { rows, problems } = await checkPlanFile(planFile, { credentialsFile: credentialsFile ?? `${planFile}.credentials.json`, credentialsRequired: credentialsFile !== undefined, logger: ctx.logger() });
  // Not a problem of the plan: the campaign runs the other rows and refuses these when their turn comes.
  const overQuota = rows.flatMap((row) => {
    const problem = findQuotaProblem(row);
    return problem ? [{ line: row.line, message: `${row.id}: will be refused: ${problem}` }] : [];
  });
  const ok = problems.length === 0;
  if (asJson) ctx.out(formatJson({ ok, command: 'plan', plan: planFile, rows: rows.length, errors: problems, overQuota }));
  else {
    ctx.out(ok ? `${printable(planFile)}: ${rows.length} account(s), no problem found\n` : formatErrors(planFile, problems));
    if (overQuota.length > 0) ctx.out(`${overQuota.length} row(s) over their target quota:\n${overQuota.map((each) => `  ${printable(formatAtLine(each))}\n`).join('')}`);
  }
  // 3 as for a plan written without some accounts: the campaign runs the plan, but not those rows.
  ctx.setExitCode(!ok ? ExitCode.usage : overQuota.length > 0 ? ExitCode.partial : ExitCode.ok);
}

function formatErrors(planFile: string, errors: readonly PlanError[]): string {
  return `${printable(planFile)}: ${errors.length} problem(s)\n${errors.map((each) => `  ${printable(formatAtLine(each))}\n`).join('')}`;
}

/** "line 4: …" for a problem of an input line; the message alone for one of no line (line 0: a whole account). */
function formatAtLine(each: PlanError): string {
  return each.line > 0 ? `line ${each.line}: ${each.message}` : each.message;
}

/** A plan is never written over another: an edited plan is someone's work. */
async function writeNewFile(file: string, text: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644);
  } catch (err) {
    if (systemErrorCode(err) === 'EEXIST') throw new UsageError(`${file} exists already: not overwritten`, 'name another plan file, or move the old one away');
    throw err;
  }
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

function parseSizeOption(value: string): number {
  const size = parseSize(value);
  if (!size.ok) throw new InvalidArgumentError(size.reason);
  return size.bytes;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
