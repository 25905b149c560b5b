import { readFile } from 'node:fs/promises';
import { MailshiftError, systemErrorCode, UsageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { formatSpec, parseStoreSpec } from '../stores/spec.js';
import { importImapsyncLines, importM365Csv, type ImportedAccounts } from './import-accounts.js';
import type { PlanRow } from './plan-file.js';

/**
 * Where a plan comes from (`mailshift plan`): a discover of a cPanel root, mapped to a target root here or over ssh;
 * or an account list in imapsync's or Microsoft 365's format. Each gives rows, the passwords it read (for the
 * credentials file), and what it could not use, with line numbers.
 */
export type PlanSource =
  | { readonly from: 'cpanel'; readonly root: string; readonly target: string; readonly users?: readonly string[] }
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
 * One row per account, to the same user under the target root (the order to run them in is decided when they run). The group is the source host ('local'
 * here): accounts read from one server share its limit.
 */
async function planFromCpanel(source: Extract<PlanSource, { from: 'cpanel' }>, signal?: AbortSignal): Promise<ImportedAccounts> {
  const targetRoot = decideTargetRoot(source.target);
  const { runDiscover } = await import('../discover/run.js');
  const document = await runDiscover(source.root, { ...(source.users ? { users: source.users } : {}), ...(signal ? { signal } : {}) });
  const sourceRoot = formatSpec(parseStoreSpec(`cpanel:${source.root}#x`)).replace(/^cpanel:/, '').replace(/#x$/, '');
  const rows: PlanRow[] = document.accounts.map((account, index) => ({
    id: account.user,
    source: `cpanel:${sourceRoot}#${account.user}`,
    target: `cpanel:${targetRoot}#${account.user}`,
    group: 'local',
    priority: 0,
    line: index + 1,
  }));
  return { rows, secrets: new Map(), errors: [], warnings: [] };
}

/** `--to`: a root here or over ssh (`/srv/new`, `cpanel:/srv/new`, `ssh://host/`), as the text after `cpanel:`. */
function decideTargetRoot(text: string): string {
  const bare = text.replace(/^cpanel:/, '');
  if (/^imaps?:\/\//i.test(bare)) {
    throw new UsageError('a plan from a cPanel root to IMAP accounts is not built yet: each mailbox needs its own IMAP login', 'give a target root here or over ssh (--to /srv/new or --to ssh://new.example.com/), or import an account list (--from-imapsync, --from-m365)');
  }
  if (bare.includes('#')) throw new UsageError(`--to ${text}: give the target root only; the plan adds #USER to each row`);
  const spec = parseStoreSpec(`cpanel:${bare}#x`);
  return formatSpec(spec).replace(/^cpanel:/, '').replace(/#x$/, '');
}

async function readListFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new MailshiftError('MAILSHIFT_SOURCE_OPEN', `cannot read ${file}: ${systemErrorCode(err) ?? String(err)}`, { exitCode: ExitCode.config, cause: err });
  }
}
