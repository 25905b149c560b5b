import { readFile } from 'node:fs/promises';
import { MailshiftError, systemErrorCode, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import path from 'node:path';
import { formatSpec, parseStoreSpec, type ImapSpec } from '../stores/spec.js';
import { importImapsyncLines, importM365Csv, type ImportedAccounts } from './import-accounts.js';
import { findQuotaProblem, findRowProblems, planFirstRowLine, type PlanError, type PlanRow } from './plan-file.js';

/**
 * Where a plan comes from (`mailshift plan`): a discover of a cPanel root, mapped to a target root here or over ssh;
 * or an account list in imapsync's or Microsoft 365's format. Each gives rows, the passwords it read (for the
 * credentials file), and what it could not use, with line numbers.
 */
export type PlanSource =
  | { readonly from: 'cpanel'; readonly root: string; readonly target: string; readonly users?: readonly string[]; readonly targetQuotaBytes?: number }
  | { readonly from: 'imapsync'; readonly file: string; readonly host1?: string; readonly host2?: string }
  | { readonly from: 'm365'; readonly file: string; readonly sourceHost: string; readonly targetHost?: string };

export async function readPlanSource(source: PlanSource, signal?: AbortSignal): Promise<ImportedAccounts> {
  switch (source.from) {
    case 'imapsync':
      return importImapsyncLines(await readListFile(source.file), { ...(source.host1 ? { host1: source.host1 } : {}), ...(source.host2 ? { host2: source.host2 } : {}) });
    case 'm365':
      return importM365Csv(await readListFile(source.file), { sourceHost: source.sourceHost, ...(source.targetHost ? { targetHost: source.targetHost } : {}) });
    case 'cpanel':
      return planFromCpanel(source, signal);
  }
}

/**
 * One row per account, to the same user under the target root (the order to run them in is decided when they run);
 * or, to an IMAP server, one row per mailbox, logging in as its address.
 * Accounts discover found and did not read (an unsafe name, a cPanel user file that is a link) are listed as not
 * planned, never left out in silence; each row is judged by the plan's own rules. The group is 'local': discover
 * reads a root on this machine.
 */
async function planFromCpanel(source: Extract<PlanSource, { from: 'cpanel' }>, signal?: AbortSignal): Promise<ImportedAccounts> {
  const imapTarget = readImapTarget(source.target);
  const targetRoot = imapTarget ? undefined : formatCpanelRoot(source.target, '--to');
  const sourceRoot = formatCpanelRoot(source.root, '--from-cpanel');
  const { runDiscover } = await import('../discover/run.js');
  const document = await runDiscover(source.root, { ...(source.users ? { users: source.users } : {}), ...(signal ? { signal } : {}) });
  // Warnings about the server itself (no account named) are accounts discover could not take: not planned.
  const errors: PlanError[] = document.warnings.filter((each) => each.account === null).map((each) => ({ line: 0, message: `not planned: ${each.path !== null ? `${each.path}: ` : ''}${each.message}` }));
  const rows: PlanRow[] = [];
  const addRow = (row: PlanRow, name: string) => {
    const problems = findRowProblems(row);
    if (problems.length > 0) errors.push(...problems.map((message) => ({ line: 0, message: `${name}: not planned: ${message}` })));
    else rows.push(row);
  };
  for (const account of document.accounts) {
    // An account kept in mbox or mdbox has no maildir files to move: copying them as they are would hand the new
    // server mail it cannot read. Said here, so the admin converts it first (or plans its mailboxes by hand).
    const notMaildir = account.mailboxes.find((mailbox) => mailbox.format === 'mbox' || mailbox.format === 'mdbox');
    if (notMaildir) {
      const how = notMaildir.format === 'mbox' ? 'convert it first (mailshift convert MBOX MAILDIR), or add a row per mbox mailbox with the mbox as source and a maildir as target' : 'copy it over IMAP (a row with an imaps:// source) or convert it to maildir on the server first';
      errors.push({ line: 0, message: `${account.user}: not planned: ${notMaildir.address} is ${notMaildir.format}, not maildir: ${how}` });
      continue;
    }
    if (imapTarget) {
      // Each mailbox is its own IMAP login on the new server: one row per mailbox, its maildir read here.
      for (const mailbox of account.mailboxes) {
        if (mailbox.onDisk !== 'dir') {
          errors.push({ line: 0, message: `${mailbox.address}: not planned: its maildir is ${mailbox.onDisk === 'missing' ? 'missing' : 'not a directory'} (${mailbox.path})` });
          continue;
        }
        const row: PlanRow = {
          id: mailbox.address,
          source: path.join(sourceRoot, mailbox.path),
          target: formatSpec({ ...imapTarget, user: mailbox.address }),
          group: 'local',
          priority: 0,
          targetCredential: mailbox.address,
          sizeBytes: mailbox.sizeBytes,
          largestBytes: mailbox.sizeBytes,
          ...(source.targetQuotaBytes !== undefined ? { quotaBytes: source.targetQuotaBytes } : {}),
          line: rows.length + 1,
        };
        addRow(row, mailbox.address);
      }
      continue;
    }
    addRow(
      {
        id: account.user,
        source: `cpanel:${sourceRoot}#${account.user}`,
        target: `cpanel:${targetRoot}#${account.user}`,
        group: 'local',
        priority: 0,
        sizeBytes: account.totals.sizeBytes,
        largestBytes: Math.max(0, ...account.mailboxes.map((mailbox) => mailbox.sizeBytes)),
        ...(source.targetQuotaBytes !== undefined ? { quotaBytes: source.targetQuotaBytes } : {}),
        line: rows.length + 1,
      },
      account.user,
    );
  }
  // Rows too big for the target quota are planned (the admin may raise the quota in the plan) and named now, with
  // the line they will have: the campaign refuses them when their turn comes.
  const warnings = rows.flatMap((row, index) => {
    const problem = findQuotaProblem(row);
    return problem ? [{ line: index + planFirstRowLine, message: `${row.id}: ${problem}` }] : [];
  });
  // The new server's passwords are not on the old one: the admin adds them, under the names the rows give.
  if (imapTarget && rows.length > 0) {
    warnings.push({ line: 0, message: `the ${rows.length} row(s) log in to ${imapTarget.host} as their address: add each address with its password to the credentials file ({ "version": 1, "credentials": { "ADDRESS": "PASSWORD" } }, mode 0600) before the campaign runs` });
  }
  return { rows, secrets: new Map(), errors, warnings };
}

/** `--to imaps://mail.new.example[:port]`: the IMAP server every mailbox logs in to (a user in it is refused). */
function readImapTarget(text: string): ImapSpec | undefined {
  if (!/^imaps?:\/\//i.test(text)) return undefined;
  const withUser = text.replace(/^(imaps?:\/\/)/i, '$1placeholder@');
  if (/^imaps?:\/\/[^/]*@[^/]*@/i.test(withUser)) throw new UsageError(`--to ${text}: give the server only (imaps://host[:port]); each row logs in as its mailbox's address`);
  const spec = parseStoreSpec(withUser);
  if (spec.kind !== 'imap') throw new UsageError(`--to ${text} is not an IMAP server`);
  return spec;
}

/** A cPanel root as a spec shows it (`/srv/new`, `ssh://host/`), from `ROOT` or `cpanel:ROOT`; never with `#USER`. */
function formatCpanelRoot(text: string, option: string): string {
  const bare = text.replace(/^cpanel:/, '');
  if (bare.includes('#')) throw new UsageError(`${option} ${text}: give the root only; the plan adds #USER to each row`);
  return formatSpec(parseStoreSpec(`cpanel:${bare}#x`)).replace(/^cpanel:/, '').replace(/#x$/, '');
}

async function readListFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new MailshiftError('MAILSHIFT_SOURCE_OPEN', `cannot read ${file}: ${systemErrorCode(err) ?? String(err)}`, { exitCode: ExitCode.config, cause: err });
  }
}
